// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PoolFixture} from "./utils/PoolFixture.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {IVerifierRegistry} from "../../contracts/IVerifierRegistry.sol";

/// @notice Fuzz tests of StakePool v2 over α, β, Cg, Cv (within the v2 constraints), the number of
/// checks, maxStages, the stage k, the outcome, a no-show and a decline: every settlement pays out
/// exactly what the job held, to the wei, with Table 1's four rows exact and the v2 rules (forfeits
/// and fees to the treasury, Unverified, stalemates) as documented in StakePool's NatSpec.
contract StakePoolFuzzTest is PoolFixture {
    uint256 internal constant VERIFIERS = 20;

    enum Outcome {
        NoChallenge,
        Cancel,
        GeneratorUpheld,
        VerifierUpheld,
        Stalemate,
        DrawTimeout
    }

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
        uint256 declineStage; // 0 = none
    }

    struct Amounts {
        uint256 aG;
        uint256 aV;
        uint256 bG;
        uint256 bV;
    }

    // Per-run bookkeeping.
    uint256 internal deposited;
    uint256 internal toTreasury; // forfeits and decline fees
    uint256 internal declineRefund;
    address internal decliner;
    uint256 internal nextVerifier;

    function _amounts(Case memory c) internal pure returns (Amounts memory a) {
        a.aG = c.cg * c.alphaBps / BPS;
        a.aV = c.cv * c.alphaBps / BPS;
        a.bG = c.cg * c.betaBps / BPS;
        a.bV = c.cv * c.betaBps / BPS;
    }

    /// @dev Cg and Cv that satisfy every openJob constraint: alphaCv ≥ 1, betaCg > 2 alphaCv + betaCv,
    /// alphaC* < 2^80, betaC* < 2^80. Half the runs use small costs, where rounding matters most.
    function _costs(Case memory c, uint256 cgSeed, uint256 cvSeed) internal pure {
        uint256 hiA = (uint256(type(uint80).max) * BPS) / c.alphaBps;
        uint256 hiB = (uint256(type(uint80).max) * BPS) / c.betaBps;
        uint256 hi = hiA < hiB ? hiA : hiB;
        uint256 cvLo = (BPS + c.alphaBps - 1) / c.alphaBps;
        uint256 cvHi = hi / 4;
        if (cvSeed & 1 == 0 && cvLo + 1_000_000 < cvHi) cvHi = cvLo + 1_000_000;
        c.cv = bound(cvSeed >> 1, cvLo, cvHi);
        uint256 need = 2 * (c.cv * c.alphaBps / BPS) + c.cv * c.betaBps / BPS + 1; // betaCg must reach this
        uint256 cgLo = (need * BPS + c.betaBps - 1) / c.betaBps;
        uint256 cgHi = hi;
        if (cgSeed & 1 == 0 && cgLo + 1_000_000 < cgHi) cgHi = cgLo + 1_000_000;
        c.cg = bound(cgSeed >> 1, cgLo, cgHi);
    }

    function _setUpPool(Case memory c, Amounts memory a) internal {
        // minBond = betaCv: every verifier can stake exactly once per job and the cap is met exactly.
        _deploy(_params(c.alphaBps, c.betaBps, c.maxStages, a.bV, 10_000));
        _addVerifiers(VERIFIERS, a.bV);
    }

    /// @dev Draw the current stage to the next unused verifier.
    function _drawNext(uint256 jobId, uint256 stage) internal returns (address v) {
        v = verifiers[nextVerifier++];
        _drawTo(jobId, stage, v);
        deposited += pool.getJob(jobId).betaCv;
    }

    function testFuzz_settlementPaysTable1ExactlyAndSumsToTheEscrow(
        uint256 alphaSeed,
        uint256 betaSeed,
        uint256 cgSeed,
        uint256 cvSeed,
        uint256 checksSeed,
        uint256 stagesSeed,
        uint256 kSeed,
        uint256 outcomeSeed,
        uint256 eventSeed
    ) public {
        Case memory c;
        c.alphaBps = bound(alphaSeed, 1, 100_000);
        c.betaBps = bound(betaSeed, c.alphaBps, 1_000_000);
        _costs(c, cgSeed, cvSeed);
        c.numChecks = bound(checksSeed, 16, 600);
        c.maxStages = bound(stagesSeed, 1, 16);
        c.outcome = Outcome(bound(outcomeSeed, 0, 5));
        if (c.outcome == Outcome.VerifierUpheld && c.maxStages == 1) c.outcome = Outcome.GeneratorUpheld;
        if (c.outcome == Outcome.Stalemate) c.k = c.maxStages;
        else if (c.outcome == Outcome.VerifierUpheld) c.k = bound(kSeed, 2, c.maxStages);
        else c.k = bound(kSeed, 1, c.maxStages);
        if (c.outcome == Outcome.VerifierUpheld) c.agreed = bound(kSeed >> 8, 1, c.k - 1);
        if (c.outcome >= Outcome.GeneratorUpheld) {
            // a no-show and a decline at stages that get a verifier (0 = none)
            uint256 last = c.outcome == Outcome.DrawTimeout ? c.k - 1 : c.k;
            c.noShowStage = bound(eventSeed, 0, last);
            c.declineStage = bound(eventSeed >> 16, 0, last);
        }
        Amounts memory a = _amounts(c);
        _setUpPool(c, a);
        deposited = 0;
        toTreasury = 0;
        declineRefund = 0;
        decliner = address(0);
        nextVerifier = 0;

        uint256 jobId = _open(c.cg, c.cv);
        IStakePool.JobView memory jv = pool.getJob(jobId);
        assertEq(jv.alphaCg, a.aG, "alphaCg");
        assertEq(jv.alphaCv, a.aV, "alphaCv");
        assertEq(jv.betaCg, a.bG, "betaCg");
        assertEq(jv.betaCv, a.bV, "betaCv");
        deposited = a.aG + a.aV;
        assertEq(pool.escrowOf(jobId), deposited, "escrow after open");

        if (c.outcome == Outcome.Cancel) {
            _warpPast(jobId);
            vm.prank(keeper);
            pool.cancel(jobId);
            _checkSettled(jobId, a);
            assertEq(pool.creditOf(user), a.aG + a.aV, "cancel refunds the user in full");
            return;
        }
        _commit(jobId, c.numChecks);
        deposited += a.bG;
        assertEq(pool.escrowOf(jobId), deposited, "escrow after commit");

        if (c.outcome == Outcome.NoChallenge) {
            _warpPast(jobId);
            vm.prank(keeper);
            pool.finalize(jobId);
            _checkSettled(jobId, a);
            assertEq(pool.creditOf(generator), a.aG + a.bG, "row 1: generator (alpha+beta)Cg");
            assertEq(pool.creditOf(user), a.aV, "row 1: user gets alphaCv back");
            return;
        }
        _challenge(jobId);
        address[] memory staked = _playStages(jobId, c, a);
        _checkSettled(jobId, a);
        _checkPayouts(c, a, staked);
    }

    function _playStages(uint256 jobId, Case memory c, Amounts memory a) internal returns (address[] memory staked) {
        staked = new address[](c.k);
        for (uint256 s = 1; s <= c.k; ++s) {
            if (c.outcome == Outcome.DrawTimeout && s == c.k) break;
            address v = _drawNext(jobId, s);
            if (s == c.declineStage) {
                vm.prank(v);
                pool.declineAssignment(jobId);
                uint256 fee = a.bV * 1000 / BPS;
                toTreasury += fee;
                declineRefund = a.bV - fee;
                decliner = v;
                deposited -= a.bV;
                assertEq(pool.creditOf(v), a.bV - fee, "decline: the verifier keeps betaCv minus the fee");
                v = _drawNext(jobId, s);
            }
            if (s == c.noShowStage) {
                _warpPast(jobId);
                uint256 before = pool.creditOf(user);
                vm.prank(keeper);
                pool.timeoutVerifier(jobId);
                toTreasury += a.bV;
                deposited -= a.bV;
                assertEq(pool.creditOf(user), before, "C-1: a no-show's stake never goes to the user");
                assertEq(pool.creditOf(treasury), toTreasury, "the no-show forfeit goes to the treasury");
                v = _drawNext(jobId, s);
            }
            staked[s - 1] = v;
            assertEq(pool.escrowOf(jobId), deposited, "escrow with verifiers");
            if (s < c.k) {
                _submit(jobId, _bitmap(c.numChecks, s - 1)); // a dissent that matches nobody
            } else if (c.outcome == Outcome.GeneratorUpheld) {
                _submit(jobId, _claim(c.numChecks));
            } else if (c.outcome == Outcome.VerifierUpheld) {
                _submit(jobId, _bitmap(c.numChecks, c.agreed - 1));
            } else {
                _submit(jobId, _bitmap(c.numChecks, s - 1)); // the last dissent: stalemate
            }
        }
        if (c.outcome == Outcome.DrawTimeout) {
            assertEq(uint256(_state(jobId)), uint256(IStakePool.State.AwaitingVerifier), "awaiting a verifier");
            _warpPast(jobId);
            vm.prank(keeper);
            pool.timeoutDraw(jobId);
        }
    }

    function _checkPayouts(Case memory c, Amounts memory a, address[] memory staked) internal view {
        uint256 k = c.k;
        uint256 t = toTreasury;
        if (c.outcome == Outcome.GeneratorUpheld) {
            assertEq(pool.creditOf(generator), a.aG + a.bG, "rows 2-3: generator (alpha+beta)Cg");
            assertEq(pool.creditOf(staked[k - 1]), a.aV + k * a.bV, "rows 2-3: V_k (alpha + k beta)Cv");
            assertEq(pool.creditOf(user), 0, "rows 2-3: the user paid alphaCv for the verification");
            for (uint256 i; i + 1 < k; ++i) assertEq(pool.creditOf(staked[i]), 0, "rows 2-3: dissenters lose");
        } else if (c.outcome == Outcome.VerifierUpheld) {
            assertEq(pool.creditOf(generator), 0, "row 4: generator loses betaCg");
            assertEq(pool.creditOf(user), a.aG + a.aV, "row 4: user alpha(Cg+Cv)");
            assertEq(pool.creditOf(staked[c.agreed - 1]), a.aV + a.bV, "row 4: V_j (alpha+beta)Cv");
            assertEq(pool.creditOf(staked[k - 1]), a.bG + (k - 1) * a.bV - a.aV, "row 4: V_k");
            assertGe(pool.creditOf(staked[k - 1]), a.aV + k * a.bV + 1, "M-1: confirming pays more than agreeing");
        } else if (c.outcome == Outcome.Stalemate) {
            t += a.aG + a.bG + k * a.bV;
            assertEq(pool.creditOf(user), a.aV, "stalemate: user alphaCv");
            assertEq(pool.creditOf(generator), 0, "stalemate: generator nothing");
            for (uint256 i; i < k; ++i) assertEq(pool.creditOf(staked[i]), 0, "stalemate: verifiers' stakes to treasury");
        } else if (k == 1) {
            // DrawTimeout at stage 1: Unverified, paid as unchallenged, the user's alphaCv to the treasury.
            t += a.aV;
            assertEq(pool.creditOf(generator), a.aG + a.bG, "M-2 Unverified: generator paid as unchallenged");
            assertEq(pool.creditOf(user), 0, "M-2 Unverified: user gets nothing back");
        } else {
            t += a.aG + a.bG;
            assertEq(pool.creditOf(user), a.aV, "draw timeout: user alphaCv");
            assertEq(pool.creditOf(generator), 0, "draw timeout: generator nothing");
            for (uint256 i; i + 1 < k; ++i) assertEq(pool.creditOf(staked[i]), a.bV, "draw timeout: dissenters refunded");
        }
        assertEq(pool.creditOf(treasury), t, "treasury gets exactly forfeits, fees and stalemate deposits");
    }

    function _sumCredits() internal view returns (uint256 sum) {
        sum = pool.creditOf(user) + pool.creditOf(generator) + pool.creditOf(keeper) + pool.creditOf(treasury);
        for (uint256 i; i < verifiers.length; ++i) sum += pool.creditOf(verifiers[i]);
    }

    function _sumBonds() internal view returns (uint256 sum) {
        for (uint256 i; i < verifiers.length; ++i) {
            IVerifierRegistry.BondView memory b = pool.bondOf(verifiers[i]);
            sum += b.bond + b.pendingBond + b.unbonding;
        }
    }

    function _checkSettled(uint256 jobId, Amounts memory a) internal view {
        assertEq(pool.escrowOf(jobId), 0, "a settled job holds nothing");
        assertEq(pool.getJob(jobId).deadline, 0, "a settled job has no deadline");
        // Everything that went into the job (user, generator and verifier deposits) is credited.
        assertEq(_sumCredits(), deposited + toTreasury + declineRefund, "payouts sum to the escrow");
        assertEq(token.balanceOf(address(pool)), _sumCredits() + _sumBonds(), "balance == credits + bonds");
        uint256 userCredit = pool.creditOf(user);
        uint256 paidIn = a.aG + a.aV;
        assertLe(userCredit, paidIn, "the user is never paid more than it deposited");
        assertLe(paidIn - userCredit, a.aG + a.aV, "the user never loses more than alphaCv beyond alphaCg");
    }

    // --------------------------------------------------------------------------------------------
    // openJob constraints
    // --------------------------------------------------------------------------------------------

    /// @notice M-1: openJob accepts exactly the costs with betaCg > 2 alphaCv + betaCv.
    function testFuzz_M1_openJobRevertsUnlessConfirmingPaysMoreThanAgreeing(
        uint256 alphaSeed,
        uint256 betaSeed,
        uint256 cg,
        uint256 cv
    ) public {
        uint256 alphaBps = bound(alphaSeed, 1, 100_000);
        uint256 betaBps = bound(betaSeed, alphaBps, 1_000_000);
        _deploy(_params(alphaBps, betaBps, 3, type(uint96).max, 10_000));
        _addVerifiers(5, type(uint96).max);
        uint256 cvLo = (BPS + alphaBps - 1) / alphaBps;
        cv = bound(cv, cvLo, cvLo + 10_000_000);
        cg = bound(cg, 1, 10 * cv + 10_000_000);
        uint256 aG = cg * alphaBps / BPS;
        uint256 aV = cv * alphaBps / BPS;
        uint256 bG = cg * betaBps / BPS;
        uint256 bV = cv * betaBps / BPS;
        _fund(user, aG + aV);
        vm.prank(user);
        if (aG == 0) {
            vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolCostTooSmall.selector, cg, cv));
        } else if (bG <= 2 * aV + bV) {
            vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolCostRatio.selector, cg, cv));
        }
        pool.openJob(generator, MODEL, cg, cv, bytes32(0), "");
    }

    /// @notice C-1: betaCv above minBond * maxStakeBps / 10_000 is refused, at the cap it is accepted.
    function testFuzz_C1_verifierStakeCappedBelowTheMinimumBond(uint256 maxStakeSeed, uint256 cvSeed) public {
        uint256 maxStakeBps = bound(maxStakeSeed, 1, 10_000);
        _deploy(_params(10_000, 20_000, 3, 1_000_000, maxStakeBps));
        _addVerifiers(5, 1_000_000);
        uint256 cap = 1_000_000 * maxStakeBps / BPS;
        uint256 cv = bound(cvSeed, 1, cap); // betaCv = 2 cv
        uint256 bV = 2 * cv;
        uint256 cg = 4 * cv + 1; // betaCg = 8 cv + 2 > 2 cv + 2 cv
        _fund(user, cg + cv);
        vm.prank(user);
        if (bV > cap) vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolVerifierStakeTooLarge.selector, bV, cap));
        pool.openJob(generator, MODEL, cg, cv, bytes32(0), "");
    }

    /// @notice C-1: no job for a model nobody declared, or one with fewer than maxStages + 2 verifiers
    /// or less than minModelStake weight (the attacker's "model no verifier can replay").
    function test_C1_openJobRefusesUndeclaredAndUnderservedModels() public {
        _deploy(_defaults());
        _fund(user, 1000);
        vm.prank(user);
        vm.expectRevert(
            abi.encodeWithSelector(IStakePool.StakePoolModelUnderserved.selector, OTHER_MODEL, 0, 0, 100, 5)
        );
        pool.openJob(generator, OTHER_MODEL, 100, 5, bytes32(0), "");
        _addVerifiers(4, 100);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolModelUnderserved.selector, MODEL, 400, 4, 100, 5));
        pool.openJob(generator, MODEL, 100, 5, bytes32(0), "");
        _addVerifiers(1, 100);
        vm.prank(user);
        pool.openJob(generator, MODEL, 100, 5, bytes32(0), "");
        // A verifier that leaves the model makes it underserved again.
        bytes32[] memory none = new bytes32[](0);
        vm.prank(verifiers[0]);
        pool.setModels(none);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolModelUnderserved.selector, MODEL, 400, 4, 100, 5));
        pool.openJob(generator, MODEL, 100, 5, bytes32(0), "");
    }

    // --------------------------------------------------------------------------------------------
    // Forfeits, declines, draw timeouts
    // --------------------------------------------------------------------------------------------

    /// @notice C-1: the user (with the generator as its second address) challenges; every drawn
    /// verifier no-shows; the user's credit never grows and the treasury gets every forfeit.
    function test_C1_userCannotFarmNoShowForfeits() public {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
        for (uint256 i; i < 4; ++i) {
            _drawTo(jobId, 1, verifiers[i]);
            _warpPast(jobId);
            pool.timeoutVerifier(jobId);
        }
        assertEq(pool.creditOf(user), 0, "the user earns nothing from no-shows");
        assertEq(pool.creditOf(generator), 0, "neither does the generator");
        assertEq(pool.creditOf(treasury), 40, "four forfeits of betaCv = 10 to the treasury");
        _warpPast(jobId);
        pool.timeoutDraw(jobId);
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.Unverified), "Unverified");
        assertEq(pool.creditOf(user), 0, "user: nothing back");
        assertEq(pool.creditOf(generator), 300, "generator paid as unchallenged");
        assertEq(pool.creditOf(treasury), 45, "forfeits + alphaCv");
    }

    /// @notice A verifier that cannot serve the job declines in the first quarter of its window and
    /// pays only the fee; later it cannot.
    function test_declinePaysTheFeeOnlyAndOnlyEarly() public {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
        _drawTo(jobId, 1, verifiers[0]);
        vm.prank(verifiers[0]);
        pool.declineAssignment(jobId);
        assertEq(pool.creditOf(treasury), 1, "fee: 10% of betaCv");
        assertEq(pool.creditOf(verifiers[0]), 9, "the rest back to the decliner");
        (, IStakePool.StageStatus st,) = pool.getStage(jobId, 1);
        assertEq(uint256(st), uint256(IStakePool.StageStatus.Declined), "stage 1 shows the decline");
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.AwaitingVerifier), "stage 1 awaits a new verifier");
        _drawTo(jobId, 1, verifiers[1]);
        uint64 deadline = pool.getJob(jobId).deadline;
        uint64 until = deadline - 1 hours + 15 minutes;
        vm.warp(until + 1);
        vm.prank(verifiers[1]);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolDeclineTooLate.selector, jobId, until));
        pool.declineAssignment(jobId);
        vm.prank(verifiers[2]);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolNotAssignedVerifier.selector, jobId, verifiers[2]));
        pool.declineAssignment(jobId);
    }

    /// @notice M-2: a challenge nobody verifies pays the generator as unchallenged (stage 1) and
    /// refunds the dissenters at a later stage.
    function test_M2_unverifiableChallengePaysTheGenerator() public {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolDeadlineNotReached.selector, jobId, pool.getJob(jobId).deadline));
        pool.timeoutDraw(jobId);
        _warpPast(jobId);
        pool.timeoutDraw(jobId);
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.Unverified), "Unverified");
        assertEq(pool.creditOf(generator), 300, "generator alphaCg + betaCg");
        assertEq(pool.creditOf(user), 0, "challenging without a verifier is worse than not challenging");
        assertEq(pool.creditOf(treasury), 5, "user's alphaCv to the treasury");
        // The stale queue entry is skipped by the next draw.
        pool.drawVerifiers(10);
    }

    // --------------------------------------------------------------------------------------------
    // Draws
    // --------------------------------------------------------------------------------------------

    /// @notice Over fuzzed words the pool never assigns the user, the generator, an earlier verifier
    /// of the job, a verifier that left the model during the epoch or one without free bond, even
    /// when all of them are in the tree with large weights; the first eligible pick is the one drawn
    /// with keccak(word, jobId, stage, attempt).
    function testFuzz_drawNeverPicksAPartyAnEarlierVerifierOrAnIneligibleOne(uint256 seed) public {
        _deploy(_params(10_000, 20_000, 3, 100, 10_000));
        _addVerifier(user, 1000); // the user and the generator are also bonded verifiers of MODEL
        _addVerifier(generator, 1000);
        _addVerifiers(6, 100);
        // verifiers[0] is busy: its whole bond (betaCv = 100) is locked in another job.
        uint256 busyJob = _open(200, 50);
        _commit(busyJob, 16);
        _challenge(busyJob);
        _drawTo(busyJob, 1, verifiers[0]);
        uint256 jobId = _open(200, 50);
        _commit(jobId, 16);
        vm.prank(user);
        pool.challenge(jobId); // starts an epoch for this job alone
        // verifiers[1] leaves the model during the epoch: still weighted, no longer serving.
        bytes32[] memory none = new bytes32[](0);
        vm.prank(verifiers[1]);
        pool.setModels(none);
        address[3] memory drawn;
        for (uint256 s = 1; s <= 3; ++s) {
            for (uint256 e; _state(jobId) == IStakePool.State.AwaitingVerifier; ++e) {
                assertLe(e, 20, "a verifier is found within 20 epochs");
                _startEpochIfNeeded();
                uint256 word = uint256(keccak256(abi.encode(seed, s, e)));
                rnd.set(word);
                address expected = _firstEligible(jobId, s, word, drawn);
                pool.drawVerifiers(type(uint256).max);
                if (expected != address(0)) {
                    (, address got,) = pool.currentStage(jobId);
                    assertEq(got, expected, "the first eligible pick is drawn");
                }
            }
            (, address v,) = pool.currentStage(jobId);
            assertTrue(v != user && v != generator, "never the user or the generator");
            assertTrue(v != verifiers[0], "never one without free bond");
            assertTrue(v != verifiers[1], "never one that does not serve the model");
            for (uint256 i; i + 1 < s; ++i) assertTrue(v != drawn[i], "never an earlier verifier");
            drawn[s - 1] = v;
            if (s < 3) _submit(jobId, _bitmap(16, s - 1));
        }
    }

    function _firstEligible(uint256 jobId, uint256 s, uint256 word, address[3] memory drawn)
        internal
        view
        returns (address)
    {
        for (uint256 attempt; attempt < 8; ++attempt) {
            address c = pool.drawAt(MODEL, uint256(keccak256(abi.encode(word, jobId, s, attempt))));
            bool ok = c != user && c != generator && c != verifiers[0] && c != verifiers[1];
            for (uint256 i; i + 1 < s; ++i) if (c == drawn[i]) ok = false;
            if (ok) return c;
        }
        return address(0);
    }

    /// @notice Draws are stake-weighted: over 3,000 words the pool's draw picks each verifier with
    /// its share of the draw weight, within 3 percentage points.
    function test_drawsAreStakeWeighted() public {
        _deploy(_defaults());
        uint256[5] memory bonds = [uint256(100), 200, 300, 400, 1000];
        for (uint256 i; i < 5; ++i) {
            verifiers.push(address(uint160(0x2001 + i)));
            _addVerifier(verifiers[i], bonds[i]);
        }
        uint256[5] memory hits;
        uint256 words = 3000;
        for (uint256 i; i < words; ++i) {
            address m = pool.drawAt(MODEL, uint256(keccak256(abi.encode(i))));
            hits[uint160(m) - 0x2001]++;
        }
        for (uint256 i; i < 5; ++i) {
            uint256 expected = words * bonds[i] / 2000;
            uint256 diff = hits[i] > expected ? hits[i] - expected : expected - hits[i];
            assertLe(diff, words * 3 / 100, "frequency within 3 points of stake share");
        }
    }

    /// @notice H-1: once a draw is requested the weights are frozen: a sybil bonding a huge stake
    /// and declaring the model, or a verifier raising its bond, in front of the draw, changes neither
    /// the weights nor the verifier drawn; the new stake counts only after the epoch and a sync.
    function testFuzz_H1_bondingDuringEpochDoesNotMoveTheDraw(uint256 word, uint96 sybilBond) public {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
        assertTrue(pool.drawEpoch().frozen, "the challenge requested randomness and froze the weights");
        rnd.set(word);
        uint256 snap = vm.snapshotState();
        pool.drawVerifiers(1);
        (, address honestPick,) = pool.currentStage(jobId);
        vm.revertToState(snap);

        // up to the trees' capacity (2^44 minimum bonds; see SortitionTrees)
        uint256 amount = bound(sybilBond, 100, (uint256(1) << 43) * 100);
        address sybil = address(0x5B1);
        (uint256 totalBefore, uint256 nBefore) = pool.modelStake(MODEL);
        _addVerifier(sybil, amount);
        _fund(verifiers[2], amount);
        vm.prank(verifiers[2]);
        pool.bond(amount);
        (uint256 totalDuring, uint256 nDuring) = pool.modelStake(MODEL);
        assertEq(totalDuring, totalBefore, "H-1: total weight frozen during the epoch");
        assertEq(nDuring, nBefore, "H-1: verifier count frozen during the epoch");
        assertEq(pool.weightOf(MODEL, sybil), 0, "H-1: the sybil has no weight yet");
        assertEq(pool.weightOf(MODEL, verifiers[2]), 100, "H-1: a raised bond is not a raised weight yet");
        assertEq(pool.bondOf(sybil).pendingBond, amount, "the sybil's bond is pending");
        vm.expectRevert(abi.encodeWithSelector(IVerifierRegistry.StakePoolDrawEpochInProgress.selector));
        pool.sync(sybil);
        pool.drawVerifiers(1);
        (, address pick,) = pool.currentStage(jobId);
        assertEq(pick, honestPick, "H-1: the draw is the one it would have been without the bonds");
        assertFalse(pool.drawEpoch().frozen, "the epoch ends with its draws");
        pool.sync(sybil);
        pool.sync(verifiers[2]);
        assertEq(pool.weightOf(MODEL, sybil), amount, "after the epoch and a sync the bond counts");
        uint256 locked = pick == verifiers[2] ? 10 : 0;
        assertEq(pool.weightOf(MODEL, verifiers[2]), 100 + amount - locked, "raised weight after sync");
    }

    /// @notice The claim hash is keccak256 of ceil(n/8) bytes with the first n bits set.
    function testFuzz_claimHash(uint256 n) public {
        n = bound(n, 1, 5000);
        _deploy(_defaults());
        assertEq(pool.claimHash(uint32(n)), keccak256(_claim(n)), "claim hash");
    }
}
