// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IRandomnessSource
/// @notice Request/fulfil randomness for the StakePool's verifier draws.
/// @dev The pool asks for a word with {requestRandomness} at a moment when the verifier set the draw
/// will use is already fixed (StakePool freezes its draw weights from the request until the draws
/// are done), and reads it later with {randomness}. The word must be unknown to everyone when
/// {requestRandomness} returns; that is what makes a draw impossible to steer by choosing when to
/// trigger it or by changing the verifier set first. Two shapes fit:
/// - a future block's hash ({FutureBlockRandomness}): the request names block `block.number + 1`,
///   the word is its hash, readable from the block after it (and for 256 blocks, then `Expired`);
/// - a VRF (Chainlink VRF v2.5): `requestRandomness` calls the coordinator's `requestRandomWords`
///   and returns its request id; the coordinator's callback stores the word; `randomness` reports
///   `Ready` once it is stored. An adapter contract implementing this interface drops in through
///   {StakePool-setRandomnessSource}.
/// The pool calls {randomness} with a gas cap and treats a revert, running out of gas or malformed
/// return data as `Pending`, so a broken source delays draws (jobs then settle at their draw
/// deadline) but never locks a job.
interface IRandomnessSource {
    /// @notice What {randomness} knows about a request.
    enum Status {
        /// The word does not exist yet.
        Pending,
        /// The word exists and is final.
        Ready,
        /// The word can no longer be read (a block hash older than 256 blocks); request again.
        Expired
    }

    /// @notice Ask for a new random word; returns the id to read it with.
    function requestRandomness() external returns (uint256 requestId);

    /// @notice The word of request `requestId` and whether it can be used.
    /// @return status See {Status}; `word` is meaningful only when `status` is `Ready`.
    /// @return word A uniformly distributed 256-bit word.
    function randomness(uint256 requestId) external view returns (Status status, uint256 word);
}
