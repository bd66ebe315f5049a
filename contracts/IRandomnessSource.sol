// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IRandomnessSource
/// @notice The source of the random word that the StakePool uses to draw a verifier for a stage.
/// @dev Kept deliberately small so that the default source (block.prevrandao, see
/// {PrevrandaoRandomness}) can be replaced by a stronger one without touching the pool, for example
/// a contract that serves words delivered by a VRF or a randomness beacon. The pool calls it
/// synchronously (STATICCALL, at most 100,000 gas) at the moment of the draw. A source that cannot
/// answer should revert: the pool treats a revert (or running out of that gas) as a draw that found
/// no verifier, so the job waits in AwaitingVerifier, anyone can retry, and it ends as a stalemate at
/// the draw deadline if no draw succeeds. A broken source therefore delays jobs but never locks them.
interface IRandomnessSource {
    /// @notice A random word for drawing the verifier of `stage` of job `jobId`.
    /// @dev Must vary between jobs and stages within one block and between blocks. The pool reduces it
    /// modulo the number of bonded verifiers, so every bit counts.
    /// @param jobId The job whose verifier is being drawn.
    /// @param stage The stage (1-based) for which the verifier is being drawn.
    /// @return word A uniformly distributed 256-bit word (as far as the source can promise).
    function randomness(uint256 jobId, uint256 stage) external view returns (uint256 word);
}
