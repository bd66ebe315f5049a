// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {StakePool} from "../../../contracts/StakePool.sol";
import {IStakePool} from "../../../contracts/IStakePool.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {MockRandomness} from "../../../contracts/mocks/MockRandomness.sol";

/// @notice Shared set-up of the v2 pool tests: a pool on MockRandomness, a treasury, verifiers that
/// serve MODEL, and helpers that steer a draw to a chosen verifier by searching for a word (the pool
/// draws with keccak(word, jobId, stage, attempt), so the tests pick the word, never the verifier).
abstract contract PoolFixture is Test {
    uint256 internal constant BPS = 10_000;
    bytes32 internal constant MODEL = keccak256("model");
    bytes32 internal constant OTHER_MODEL = keccak256("other-model");

    TestToken internal token;
    MockRandomness internal rnd;
    StakePool internal pool;

    address internal user = address(0x1001);
    address internal generator = address(0x1002);
    address internal keeper = address(0x1003);
    address internal treasury = address(0x7EA5);
    address[] internal verifiers;

    function _params(uint256 alphaBps, uint256 betaBps, uint256 maxStages, uint256 minBond, uint256 maxStakeBps)
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
            drawWindow: 1 hours,
            maxStages: uint8(maxStages),
            unbondDelay: 1 days,
            minBond: uint96(minBond),
            minModelStake: uint96(minBond),
            maxStakeBps: uint16(maxStakeBps),
            declineFeeBps: 1000
        });
    }

    function _defaults() internal pure returns (IStakePool.Params memory) {
        return _params(10_000, 20_000, 3, 100, 10_000);
    }

    function _deploy(IStakePool.Params memory p) internal {
        if (address(token) == address(0)) {
            token = new TestToken();
            rnd = new MockRandomness();
        }
        pool = new StakePool(token, address(this), p, rnd, treasury);
    }

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(pool), type(uint256).max);
    }

    /// @dev `who` bonds `amount` and declares MODEL (outside an epoch: weight at once).
    function _addVerifier(address who, uint256 amount) internal {
        _fund(who, amount);
        vm.startPrank(who);
        pool.bond(amount);
        bytes32[] memory m = new bytes32[](1);
        m[0] = MODEL;
        pool.setModels(m);
        vm.stopPrank();
    }

    function _addVerifiers(uint256 n, uint256 amount) internal {
        for (uint256 i; i < n; ++i) {
            address v = address(uint160(0x2001 + verifiers.length));
            verifiers.push(v);
            _addVerifier(v, amount);
        }
    }

    function _open(uint256 cg, uint256 cv) internal returns (uint256 jobId) {
        IStakePool.JobView memory none;
        none; // silence
        uint256 a = cg * _alpha() / BPS + cv * _alpha() / BPS;
        _fund(user, a);
        vm.prank(user);
        jobId = pool.openJob(generator, MODEL, cg, cv, bytes32(0), "");
    }

    function _alpha() internal view returns (uint256) {
        (IStakePool.Params memory p,) = pool.params();
        return p.alphaBps;
    }

    function _commit(uint256 jobId, uint256 numChecks) internal {
        _fund(generator, pool.getJob(jobId).betaCg);
        vm.prank(generator);
        pool.commit(jobId, keccak256("root"), uint32(numChecks), "uri");
    }

    function _challenge(uint256 jobId) internal {
        vm.prank(user);
        pool.challenge(jobId);
    }

    /// @dev A word whose first pick for (jobId, stage) is `target` (the draw at attempt 0).
    function _wordFor(uint256 jobId, uint256 stage, address target) internal view returns (uint256 w) {
        for (w = 1; w < 20_000; ++w) {
            uint256 r = uint256(keccak256(abi.encode(w, jobId, stage, uint256(0))));
            if (pool.drawAt(MODEL, r) == target) return w;
        }
        revert("no word draws the target");
    }

    /// @dev Draw stage `stage` of `jobId`, steered to `target` (the epoch must be the job's alone).
    function _drawTo(uint256 jobId, uint256 stage, address target) internal {
        _startEpochIfNeeded();
        rnd.set(_wordFor(jobId, stage, target));
        pool.drawVerifiers(type(uint256).max);
        (, address v,) = pool.currentStage(jobId);
        assertEq(v, target, "steered draw");
    }

    function _startEpochIfNeeded() internal {
        if (!pool.drawEpoch().frozen) pool.drawVerifiers(type(uint256).max);
    }

    /// @dev The fingerprint every honest replay of these tests has (the contract only compares them).
    bytes32 internal constant HONEST_FP = keccak256("honest replay");
    bytes32 internal constant SALT = keccak256("salt");

    /// @dev The current stage's verifier submits `bitmap` with an honest replay: commit, the generator
    /// and every earlier verifier answer HONEST_FP, reveal.
    function _submit(uint256 jobId, bytes memory bitmap) internal {
        _submitWith(jobId, bitmap, HONEST_FP, true);
    }

    /// @dev Commit `bitmap` with `fp`; the generator (if `generatorAnswers`) and the earlier verifiers
    /// answer HONEST_FP; reveal.
    function _submitWith(uint256 jobId, bytes memory bitmap, bytes32 fp, bool generatorAnswers) internal {
        (uint8 k, address v,) = pool.currentStage(jobId);
        _commitResult(jobId, v, bitmap, fp);
        if (generatorAnswers) {
            vm.prank(generator);
            pool.answerFingerprint(jobId, HONEST_FP);
        }
        for (uint8 i = 1; i < k; ++i) {
            (address earlier,,) = pool.getStage(jobId, i);
            vm.prank(earlier);
            pool.answerFingerprint(jobId, HONEST_FP);
        }
        if (!generatorAnswers) vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(v);
        pool.revealResult(jobId, bitmap, fp, SALT);
    }

    function _commitResult(uint256 jobId, address v, bytes memory bitmap, bytes32 fp) internal {
        (uint8 k,,) = pool.currentStage(jobId);
        vm.prank(v);
        pool.commitResult(jobId, keccak256(abi.encode(jobId, k, v, keccak256(bitmap), fp, SALT)));
    }

    /// @dev n bits, all set except bit `missing` (type(uint256).max = none missing: the claim).
    function _bitmap(uint256 n, uint256 missing) internal pure returns (bytes memory b) {
        b = new bytes((n + 7) / 8);
        for (uint256 i; i < n; ++i) {
            if (i != missing) b[i / 8] |= bytes1(uint8(0x80) >> (i % 8));
        }
    }

    function _claim(uint256 n) internal pure returns (bytes memory) {
        return _bitmap(n, type(uint256).max);
    }

    function _state(uint256 jobId) internal view returns (IStakePool.State) {
        return pool.getJob(jobId).state;
    }

    function _warpPast(uint256 jobId) internal {
        vm.warp(uint256(pool.getJob(jobId).deadline) + 1);
    }
}
