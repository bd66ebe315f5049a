// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {TestToken} from "../../contracts/mocks/TestToken.sol";
import {MockRandomness} from "../../contracts/mocks/MockRandomness.sol";

/// @notice Drives random job life cycles across six actors who are users, generators and verifiers at
/// once, plus a keeper for the permissionless calls. It owns the pool, so it also changes parameters
/// while jobs are open. Every call it makes is one that should succeed (or, for drawVerifier, fail
/// only with StakePoolNoEligibleVerifier); anything else is counted in `unexpectedReverts`.
contract StakePoolHandler is Test {
    uint256 internal constant BPS = 10_000;

    StakePool public pool;
    TestToken public token;
    MockRandomness public rnd;
    address[] public actors;
    address public keeper = address(0xBEEF);
    uint256[] public jobIds;

    /// @dev The bitmap each stage's verifier submitted, to let later verifiers agree with it.
    mapping(uint256 jobId => mapping(uint256 stage => bytes)) internal submitted;

    uint256 public ghostIn; // tokens transferred into the pool
    uint256 public ghostOut; // tokens transferred out of it
    uint256 public unexpectedReverts;
    bytes public lastUnexpected;
    uint256 public settled;

    constructor() {
        token = new TestToken();
        rnd = new MockRandomness();
        pool = new StakePool(
            token,
            address(this),
            IStakePool.Params({
                alphaBps: 10_000,
                betaBps: 20_000,
                commitWindow: 1 days,
                challengeWindow: 1 days,
                verifyWindow: 1 days,
                drawWindow: 1 days,
                maxStages: 5, // more stages than eligible verifiers: reaches AwaitingVerifier
                unbondDelay: 1 days,
                minBond: 1e18
            }),
            rnd
        );
        for (uint256 i; i < 6; ++i) {
            address a = address(uint160(0xA000 + i));
            actors.push(a);
            // everyone starts as a bonded verifier, so that challenges can find one
            _fund(a, 100e18);
            vm.prank(a);
            pool.bond(100e18);
            ghostIn += 100e18;
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _unexpected(bytes memory reason) internal {
        unexpectedReverts++;
        lastUnexpected = reason;
    }

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(pool), amount);
    }

    /// @dev The first job from `seed` on (wrapping) that is in `state`, or 0.
    function _findJob(uint256 seed, IStakePool.State state) internal view returns (uint256) {
        uint256 n = jobIds.length;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[(start + i) % n];
            if (pool.getJob(id).state == state) return id;
        }
        return 0;
    }

    function _warpPast(uint256 deadline) internal {
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
    }

    function _isFinal(IStakePool.State s) internal pure returns (bool) {
        return uint8(s) >= uint8(IStakePool.State.Finalized);
    }

    function _countSettlement(uint256 jobId) internal {
        if (_isFinal(pool.getJob(jobId).state)) settled++;
    }

    // ------------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------------

    function bond(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        (IStakePool.Params memory p,) = pool.params();
        uint256 current = pool.bondOf(a).bond;
        amount = bound(amount, 1, 200e18);
        if (current + amount < p.minBond) amount = p.minBond - current;
        _fund(a, amount);
        vm.prank(a);
        try pool.bond(amount) {
            ghostIn += amount;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function requestUnbond(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 b = pool.bondOf(a).bond;
        if (b == 0) return;
        (IStakePool.Params memory p,) = pool.params();
        amount = bound(amount, 1, b);
        uint256 rest = b - amount;
        if (rest != 0 && rest < p.minBond) amount = b;
        vm.prank(a);
        try pool.requestUnbond(amount) {}
        catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function withdrawUnbonded(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        IStakePool.BondView memory b = pool.bondOf(a);
        if (b.unbonding == 0) return;
        if (block.timestamp < b.unbondReadyAt) vm.warp(b.unbondReadyAt);
        vm.prank(a);
        try pool.withdrawUnbonded() returns (uint256 amount) {
            ghostOut += amount;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function withdraw(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        if (pool.creditOf(a) == 0) return;
        vm.prank(a);
        try pool.withdraw() returns (uint256 amount) {
            ghostOut += amount;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function openJob(uint256 userSeed, uint256 genSeed, uint256 cg, uint256 cv) external {
        address u = _actor(userSeed);
        address g = _actor(genSeed);
        if (g == u) g = _actor(userSeed + 1);
        cg = bound(cg, BPS, 50e18);
        cv = bound(cv, BPS, 10e18);
        (IStakePool.Params memory p,) = pool.params();
        uint256 deposit = cg * p.alphaBps / BPS + cv * p.alphaBps / BPS;
        _fund(u, deposit);
        vm.prank(u);
        try pool.openJob(g, keccak256(abi.encode(userSeed)), cg, cv, bytes32(0), "") returns (uint256 jobId) {
            jobIds.push(jobId);
            ghostIn += deposit;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function commit(uint256 jobSeed, uint256 numChecks) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Open);
        if (id == 0) return;
        IStakePool.JobView memory j = pool.getJob(id);
        if (block.timestamp > j.deadline) return; // too late; cancel() will pick it up
        numChecks = bound(numChecks, 1, 64);
        _fund(j.generator, j.betaCg);
        vm.prank(j.generator);
        try pool.commit(id, keccak256(abi.encode(id)), uint32(numChecks), "ipfs://receipt") {
            ghostIn += j.betaCg;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function cancel(uint256 jobSeed) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Open);
        if (id == 0) return;
        _warpPast(pool.getJob(id).deadline);
        vm.prank(keeper);
        try pool.cancel(id) {
            settled++;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function finalize(uint256 jobSeed) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Committed);
        if (id == 0) return;
        _warpPast(pool.getJob(id).deadline);
        vm.prank(keeper);
        try pool.finalize(id) {
            settled++;
        } catch (bytes memory r) {
            _unexpected(r);
        }
    }

    function challenge(uint256 jobSeed, uint256 r) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Committed);
        if (id == 0) return;
        IStakePool.JobView memory j = pool.getJob(id);
        if (block.timestamp > j.deadline) return;
        rnd.set(r);
        vm.prank(j.user);
        try pool.challenge(id) {}
        catch (bytes memory reason) {
            _unexpected(reason);
        }
    }

    function submitResult(uint256 jobSeed, uint256 choice, uint256 r) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Verifying);
        if (id == 0) return;
        IStakePool.JobView memory j = pool.getJob(id);
        if (block.timestamp > j.deadline) return;
        (uint8 k, address v,) = pool.currentStage(id);
        uint256 n = j.numChecks;
        bytes memory bitmap = new bytes((n + 7) / 8);
        choice = choice % 4; // 0: the claim, 1: agree with an earlier verifier, 2-3: one miss
        if (choice == 1 && k >= 2) {
            bitmap = submitted[id][bound(r, 1, k - 1)];
        } else {
            uint256 missing = choice == 0 ? type(uint256).max : r % n;
            for (uint256 i; i < n; ++i) {
                if (i != missing) bitmap[i / 8] |= bytes1(uint8(0x80) >> (i % 8));
            }
        }
        submitted[id][k] = bitmap;
        rnd.set(r >> 8);
        vm.prank(v);
        try pool.submitResult(id, bitmap) {
            _countSettlement(id);
        } catch (bytes memory reason) {
            _unexpected(reason);
        }
    }

    function timeoutVerifier(uint256 jobSeed, uint256 r) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.Verifying);
        if (id == 0) return;
        _warpPast(pool.getJob(id).deadline);
        rnd.set(r);
        vm.prank(keeper);
        try pool.timeoutVerifier(id) {}
        catch (bytes memory reason) {
            _unexpected(reason);
        }
    }

    function drawVerifier(uint256 jobSeed, uint256 r) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.AwaitingVerifier);
        if (id == 0) return;
        if (block.timestamp > pool.getJob(id).deadline) return;
        rnd.set(r);
        vm.prank(keeper);
        try pool.drawVerifier(id) {}
        catch (bytes memory reason) {
            if (bytes4(reason) != IStakePool.StakePoolNoEligibleVerifier.selector) _unexpected(reason);
        }
    }

    function timeoutDraw(uint256 jobSeed) external {
        uint256 id = _findJob(jobSeed, IStakePool.State.AwaitingVerifier);
        if (id == 0) return;
        _warpPast(pool.getJob(id).deadline);
        vm.prank(keeper);
        try pool.timeoutDraw(id) {
            settled++;
        } catch (bytes memory reason) {
            _unexpected(reason);
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 12 hours));
    }

    /// @notice Move one live job a step along its happy path (commit, challenge, submit, draw), so that
    /// the random sequences reach deep states often.
    function advance(uint256 jobSeed, uint256 choice, uint256 r) external {
        uint256 n = jobIds.length;
        if (n == 0) return;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[(jobSeed + i) % n];
            IStakePool.State st = pool.getJob(id).state;
            if (st == IStakePool.State.Open) return this.commit(_seedFor(id), r);
            if (st == IStakePool.State.Committed) {
                return this.challenge(_seedFor(id), r);
            }
            if (st == IStakePool.State.Verifying) {
                return this.submitResult(_seedFor(id), choice, r);
            }
            if (st == IStakePool.State.AwaitingVerifier) {
                return this.drawVerifier(_seedFor(id), r);
            }
        }
    }

    /// @dev A seed that makes `_findJob(seed, state)` return `id` (its index in `jobIds`).
    function _seedFor(uint256 id) internal view returns (uint256) {
        uint256 n = jobIds.length;
        for (uint256 i; i < n; ++i) {
            if (jobIds[i] == id) return i;
        }
        return 0;
    }

    function setParams(uint256 seed) external {
        uint256 alpha = bound(seed, 1, 30_000);
        uint256 beta = bound(seed >> 32, alpha, 60_000);
        IStakePool.Params memory p = IStakePool.Params({
            alphaBps: uint32(alpha),
            betaBps: uint32(beta),
            commitWindow: uint32(bound(seed >> 64, 1 minutes, 2 days)),
            challengeWindow: uint32(bound(seed >> 96, 1 minutes, 2 days)),
            verifyWindow: uint32(bound(seed >> 128, 1 minutes, 2 days)),
            drawWindow: uint32(bound(seed >> 160, 1 minutes, 2 days)),
            maxStages: uint8(bound(seed >> 192, 1, 6)),
            unbondDelay: uint32(bound(seed >> 200, 0, 3 days)),
            minBond: uint96(bound(seed >> 224, 1, 50e18))
        });
        try pool.setParams(p) {}
        catch (bytes memory reason) {
            _unexpected(reason);
        }
    }

    /// @notice The selectors the invariant runner may call.
    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](17);
        s[15] = this.advance.selector;
        s[16] = this.advance.selector;
        s[0] = this.bond.selector;
        s[1] = this.requestUnbond.selector;
        s[2] = this.withdrawUnbonded.selector;
        s[3] = this.withdraw.selector;
        s[4] = this.openJob.selector;
        s[5] = this.commit.selector;
        s[6] = this.cancel.selector;
        s[7] = this.finalize.selector;
        s[8] = this.challenge.selector;
        s[9] = this.submitResult.selector;
        s[10] = this.timeoutVerifier.selector;
        s[11] = this.drawVerifier.selector;
        s[12] = this.timeoutDraw.selector;
        s[13] = this.warp.selector;
        s[14] = this.setParams.selector;
    }
}

/// @notice Invariants of the pool under random life cycles (see {StakePoolHandler}).
contract StakePoolInvariantTest is Test {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    StakePoolHandler internal handler;
    StakePool internal pool;
    TestToken internal token;

    function setUp() public {
        handler = new StakePoolHandler();
        pool = handler.pool();
        token = handler.token();
    }

    /// @notice Only the handler is called by the invariant runner...
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// @notice ... and only its actions.
    function targetSelectors() public view returns (FuzzSelector[] memory t) {
        t = new FuzzSelector[](1);
        t[0] = FuzzSelector({addr: address(handler), selectors: handler.selectors()});
    }

    /// @notice The pool's token balance is exactly what open jobs hold, plus credits, plus bonds
    /// (bonded and unbonding), and exactly what went in minus what went out.
    function invariant_pool_solvency() public view {
        uint256 escrow;
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) {
            escrow += pool.escrowOf(handler.jobIds(i));
        }
        uint256 credits = pool.creditOf(handler.keeper());
        uint256 bonds;
        uint256 m = handler.actorCount();
        for (uint256 i; i < m; ++i) {
            address a = handler.actors(i);
            credits += pool.creditOf(a);
            IStakePool.BondView memory b = pool.bondOf(a);
            bonds += b.bond + b.unbonding;
            assertTrue(b.listed == (b.bond != 0), "a verifier is listed exactly while its bond is positive");
        }
        assertEq(pool.verifierCount(), _listedActors(), "the verifier set holds exactly the bonded actors");
        uint256 balance = token.balanceOf(address(pool));
        assertEq(balance, escrow + credits + bonds, "balance == open pools + credits + bonds");
        assertEq(balance, handler.ghostIn() - handler.ghostOut(), "balance == in - out");
    }

    function _listedActors() internal view returns (uint256 count) {
        uint256 m = handler.actorCount();
        for (uint256 i; i < m; ++i) {
            if (pool.bondOf(handler.actors(i)).listed) ++count;
        }
    }

    /// @notice Every job that is not final has a deadline within reach, and once it has passed a
    /// stranger can move the job on (cancel / finalize / timeoutVerifier / timeoutDraw). Checked by
    /// doing it on a snapshot and rolling back.
    function invariant_no_stuck_job() public {
        uint256 n = handler.jobCount();
        address stranger = address(0xD00D);
        for (uint256 i; i < n; ++i) {
            uint256 id = handler.jobIds(i);
            IStakePool.JobView memory j = pool.getJob(id);
            if (uint8(j.state) >= uint8(IStakePool.State.Finalized)) {
                assertEq(j.deadline, 0, "final jobs have no deadline");
                assertEq(j.escrow, 0, "final jobs hold nothing");
                continue;
            }
            assertTrue(j.deadline != 0, "a live job has a deadline");
            assertLe(j.deadline, block.timestamp + 30 days, "the deadline is within reach");
            uint256 snap = vm.snapshotState();
            if (block.timestamp <= j.deadline) vm.warp(uint256(j.deadline) + 1);
            vm.prank(stranger);
            bool ok;
            if (j.state == IStakePool.State.Open) {
                (ok,) = address(pool).call(abi.encodeCall(pool.cancel, (id)));
            } else if (j.state == IStakePool.State.Committed) {
                (ok,) = address(pool).call(abi.encodeCall(pool.finalize, (id)));
            } else if (j.state == IStakePool.State.Verifying) {
                (ok,) = address(pool).call(abi.encodeCall(pool.timeoutVerifier, (id)));
            } else {
                (ok,) = address(pool).call(abi.encodeCall(pool.timeoutDraw, (id)));
            }
            assertTrue(ok, "a stranger can move a live job on after its deadline");
            IStakePool.State after_ = pool.getJob(id).state;
            assertTrue(after_ != j.state || j.state == IStakePool.State.Verifying, "the job moved on");
            vm.revertToState(snap);
        }
    }

    /// @notice Every call the handler made that should have succeeded did.
    function invariant_no_unexpected_reverts() public view {
        assertEq(handler.unexpectedReverts(), 0, "unexpected reverts");
    }
}
