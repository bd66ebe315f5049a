// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "./IRandomnessSource.sol";

/// @title FutureBlockRandomness
/// @notice Default {IRandomnessSource}: the hash of the block after the request.
/// @dev The request id is the number of the block whose hash is the word (`block.number + 1` at the
/// request). The word is readable from the block after that one (a block cannot read its own
/// hash): a request in block N can be drawn from block N + 2 on. Nobody knows that hash when the request is made, so the party that triggers a draw
/// cannot see its outcome first, and nobody can change the draw's verifier set after the hash exists
/// (the pool freezes draw weights from the request on). What remains, stated plainly:
/// - the proposer of the target block can withhold it (losing its reward) to get another hash, one
///   re-roll per block it proposes; for value at stake where that matters, use a VRF adapter;
/// - the hash is readable for 256 blocks only (`Expired` after that); the pool then requests anew,
///   so a party could get a re-roll by keeping everyone from calling `drawVerifiers` for 256 blocks;
///   any honest party (verifier workers, the user, the generator) calling it in time prevents that.
/// On a local Hardhat network the hash is deterministic given the transactions: fine for tests,
/// not for value.
contract FutureBlockRandomness is IRandomnessSource {
    /// @inheritdoc IRandomnessSource
    function requestRandomness() external view returns (uint256 requestId) {
        return block.number + 1;
    }

    /// @inheritdoc IRandomnessSource
    function randomness(uint256 requestId) external view returns (Status status, uint256 word) {
        if (block.number <= requestId) return (Status.Pending, 0);
        bytes32 h = blockhash(requestId);
        if (h == bytes32(0)) return (Status.Expired, 0);
        return (Status.Ready, uint256(keccak256(abi.encode(h, block.chainid, msg.sender, requestId))));
    }
}
