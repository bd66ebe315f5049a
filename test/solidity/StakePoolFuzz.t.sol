// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {TestToken} from "../../contracts/mocks/TestToken.sol";
import {MockRandomness} from "../../contracts/mocks/MockRandomness.sol";

/// @notice Fuzz tests over α, β, Cg, Cv, the number of checks, the stage k and the outcome: every
/// settlement pays out exactly what the job held, to the wei, and the user never pays more than αCv
/// for verification.
contract StakePoolFuzzTest is Test {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant VERIFIERS = 20;

    enum Outcome {
        NoChallenge,
        Cancel,
        GeneratorUpheld,
        VerifierUpheld,
        Stalemate,
        NoVerifierInTime
    }

    TestToken internal token;
    MockRandomness internal rnd;
    StakePool internal pool;

    address internal user = address(0x1001);
    address internal generator = address(0x1002);
    address internal keeper = address(0x1003);
    address[] internal verifiers;

    // Per-run bookkeeping of what went into the job.
    uint256 internal deposited;
    uint256 internal nextPick; // index into the verifier list for the next draw
    uint256 internal forfeits;

    struct Case {
        uint256 alphaBps;
        uint256 betaBps;
        uint256 cg;
        uint256 cv;
        uint256 numChecks;
        uint256 maxStages;
        uint256 k;
        uint256 agreed;
        Outcome outcome;
        uint256 noShowStage; // 0 = none
    }

    function setUp() public {
        token = new TestToken();
        rnd = new MockRandomness();
        for (uint256 i; i < VERIFIERS; ++i) {
            verifiers.push(address(uint160(0x2001 + i)));
        }
    }

    function _params(uint256 alphaBps, uint256 betaBps, uint256 maxStages)
        internal
        pure
        returns (IStakePool.Params memory)
    {
        return IStakePool.Params({
            alphaBps: uint32(alphaBps),
            betaBps: uint32(betaBps),
            commitWindow: 1 hours,
            challengeWindow: 1 hours,
            verifyWindow: 1 hours,
            drawWindow: 1 days,
            maxStages: uint8(maxStages),
            unbondDelay: 1 days,
            minBond: 1
        });
    }

    function _cost(uint256 seed, uint256 alphaBps, uint256 betaBps) internal pure returns (uint256) {
        uint256 lo = (BPS + alphaBps - 1) / alphaBps; // smallest cost with a non-zero alpha amount
        uint256 hiA = uint256(type(uint80).max) * BPS / alphaBps;
        uint256 hiB = uint256(type(uint88).max) * BPS / betaBps;
        uint256 hi = hiA < hiB ? hiA : hiB;
        // Half the runs use small costs, where rounding matters most.
        if (seed & 1 == 0) {
            uint256 smallHi = lo + 1_000_000 < hi ? lo + 1_000_000 : hi;
            return bound(seed >> 1, lo, smallHi);
        }
        return bound(seed >> 1, lo, hi);
    }

    function _deploy(Case memory c) internal {
        pool = new StakePool(token, address(this), _params(c.alphaBps, c.betaBps, c.maxStages), rnd);
        (,,, uint256 betaCv) = _amounts(c);
        for (uint256 i; i < VERIFIERS; ++i) {
            address v = verifiers[i];
            uint256 b = betaCv + 1; // never hits zero, so the list order never changes
            token.mint(v, b);
            vm.startPrank(v);
            token.approve(address(pool), b);
            pool.bond(b);
            vm.stopPrank();
        }
        deposited = 0;
        nextPick = 0;
        forfeits = 0;
    }

    function _amounts(Case memory c)
        internal
        pure
        returns (uint256 alphaCg, uint256 alphaCv, uint256 betaCg, uint256 betaCv)
    {
        alphaCg = c.cg * c.alphaBps / BPS;
        alphaCv = c.cv * c.alphaBps / BPS;
        betaCg = c.cg * c.betaBps / BPS;
        betaCv = c.cv * c.betaBps / BPS;
    }

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(pool), amount);
    }

    /// @dev Make the next draw pick the next unused verifier.
    function _pickNext() internal {
        rnd.set(nextPick++);
    }

    function _bitmap(uint256 n, uint256 missing) internal pure returns (bytes memory b) {
        b = new bytes((n + 7) / 8);
        for (uint256 i; i < n; ++i) {
            if (i != missing) b[i / 8] |= bytes1(uint8(0x80) >> (i % 8));
        }
    }

    function _submit(uint256 jobId, bytes memory bitmap) internal {
        (, address v,) = pool.currentStage(jobId);
        vm.prank(v);
        pool.submitResult(jobId, bitmap);
    }

    function _sumCredits() internal view returns (uint256 sum) {
        sum = pool.creditOf(user) + pool.creditOf(generator) + pool.creditOf(keeper);
        for (uint256 i; i < VERIFIERS; ++i) {
            sum += pool.creditOf(verifiers[i]);
        }
    }

    function _sumBonds() internal view returns (uint256 sum) {
        for (uint256 i; i < VERIFIERS; ++i) {
            IStakePool.BondView memory b = pool.bondOf(verifiers[i]);
            sum += b.bond + b.unbonding;
        }
    }

    function testFuzz_settlementPaysOutExactlyThePool(
        uint256 alphaSeed,
        uint256 betaSeed,
        uint256 cgSeed,
        uint256 cvSeed,
        uint256 checksSeed,
        uint256 stagesSeed,
        uint256 kSeed,
        uint256 outcomeSeed,
        uint256 noShowSeed
    ) public {
        Case memory c;
        c.alphaBps = bound(alphaSeed, 1, 100_000);
        c.betaBps = bound(betaSeed, c.alphaBps, 1_000_000);
        c.cg = _cost(cgSeed, c.alphaBps, c.betaBps);
        c.cv = _cost(cvSeed, c.alphaBps, c.betaBps);
        c.numChecks = bound(checksSeed, 16, 600);
        c.maxStages = bound(stagesSeed, 1, 16);
        c.outcome = Outcome(bound(outcomeSeed, 0, 5));
        if (c.outcome == Outcome.VerifierUpheld && c.maxStages == 1) c.outcome = Outcome.GeneratorUpheld;
        if (c.outcome == Outcome.Stalemate) c.k = c.maxStages;
        else if (c.outcome == Outcome.VerifierUpheld) c.k = bound(kSeed, 2, c.maxStages);
        else c.k = bound(kSeed, 1, c.maxStages);
        if (c.outcome == Outcome.VerifierUpheld) c.agreed = bound(kSeed >> 8, 1, c.k - 1);
        // a no-show at some stage <= k for the outcomes that have stages (0 = none)
        if (c.outcome >= Outcome.GeneratorUpheld) c.noShowStage = bound(noShowSeed, 0, c.k);

        _deploy(c);
        (uint256 aG, uint256 aV, uint256 bG, uint256 bV) = _amounts(c);
        assertTrue(bV >= aV, "beta >= alpha gives betaCv >= alphaCv");

        uint256 userStart = aG + aV;
        _fund(user, userStart);
        vm.prank(user);
        uint256 jobId = pool.openJob(generator, keccak256("model"), c.cg, c.cv, bytes32(0), "");
        deposited += userStart;
        assertEq(pool.escrowOf(jobId), deposited, "escrow after open");

        if (c.outcome == Outcome.Cancel) {
            vm.warp(block.timestamp + 1 hours + 1);
            vm.prank(keeper);
            pool.cancel(jobId);
            _checkSettled(jobId, c, aG, aV);
            assertEq(pool.creditOf(user), userStart, "cancel refunds the user in full");
            return;
        }

        _fund(generator, bG);
        vm.prank(generator);
        pool.commit(jobId, keccak256("root"), uint32(c.numChecks), "uri");
        deposited += bG;
        assertEq(pool.escrowOf(jobId), deposited, "escrow after commit");

        if (c.outcome == Outcome.NoChallenge) {
            vm.warp(block.timestamp + 1 hours + 1);
            vm.prank(keeper);
            pool.finalize(jobId);
            _checkSettled(jobId, c, aG, aV);
            assertEq(pool.creditOf(generator), aG + bG, "no challenge: generator");
            assertEq(pool.creditOf(user), aV, "no challenge: user");
            return;
        }

        if (c.outcome == Outcome.NoVerifierInTime && c.k == 1) _emptyVerifierSet();
        else _pickNext();
        vm.prank(user);
        pool.challenge(jobId);
        address[] memory staked = new address[](c.k);
        bytes memory claim = _bitmap(c.numChecks, type(uint256).max);

        for (uint256 s = 1; s <= c.k; ++s) {
            if (c.outcome == Outcome.NoVerifierInTime && s == c.k) break;
            (, address v,) = pool.currentStage(jobId);
            deposited += bV; // v's stake was locked into the job when it was drawn
            if (s == c.noShowStage) {
                vm.warp(block.timestamp + 1 hours + 1);
                _pickNext();
                vm.prank(keeper);
                pool.timeoutVerifier(jobId);
                deposited -= bV; // forfeited to the user
                forfeits += bV;
                (, v,) = pool.currentStage(jobId);
                deposited += bV;
            }
            staked[s - 1] = v;
            assertEq(pool.escrowOf(jobId), deposited, "escrow with verifiers");
            if (s < c.k) {
                // Arrange the next draw: on the last-but-one stage of NoVerifierInTime, make the next
                // draw find nobody by unbonding every remaining verifier.
                if (c.outcome == Outcome.NoVerifierInTime && s + 1 == c.k) {
                    _emptyVerifierSet();
                } else {
                    _pickNext();
                }
                _submit(jobId, _bitmap(c.numChecks, s - 1)); // distinct, matches nobody
            } else if (c.outcome == Outcome.GeneratorUpheld) {
                _submit(jobId, claim);
            } else if (c.outcome == Outcome.VerifierUpheld) {
                _submit(jobId, _bitmap(c.numChecks, c.agreed - 1));
            } else {
                _submit(jobId, _bitmap(c.numChecks, s - 1)); // Stalemate at maxStages
            }
        }
        if (c.outcome == Outcome.NoVerifierInTime) {
            assertEq(uint256(pool.getJob(jobId).state), uint256(IStakePool.State.AwaitingVerifier), "awaiting");
            vm.warp(block.timestamp + 1 days + 1);
            vm.prank(keeper);
            pool.timeoutDraw(jobId);
        }
        _checkSettled(jobId, c, aG, aV);

        uint256 k = c.k;
        if (c.outcome == Outcome.GeneratorUpheld) {
            assertEq(pool.creditOf(generator), aG + bG, "G upheld: generator (alpha+beta)Cg");
            assertEq(pool.creditOf(staked[k - 1]), aV + k * bV, "G upheld: V_k (alpha+k beta)Cv");
            assertEq(pool.creditOf(user), forfeits, "G upheld: user gets only forfeits");
        } else if (c.outcome == Outcome.VerifierUpheld) {
            assertEq(pool.creditOf(generator), 0, "V upheld: generator loses its stake");
            assertEq(pool.creditOf(user), aG + aV + forfeits, "V upheld: user alpha(Cg+Cv)");
            assertEq(pool.creditOf(staked[c.agreed - 1]), aV + bV, "V upheld: V_j (alpha+beta)Cv");
            assertEq(pool.creditOf(staked[k - 1]), bG + (k - 1) * bV - aV, "V upheld: V_k");
        } else {
            // Stalemate (after maxStages, or no verifier in time): everyone gets back its deposit.
            uint256 withStake = c.outcome == Outcome.Stalemate ? k : k - 1;
            assertEq(pool.creditOf(user), aG + aV + forfeits, "stalemate: user");
            assertEq(pool.creditOf(generator), bG, "stalemate: generator");
            for (uint256 i; i < withStake; ++i) {
                assertEq(pool.creditOf(staked[i]), bV, "stalemate: verifier");
            }
        }
    }

    /// @dev Unbond every verifier that could still be drawn, so that the next draw finds nobody.
    function _emptyVerifierSet() internal {
        for (uint256 i; i < VERIFIERS; ++i) {
            address v = verifiers[i];
            uint256 b = pool.bondOf(v).bond;
            if (b != 0) {
                vm.prank(v);
                pool.requestUnbond(b);
            }
        }
    }

    function _checkSettled(uint256 jobId, Case memory c, uint256 aG, uint256 aV) internal view {
        assertEq(pool.escrowOf(jobId), 0, "a settled job holds nothing");
        // Everything that went in (deposits, including forfeited stakes) is credited, to the wei.
        assertEq(_sumCredits(), deposited + forfeits, "credits == deposits");
        assertEq(token.balanceOf(address(pool)), _sumCredits() + _sumBonds(), "balance == credits + bonds");
        // The user's cost beyond the inference it paid for is at most alphaCv.
        uint256 userCredit = pool.creditOf(user);
        uint256 paidIn = aG + aV;
        bool generatorPaid = c.outcome == Outcome.NoChallenge || c.outcome == Outcome.GeneratorUpheld;
        uint256 cost = paidIn > userCredit ? paidIn - userCredit : 0;
        uint256 service = generatorPaid ? aG : 0;
        assertLe(cost, service + aV, "user pays at most alphaCv for verification");
        if (!generatorPaid) assertGe(userCredit, paidIn, "user loses nothing unless the generator is paid");
    }

    /// @notice The V_k payout of row 4, betaCg + (k-1) betaCv - alphaCv, is never negative when β ≥ α.
    function testFuzz_lastVerifierPayoutNonNegative(uint256 a, uint256 b, uint256 cg, uint256 cv, uint256 k)
        public
        pure
    {
        uint256 alphaBps = bound(a, 1, 100_000);
        uint256 betaBps = bound(b, alphaBps, 1_000_000);
        cg = bound(cg, 1, 1e30);
        cv = bound(cv, 1, 1e30);
        k = bound(k, 2, 16);
        uint256 aV = cv * alphaBps / BPS;
        uint256 bV = cv * betaBps / BPS;
        uint256 bG = cg * betaBps / BPS;
        assertGe(bG + (k - 1) * bV, aV, "betaCg + (k-1) betaCv >= alphaCv");
    }

    /// @notice The claim hash is keccak256 of ceil(n/8) bytes with the first n bits set.
    function testFuzz_claimHash(uint256 n) public {
        n = bound(n, 1, 5000);
        pool = new StakePool(token, address(this), _params(10_000, 20_000, 3), rnd);
        assertEq(pool.claimHash(uint32(n)), keccak256(_bitmap(n, type(uint256).max)), "claim hash");
    }
}
