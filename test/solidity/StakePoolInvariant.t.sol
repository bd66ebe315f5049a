// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StakePoolHandler} from "./utils/StakePoolHandler.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {IVerifierRegistry} from "../../contracts/IVerifierRegistry.sol";
import {TestToken} from "../../contracts/mocks/TestToken.sol";
import {console} from "hardhat/console.sol";

/// @notice Invariants of StakePool v2 under random life cycles driven by {StakePoolHandler}: several
/// users, generators and verifiers (bonded, with declared models) open, commit, cancel, finalize,
/// challenge, draw, commit–answer–reveal results (honest agreement, honest dissent, lazy, copied,
/// malicious), decline, time out, bond, unbond, sync, re-declare models, withdraw and wait.
///
/// Runs: the invariant runner (`invariant_*`, runs × depth from hardhat.config.ts: POC_INVARIANT_RUNS
/// and POC_INVARIANT_DEPTH) and a self-driven, deterministic campaign (`test_campaign…`, which
/// checks the same invariants after every step and prints the call distribution and the final
/// states: POC_CAMPAIGN_RUNS, POC_CAMPAIGN_DEPTH, POC_CAMPAIGN_SEED).
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

    // ------------------------------------------------------------------------------------------------
    // Invariants
    // ------------------------------------------------------------------------------------------------

    /// @notice The pool holds exactly, to the wei: the escrow of every live job + every credit
    /// (including the treasury's) + every verifier's bond, pending bond and unbond requests. Locked
    /// verifier stakes are part of the escrow (a draw moves βCv out of the bond). It also equals the
    /// tokens that went in minus those that came out.
    function invariant_pool_solvency() public view {
        _solvency();
    }

    function _solvency() internal view {
        uint256 escrow;
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) escrow += pool.escrowOf(handler.jobIds(i));
        uint256 credits;
        uint256 m = handler.knownCount();
        for (uint256 i; i < m; ++i) credits += pool.creditOf(handler.known(i));
        uint256 bonds;
        uint256 b = handler.bonderCount();
        for (uint256 i; i < b; ++i) {
            IVerifierRegistry.BondView memory v = pool.bondOf(handler.bonders(i));
            bonds += v.bond + v.pendingBond + v.unbonding;
        }
        uint256 balance = token.balanceOf(address(pool));
        assertEq(balance, escrow + credits + bonds, "balance == escrow of live jobs + credits + bonds");
        assertEq(balance, handler.ghostIn() - handler.ghostOut(), "balance == tokens in - tokens out");
    }

    /// @notice Each job's amounts are the openJob formulas; its escrow equals what it received minus
    /// what it paid out (the handler's own record), its state, stage and deadline are the ones the
    /// rules give; a final job holds nothing, has no deadline and paid out exactly its deposits.
    function invariant_escrow_matches_amounts() public view {
        _escrowMatches();
    }

    function _escrowMatches() internal view {
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) {
            uint256 id = handler.jobIds(i);
            IStakePool.JobView memory j = pool.getJob(id);
            StakePoolHandler.GJob memory g = handler.ghost(id);
            assertEq(j.user, g.user, "user");
            assertEq(j.generator, g.generator, "generator");
            assertEq(pool.modelOf(id), g.model, "model");
            assertEq(j.alphaCg, g.aG, "alphaCg = Cg * alpha / BPS");
            assertEq(j.alphaCv, g.aV, "alphaCv = Cv * alpha / BPS");
            assertEq(j.betaCg, g.bG, "betaCg = Cg * beta / BPS");
            assertEq(j.betaCv, g.bV, "betaCv = Cv * beta / BPS");
            assertEq(j.numChecks, g.numChecks, "numChecks");
            assertEq(uint256(j.state), uint256(g.state), "state as the rules give it");
            assertEq(j.stage, g.stage, "stage");
            assertEq(j.deadline, g.deadline, "deadline");
            assertEq(j.escrow, g.deposits - g.paid, "escrow == deposits received - payouts");
            if (handler.isFinal(g.state)) {
                assertEq(j.escrow, 0, "a final job holds nothing");
                assertEq(g.deposits, g.paid, "a settled job paid out exactly its deposits");
            }
        }
    }

    /// @notice Every address's credit is exactly what Table 1 and the v2 rules gave it (the handler
    /// applies the formulas at each settlement, forfeit and decline, and predicts each reveal's
    /// outcome from the answers): nobody is credited without a matching rule. The handler also saw no
    /// violation of its per-call checks (outcome of each reveal, payouts sum to the escrow, draws only
    /// pick eligible verifiers, lazy and copied results never settle a job in their favour).
    function invariant_table1_payouts() public view {
        _payouts();
    }

    function _payouts() internal view {
        uint256 m = handler.knownCount();
        for (uint256 i; i < m; ++i) {
            address a = handler.known(i);
            assertEq(pool.creditOf(a), handler.expCredit(a), "credit == the formulas' payouts");
        }
        if (handler.violations() != 0) fail(handler.firstViolation());
    }

    /// @notice Verifier bonds (bond + pending), unbond requests and declared models are the ghost's.
    function invariant_bonds_match() public view {
        _bonds();
    }

    function _bonds() internal view {
        uint256 b = handler.bonderCount();
        for (uint256 i; i < b; ++i) {
            address v = handler.bonders(i);
            IVerifierRegistry.BondView memory bv = pool.bondOf(v);
            assertEq(bv.bond + bv.pendingBond, handler.gBond(v), "bond + pending == ghost bond");
            assertEq(bv.unbonding, handler.gUnbonding(v), "unbonding == ghost requests");
            uint8 mask = handler.gModels(v);
            assertEq(pool.serves(v, handler.MODEL_A()) ? 1 : 0, mask & 1, "serves A");
            assertEq(pool.serves(v, handler.MODEL_B()) ? 1 : 0, (mask >> 1) & 1, "serves B");
        }
    }

    /// @notice Each model's sortition tree total is the sum of its members' weights and `active` their
    /// count; a verifier that needs no sync weighs its free bond in the trees of the models it serves
    /// (0 below minBond or elsewhere; after a parameter change moved minBond: its free bond or 0,
    /// since the new minimum applies at its next sync); and outside a draw epoch, after syncing
    /// everyone (on a snapshot), each tree's total is exactly the sum of the drawable bonds (free
    /// bond ≥ the minBond in force) of the verifiers that serve its model.
    function invariant_sortition_matches_bonds() public {
        _sortition();
    }

    function _sortition() internal {
        bytes32[2] memory models = [handler.MODEL_A(), handler.MODEL_B()];
        _treesConsistent(models, false);
        if (pool.drawEpoch().frozen) return;
        uint256 snap = vm.snapshotState();
        uint256 b = handler.bonderCount();
        for (uint256 i; i < b; ++i) pool.sync(handler.bonders(i));
        _treesConsistent(models, true);
        vm.revertToState(snap);
    }

    function _treesConsistent(bytes32[2] memory models, bool allSynced) internal view {
        uint256 b = handler.bonderCount();
        uint256 minBond = handler.minBondNow();
        bool minBondMoved = handler.minBondChanged();
        for (uint256 mi; mi < 2; ++mi) {
            bytes32 m = models[mi];
            (uint256 total, uint256 active) = pool.modelStake(m);
            uint256 sum;
            uint256 count;
            uint256 drawable;
            for (uint256 i; i < b; ++i) {
                address v = handler.bonders(i);
                uint256 w = pool.weightOf(m, v);
                sum += w;
                if (w != 0) ++count;
                IVerifierRegistry.BondView memory bv = pool.bondOf(v);
                uint256 rule = pool.serves(v, m) && bv.bond >= minBond ? bv.bond : 0;
                if (!bv.needsSync) {
                    assertEq(bv.pendingBond, 0, "no pending bond without a sync due");
                    if (!pool.serves(v, m)) assertEq(w, 0, "no weight in a model it does not serve");
                    else if (w != 0) assertEq(w, bv.bond, "a synced verifier weighs its free bond");
                    // minBond applies at each verifier's next sync: exact once it never changed
                    if (!minBondMoved) assertEq(w, rule, "a synced verifier weighs its free bond where it serves");
                }
                drawable += rule;
            }
            assertEq(total, sum, "tree total == sum of weights");
            assertEq(active, count, "tree active == members with weight");
            if (allSynced) assertEq(total, drawable, "tree total == sum of drawable bonds of the model");
        }
    }

    /// @notice Every job that is not final has a deadline within reach, and after it anyone (a
    /// stranger) moves it on: cancel / finalize / timeoutVerifier / timeoutDraw; repeating that after
    /// each new deadline ends every job in at most two steps. Checked on a snapshot; once every job is
    /// final the pool holds exactly credits + bonds. While a stage waits for a draw the queue is not
    /// empty (drawVerifiers can serve it).
    function invariant_no_stuck_job() public {
        _noStuckJob();
    }

    function _noStuckJob() internal {
        uint256 n = handler.jobCount();
        uint256 snap = vm.snapshotState();
        address stranger = address(0xD00D);
        bool anyLive;
        for (uint256 i; i < n; ++i) {
            uint256 id = handler.jobIds(i);
            IStakePool.JobView memory j = pool.getJob(id);
            if (handler.isFinal(j.state)) {
                assertEq(j.deadline, 0, "a final job has no deadline");
                continue;
            }
            anyLive = true;
            if (j.state == IStakePool.State.AwaitingVerifier) {
                IStakePool.DrawEpochView memory e = pool.drawEpoch();
                assertTrue(e.tail > e.head, "a waiting stage is in the draw queue");
            }
            for (uint256 steps; !handler.isFinal(j.state); ++steps) {
                assertTrue(steps < 2, "a job ends within two permissionless steps");
                assertTrue(j.deadline != 0, "a live job has a deadline");
                assertLe(j.deadline, block.timestamp + 4 hours, "the deadline is within reach (windows up to 4 h here)");
                if (block.timestamp <= j.deadline) vm.warp(uint256(j.deadline) + 1);
                bytes memory call_;
                if (j.state == IStakePool.State.Open) call_ = abi.encodeCall(pool.cancel, (id));
                else if (j.state == IStakePool.State.Committed) call_ = abi.encodeCall(pool.finalize, (id));
                else if (j.state == IStakePool.State.AwaitingVerifier) call_ = abi.encodeCall(pool.timeoutDraw, (id));
                else call_ = abi.encodeCall(pool.timeoutVerifier, (id));
                vm.prank(stranger);
                (bool ok, bytes memory ret) = address(pool).call(call_);
                if (!ok) fail(string.concat("the permissionless way forward reverted: ", _hex(ret)));
                j = pool.getJob(id);
            }
        }
        if (anyLive) {
            for (uint256 i; i < n; ++i) assertEq(pool.escrowOf(handler.jobIds(i)), 0, "all settled");
            uint256 credits;
            uint256 m = handler.knownCount();
            for (uint256 i; i < m; ++i) credits += pool.creditOf(handler.known(i));
            uint256 bonds;
            uint256 b = handler.bonderCount();
            for (uint256 i; i < b; ++i) {
                IVerifierRegistry.BondView memory v = pool.bondOf(handler.bonders(i));
                bonds += v.bond + v.pendingBond + v.unbonding;
            }
            assertEq(token.balanceOf(address(pool)), credits + bonds, "after every job ended: balance == credits + bonds");
        }
        vm.revertToState(snap);
    }

    /// @notice Every call the handler made that should have succeeded did.
    function invariant_no_unexpected_reverts() public view {
        _noUnexpected();
    }

    function _noUnexpected() internal view {
        for (uint256 a; a < 21; ++a) {
            if (handler.unexpectedReverts(a) != 0) {
                fail(string.concat("unexpected revert in action ", _name(handler.lastUnexpectedAction()), ": ", _hex(handler.lastUnexpected())));
            }
        }
    }

    /// @dev Every invariant, as an external call so that its memory is freed after each step.
    function checkAll() external {
        _solvency();
        _escrowMatches();
        _payouts();
        _bonds();
        _sortition();
        _noStuckJob();
        _noUnexpected();
    }

    /// @notice After each run of the invariant runner, with POC_INVARIANT_STATS=1: append the run's
    /// counters to cache/invariant-stats.csv (one line per run; columns: calls, ok, skipped, expected
    /// reverts and unexpected reverts for each of the 21 actions in {StakePoolHandler} order, then the
    /// jobs opened and the jobs in each final state 5..12, then verifier draws).
    function afterInvariant() public {
        if (vm.envOr("POC_INVARIANT_STATS", uint256(0)) == 0) return;
        string memory line;
        for (uint256 a; a < 21; ++a) {
            line = string.concat(
                line,
                a == 0 ? "" : ",",
                _str(handler.calls(a)),
                ",",
                _str(handler.oks(a)),
                ",",
                _str(handler.skips(a)),
                ",",
                _str(handler.expectedReverts(a)),
                ",",
                _str(handler.unexpectedReverts(a))
            );
        }
        line = string.concat(line, ",", _str(handler.jobCount()));
        for (uint256 s = 5; s < 13; ++s) line = string.concat(line, ",", _str(handler.finals(s)));
        line = string.concat(line, ",", _str(handler.verifierDraws()));
        vm.writeLine("cache/invariant-stats.csv", line);
    }

    // ------------------------------------------------------------------------------------------------
    // The self-driven campaign: the same invariants after every step, with the figures printed
    // ------------------------------------------------------------------------------------------------

    /// @notice `runs` runs of `depth` steps each (from the state after setUp), actions drawn with the
    /// invariant runner's weights (advance 12 of 32) from keccak of the seed; every invariant after
    /// every step; prints calls / ok / skipped / expected reverts / unexpected reverts per action,
    /// the jobs in each final state and the payouts per verifier behaviour.
    function test_campaign_invariantsHoldAndPrintDistribution() public {
        uint256 runs = vm.envOr("POC_CAMPAIGN_RUNS", uint256(8));
        uint256 depth = vm.envOr("POC_CAMPAIGN_DEPTH", uint256(60));
        uint256 seed = vm.envOr("POC_CAMPAIGN_SEED", uint256(1));
        uint256[105] memory tally; // 5 counters × 21 actions
        uint256[16] memory fin;
        uint256[4] memory rv;
        uint256[4] memory rp;
        uint256[4] memory rs;
        uint256[7] memory other; // jobs, draws, stalemate by draw timeout, at maxStages, self draws, one-tx stages, equivocations
        for (uint256 r; r < runs; ++r) {
            uint256 snap = vm.snapshotState();
            for (uint256 d; d < depth; ++d) {
                uint256 x = uint256(keccak256(abi.encode(seed, r, d)));
                handler.step(x % 32, x >> 8, uint256(keccak256(abi.encode(x, 1))), uint256(keccak256(abi.encode(x, 2))));
                this.checkAll();
            }
            for (uint256 a; a < 21; ++a) {
                tally[a] += handler.calls(a);
                tally[21 + a] += handler.oks(a);
                tally[42 + a] += handler.skips(a);
                tally[63 + a] += handler.expectedReverts(a);
                tally[84 + a] += handler.unexpectedReverts(a);
            }
            for (uint256 s; s < 13; ++s) fin[s] += handler.finals(s);
            for (uint256 b; b < 4; ++b) {
                rv[b] += handler.reveals(b);
                rp[b] += handler.revealPaid(b);
                rs[b] += handler.revealStaked(b);
            }
            other[0] += handler.jobCount();
            other[1] += handler.verifierDraws();
            other[2] += handler.stalemateByDraw();
            other[3] += handler.stalemateAtMax();
            other[4] += handler.selfDraws();
            other[5] += handler.oneTxStages();
            other[6] += handler.equivocations();
            vm.revertToState(snap);
        }
        console.log("campaign: runs=%d depth=%d seed=%d", runs, depth, seed);
        console.log("action              calls     ok  skipped  expected-revert  unexpected-revert");
        for (uint256 a; a < 21; ++a) {
            console.log(
                string.concat(
                    _pad(_name(a), 18),
                    _lpad(tally[a], 7),
                    _lpad(tally[21 + a], 7),
                    _lpad(tally[42 + a], 9),
                    _lpad(tally[63 + a], 17),
                    _lpad(tally[84 + a], 19)
                )
            );
        }
        console.log("jobs opened %d, verifiers drawn %d (%d by a pick's own commitResult)", other[0], other[1], other[4]);
        console.log("stages settled in one transaction (submitResult): %d; equivocations reported: %d", other[5], other[6]);
        // (the one-transaction path must be exercised, not only compiled)
        assertGe(other[5], 1, "one-transaction stages played");
        assertGe(other[6], 1, "equivocation reports played");
        string[13] memory names = [
            "None", "Open", "Committed", "Verifying", "AwaitingVerifier", "Finalized", "Cancelled",
            "GeneratorUpheld", "VerifierUpheld", "Stalemate", "Unverified", "Answering", "GeneratorForfeited"
        ];
        for (uint256 s = 5; s < 13; ++s) {
            if (s == 11) continue;
            console.log(string.concat("final ", names[s], ": ", _str(fin[s])));
        }
        console.log("stalemates: %d by draw timeout, %d at maxStages", other[2], other[3]);
        string[4] memory beh = ["honest", "lazy", "copied", "malicious"];
        for (uint256 b; b < 4; ++b) {
            console.log(
                string.concat(
                    "reveals ", beh[b], ": ", _str(rv[b]), ", paid to the revealer ", _str(rp[b]),
                    " for stakes ", _str(rs[b])
                )
            );
        }
        // (The handler checks each lazy or copied reveal on its own: never a settlement in its favour.)
        for (uint256 a; a < 21; ++a) assertEq(tally[84 + a], 0, "no unexpected reverts");
    }

    // ------------------------------------------------------------------------------------------------
    // Formatting
    // ------------------------------------------------------------------------------------------------

    function _name(uint256 a) internal pure returns (string memory) {
        string[21] memory n = [
            "openJob", "commit", "cancel", "finalize", "challenge", "drawVerifiers", "commitResult",
            "answerFingerprint", "revealResult", "declineAssignment", "timeoutVerifier", "timeoutDraw",
            "bond", "bondFromCredit", "requestUnbond", "withdrawUnbonded", "sync", "setModels", "withdraw", "warp",
            "setParams"
        ];
        return n[a];
    }

    function _str(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) ++len;
        bytes memory b = new bytes(len);
        for (; v != 0; v /= 10) b[--len] = bytes1(uint8(48 + v % 10));
        return string(b);
    }

    function _pad(string memory s, uint256 w) internal pure returns (string memory) {
        bytes memory b = bytes(s);
        while (b.length < w) b = bytes.concat(b, " ");
        return string(b);
    }

    function _lpad(uint256 v, uint256 w) internal pure returns (string memory) {
        bytes memory b = bytes(_str(v));
        while (b.length < w) b = bytes.concat(" ", b);
        return string(b);
    }

    function _hex(bytes memory data) internal pure returns (string memory) {
        bytes memory out = new bytes(2 + 2 * data.length);
        out[0] = "0";
        out[1] = "x";
        bytes16 digits = "0123456789abcdef";
        for (uint256 i; i < data.length; ++i) {
            out[2 + 2 * i] = digits[uint8(data[i]) >> 4];
            out[3 + 2 * i] = digits[uint8(data[i]) & 15];
        }
        return string(out);
    }
}
