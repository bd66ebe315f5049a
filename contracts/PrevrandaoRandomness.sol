// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "./IRandomnessSource.sol";

/// @title PrevrandaoRandomness
/// @notice Default {IRandomnessSource}: `keccak256(block.prevrandao, chainid, pool, jobId, stage)`.
/// @dev Bias, stated plainly:
/// - `block.prevrandao` (the beacon chain RANDAO mix) is known to the block proposer before it
///   publishes its block, and to everyone once the previous block is out. A proposer can therefore
///   decide whether to include a transaction that triggers a draw (a challenge, a result that moves
///   the job to the next stage, a `timeoutVerifier` or `drawVerifier` call) in its block, knowing
///   which verifier that draw selects; a verifier that is also a proposer (or bribes one) can steer
///   draws towards itself or away from it by delaying the trigger to a block it likes.
/// - A proposer can also withhold its block entirely to re-roll the mix (costing it the block reward),
///   one bit of influence per slot it controls.
/// - Anyone can compute the outcome of a draw for the current block before sending the trigger, so
///   the party that triggers a draw (user, previous verifier, or anyone calling a timeout) may wait
///   for a block whose mix selects a verifier it prefers. Its choice is limited to the set of eligible
///   verifiers and costs it time (the stage deadlines still run).
/// On chains without a beacon (e.g. a local Hardhat network) `prevrandao` is whatever the node sets.
/// For value at stake where these biases matter, replace this source (see
/// {StakePool-setRandomnessSource}) with one backed by a VRF or a commit-reveal beacon.
contract PrevrandaoRandomness is IRandomnessSource {
    /// @inheritdoc IRandomnessSource
    function randomness(uint256 jobId, uint256 stage) external view returns (uint256 word) {
        return uint256(keccak256(abi.encode(block.prevrandao, block.chainid, msg.sender, jobId, stage)));
    }
}
