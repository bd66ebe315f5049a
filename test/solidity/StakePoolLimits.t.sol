// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PoolFixture} from "./utils/PoolFixture.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {IVerifierRegistry} from "../../contracts/IVerifierRegistry.sol";
import {MockRandomness} from "../../contracts/mocks/MockRandomness.sol";

/// @notice The edges: the largest receipt, amounts at the storage limits, uint96 bonds, unbond
/// requests (L-2, L-3) and broken randomness sources (L-1).
contract StakePoolLimitsTest is PoolFixture {
    // --------------------------------------------------------------------------------------------
    // numChecks
    // --------------------------------------------------------------------------------------------

    /// @notice A receipt of MAX_NUM_CHECKS checks can be committed and its 32 KiB bitmap submitted;
    /// one more check is refused, so no generator can commit a receipt nobody can answer.
    function test_maxNumChecksBitmapIsSubmittable() public {
        _deploy(_defaults());
        _addVerifiers(5, 100);
        uint256 n = pool.MAX_NUM_CHECKS();
        uint256 jobId = _open(100, 5);
        _fund(generator, 200);
        vm.prank(generator);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolInvalidNumChecks.selector, jobId, n + 1));
        pool.commit(jobId, keccak256("root"), uint32(n + 1), "");
        vm.prank(generator);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolInvalidNumChecks.selector, jobId, 0));
        pool.commit(jobId, keccak256("root"), 0, "");
        _commit(jobId, n);
        _challenge(jobId);
        _drawTo(jobId, 1, verifiers[0]);
        bytes memory claim = new bytes(n / 8);
        for (uint256 i; i < claim.length; ++i) claim[i] = 0xff;
        _submit(jobId, claim);
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.GeneratorUpheld), "the 2^18-check claim settles");
    }

    /// @notice Bits beyond numChecks in the last byte are refused, and so is a wrong length.
    function test_bitmapTrailingBitsAndLengthAreChecked() public {
        _deploy(_defaults());
        _addVerifiers(5, 100);
        uint256 jobId = _open(100, 5);
        _commit(jobId, 13);
        _challenge(jobId);
        _drawTo(jobId, 1, verifiers[0]);
        _commitResult(jobId, verifiers[0], hex"fff8", HONEST_FP);
        vm.prank(generator);
        pool.answerFingerprint(jobId, HONEST_FP);
        vm.startPrank(verifiers[0]);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolBitmapTrailingBits.selector, jobId));
        pool.revealResult(jobId, hex"fffc", HONEST_FP, SALT);
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolBadBitmapLength.selector, jobId, 3, 2));
        pool.revealResult(jobId, hex"fff800", HONEST_FP, SALT);
        pool.revealResult(jobId, hex"fff8", HONEST_FP, SALT);
        vm.stopPrank();
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.GeneratorUpheld), "the 13-bit claim");
    }

    // --------------------------------------------------------------------------------------------
    // Amounts
    // --------------------------------------------------------------------------------------------

    /// @notice alphaCg = betaCg = 2^80 - 1 (α = β = 1×) is accepted and 2^80 refused; costs above 2^128
    /// are refused.
    function test_alphaAmountsAtTheStorageLimit() public {
        _deploy(_params(10_000, 10_000, 3, type(uint96).max, 10_000));
        _addVerifiers(5, type(uint96).max);
        uint256 cg = type(uint80).max;
        _fund(user, type(uint256).max / 2);
        vm.startPrank(user);
        pool.openJob(generator, MODEL, cg, 1, bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolCostTooLarge.selector, cg + 1, 1));
        pool.openJob(generator, MODEL, cg + 1, 1, bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolCostTooLarge.selector, uint256(1) << 128, 1));
        pool.openJob(generator, MODEL, uint256(1) << 128, 1, bytes32(0), "");
        vm.stopPrank();
    }

    /// @notice The largest betaCv the cost ratio allows near 2^80 (β = 100×, α = 0.3×) plays a full
    /// three-stage game to row 4 without overflow, to the wei.
    function test_betaAmountsNear2pow80PlayAFullGame() public {
        _deploy(_params(3_000, 1_000_000, 3, type(uint96).max, 10_000));
        _addVerifiers(5, type(uint96).max);
        uint256 cg = (uint256(type(uint80).max) / 100); // betaCg = 100 cg < 2^80, alphaCg = 0.3 cg < 2^80
        uint256 cv = cg * 100 / 101; // betaCg > 2 alphaCv + betaCv = 100.6 cv
        uint256 jobId = _open(cg, cv);
        IStakePool.JobView memory j = pool.getJob(jobId);
        assertGe(j.betaCv, uint256(1) << 79, "betaCv near 2^80");
        assertGe(j.betaCg, uint256(1) << 79, "betaCg near 2^80");
        _commit(jobId, 16);
        _challenge(jobId);
        for (uint256 s = 1; s <= 3; ++s) {
            _drawTo(jobId, s, verifiers[s - 1]);
            _submit(jobId, _bitmap(16, s == 3 ? 0 : s - 1)); // stage 3 confirms stage 1
        }
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.VerifierUpheld), "row 4");
        assertEq(pool.creditOf(user), j.alphaCg + j.alphaCv, "user");
        assertEq(pool.creditOf(verifiers[0]), j.alphaCv + j.betaCv, "V_1");
        assertEq(pool.creditOf(verifiers[2]), j.betaCg + 2 * j.betaCv - j.alphaCv, "V_3");
        assertEq(pool.creditOf(verifiers[1]), 0, "V_2 lost its stake");
    }

    // --------------------------------------------------------------------------------------------
    // Bonds
    // --------------------------------------------------------------------------------------------

    /// @notice A bond (with its pending part) is at most 2^96 - 1, in and out of an epoch.
    function test_bondIsBoundedByUint96() public {
        _deploy(_defaults());
        _addVerifiers(5, 100);
        address v = address(0xB0);
        _fund(v, type(uint256).max / 2);
        vm.startPrank(v);
        pool.bond(uint256(type(uint96).max) - 1);
        vm.expectRevert(abi.encodeWithSelector(IVerifierRegistry.StakePoolBondTooLarge.selector, v, uint256(1) << 96));
        pool.bond(2);
        vm.stopPrank();
        // during an epoch the pending bond counts too
        uint256 jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
        vm.startPrank(v);
        pool.bond(1);
        vm.expectRevert(abi.encodeWithSelector(IVerifierRegistry.StakePoolBondTooLarge.selector, v, uint256(1) << 96));
        pool.bond(1);
        vm.stopPrank();
        assertEq(pool.bondOf(v).pendingBond, 1, "pending");
    }

    /// @notice L-2: two maximum-size unbond requests are held and paid without overflow.
    function test_L2_twoMaximumUnbondRequestsDoNotOverflow() public {
        _deploy(_defaults());
        address v = address(0xB1);
        uint256 max = type(uint96).max;
        _fund(v, 2 * max);
        vm.startPrank(v);
        pool.bond(max);
        pool.requestUnbond(max);
        pool.bond(max);
        pool.requestUnbond(max);
        vm.stopPrank();
        assertEq(pool.bondOf(v).unbonding, 2 * max, "both requests held");
        vm.warp(block.timestamp + 1 days);
        vm.prank(v);
        uint256 out = pool.withdrawUnbonded();
        assertEq(out, 2 * max, "both paid");
        assertEq(token.balanceOf(v), 2 * max, "tokens back");
    }

    /// @notice L-3: a later unbond request (even under a longer delay) does not delay an earlier one.
    function test_L3_secondUnbondRequestDoesNotDelayTheFirst() public {
        _deploy(_defaults());
        address v = address(0xB2);
        _fund(v, 1000);
        vm.startPrank(v);
        pool.bond(1000);
        pool.requestUnbond(300);
        vm.stopPrank();
        uint256 t0 = block.timestamp;
        IStakePool.Params memory p = _defaults();
        p.unbondDelay = 30 days;
        pool.setParams(p);
        vm.warp(t0 + 12 hours);
        vm.prank(v);
        pool.requestUnbond(200);
        vm.warp(t0 + 1 days - 1);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(IVerifierRegistry.StakePoolUnbondNotReady.selector, v, uint64(t0 + 1 days)));
        pool.withdrawUnbonded();
        vm.warp(t0 + 1 days);
        vm.prank(v);
        assertEq(pool.withdrawUnbonded(), 300, "the first request is ready on its own time");
        assertEq(pool.bondOf(v).unbonding, 200, "the second still waits");
        vm.warp(t0 + 12 hours + 30 days);
        vm.prank(v);
        assertEq(pool.withdrawUnbonded(), 200, "the second on its own time");
    }

    /// @notice L-3, the other way round: after the owner lowers unbondDelay, a later request can be
    /// ready before an earlier one; withdrawUnbonded ("every unbond request whose delay has passed")
    /// must pay it then, not wait for the earlier request to mature.
    function test_L3_readyRequestIsNotHeldBehindAnEarlierOne() public {
        IStakePool.Params memory p = _defaults();
        p.unbondDelay = 30 days;
        _deploy(p);
        address v = address(0xB2);
        _fund(v, 1000);
        vm.startPrank(v);
        pool.bond(1000);
        pool.requestUnbond(300); // ready at t0 + 30 days
        vm.stopPrank();
        uint256 t0 = block.timestamp;
        p.unbondDelay = 1 days;
        pool.setParams(p);
        vm.prank(v);
        pool.requestUnbond(200); // ready at t0 + 1 day
        vm.warp(t0 + 1 days);
        assertEq(pool.bondOf(v).unbondable, 200, "bondOf: the second request is withdrawable");
        vm.prank(v);
        assertEq(pool.withdrawUnbonded(), 200, "the second request is paid on its own time");
        assertEq(pool.bondOf(v).unbonding, 300, "the first still waits");
        vm.warp(t0 + 30 days);
        vm.prank(v);
        assertEq(pool.withdrawUnbonded(), 300, "the first on its own time");
        assertEq(pool.bondOf(v).unbonding, 0, "nothing left");
    }

    /// @notice At most MAX_UNBOND_REQUESTS requests pend at once.
    function test_unbondRequestsAreBounded() public {
        _deploy(_defaults());
        address v = address(0xB3);
        uint256 max = pool.MAX_UNBOND_REQUESTS();
        _fund(v, 1000 * (max + 1));
        vm.startPrank(v);
        pool.bond(1000 * (max + 1));
        for (uint256 i; i < max; ++i) pool.requestUnbond(1000);
        vm.expectRevert(abi.encodeWithSelector(IVerifierRegistry.StakePoolTooManyUnbondRequests.selector, v, max));
        pool.requestUnbond(1000);
        vm.stopPrank();
    }

    // --------------------------------------------------------------------------------------------
    // L-1: broken randomness sources
    // --------------------------------------------------------------------------------------------

    function _challengedJob() internal returns (uint256 jobId) {
        jobId = _open(100, 5);
        _commit(jobId, 16);
        _challenge(jobId);
    }

    /// @dev The source misbehaves in `mode` for reads; the job still settles at its draw deadline.
    function _checkSettlesDespite(MockRandomness.Mode mode) internal {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 jobId = _challengedJob();
        rnd.setMode(mode);
        if (mode != MockRandomness.Mode.Expired) {
            vm.expectRevert(abi.encodeWithSelector(IStakePool.StakePoolRandomnessPending.selector, pool.drawEpoch().requestId));
        }
        pool.drawVerifiers(10); // never reverts with anything else, never locks the job
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.AwaitingVerifier), "still awaiting");
        _warpPast(jobId);
        pool.timeoutDraw(jobId);
        assertEq(uint256(_state(jobId)), uint256(IStakePool.State.Unverified), "settled at the draw deadline");
        assertEq(pool.creditOf(generator), 300, "generator paid");
    }

    function test_L1_shortDataRandomnessNeverLocksAJob() public {
        _checkSettlesDespite(MockRandomness.Mode.ShortData);
    }

    function test_L1_revertingRandomnessNeverLocksAJob() public {
        _checkSettlesDespite(MockRandomness.Mode.Revert);
    }

    function test_L1_gasBurningRandomnessNeverLocksAJob() public {
        _checkSettlesDespite(MockRandomness.Mode.BurnGas);
    }

    function test_L1_pendingForeverRandomnessNeverLocksAJob() public {
        _checkSettlesDespite(MockRandomness.Mode.Pending);
    }

    function test_L1_expiredRandomnessIsRequestedAgain() public {
        _checkSettlesDespite(MockRandomness.Mode.Expired);
    }

    /// @notice L-1: a source whose request reverts leaves the epoch unstarted; challenge, submit and
    /// drawVerifiers still succeed, the job settles at the deadline, and a stage-2 job becomes a
    /// stalemate with the dissenter refunded. Replacing the source resumes the draws.
    function test_L1_refusingRequestsNeverLockAJob() public {
        _deploy(_defaults());
        _addVerifiers(6, 100);
        uint256 job2 = _challengedJob();
        _drawTo(job2, 1, verifiers[0]);
        rnd.setRequestReverts(true);
        _submit(job2, _bitmap(16, 0)); // stage 2 queued; its request fails
        assertFalse(pool.drawEpoch().frozen, "no epoch without a request");
        uint256 job1 = _challengedJob();
        assertEq(pool.drawVerifiers(10), 0, "drawVerifiers retries the request and does not revert");
        _warpPast(job1);
        pool.timeoutDraw(job1);
        pool.timeoutDraw(job2);
        assertEq(uint256(_state(job1)), uint256(IStakePool.State.Unverified), "stage 1: Unverified");
        assertEq(uint256(_state(job2)), uint256(IStakePool.State.Stalemate), "stage 2: stalemate");
        assertEq(pool.creditOf(verifiers[0]), 10, "the dissenter gets its stake back");
        assertEq(pool.creditOf(user), 5, "user alphaCv of job 2 (job 1's went to the treasury)");
        MockRandomness fresh = new MockRandomness();
        pool.setRandomnessSource(fresh);
        uint256 job3 = _challengedJob();
        assertTrue(pool.drawEpoch().frozen, "a working source starts epochs again");
        pool.drawVerifiers(10); // skips the stale entries and draws job 3
        assertEq(uint256(_state(job3)), uint256(IStakePool.State.Verifying), "job 3 drawn");
    }
}
