// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVRFCoordinatorV2Plus, VRFV2PlusClient} from "../vrf/IVRFCoordinatorV2Plus.sol";

interface IVrfConsumer {
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external;
}

/// @title MockVrfCoordinator
/// @notice Test stand-in for Chainlink's VRF v2.5 coordinator, with about its storage per request: one
/// new slot (consumer and callback gas, where the real one stores a commitment hash), one nonce update
/// per consumer and the `RandomWordsRequested` event with every field (the test reads the request from
/// it). Ids are a hash of the consumer and its nonce, as the real coordinator derives them. It answers
/// when the test calls {fulfil}, with the callback gas the request asked for.
contract MockVrfCoordinator is IVRFCoordinatorV2Plus {
    event RandomWordsRequested(
        bytes32 indexed keyHash,
        uint256 requestId,
        uint256 preSeed,
        uint256 indexed subId,
        uint16 minimumRequestConfirmations,
        uint32 callbackGasLimit,
        uint32 numWords,
        bytes extraArgs,
        address indexed sender
    );

    struct Pending {
        address consumer;
        uint32 callbackGasLimit;
    }

    mapping(address => uint64) public nonceOf;
    uint256 public lastRequestId;
    mapping(uint256 => Pending) public pending;

    function requestRandomWords(VRFV2PlusClient.RandomWordsRequest calldata req) external returns (uint256 requestId) {
        uint64 nonce = ++nonceOf[msg.sender];
        uint256 preSeed = uint256(keccak256(abi.encode(req.keyHash, msg.sender, req.subId, nonce)));
        requestId = uint256(keccak256(abi.encode(req.keyHash, preSeed)));
        pending[requestId] = Pending(msg.sender, req.callbackGasLimit);
        lastRequestId = requestId;
        emit RandomWordsRequested(req.keyHash, requestId, preSeed, req.subId, req.requestConfirmations, req.callbackGasLimit, req.numWords, req.extraArgs, msg.sender);
    }

    /// @notice Answer `requestId` with `words` (reverts if the consumer reverts).
    function fulfil(uint256 requestId, uint256[] calldata words) external {
        Pending memory p = pending[requestId];
        IVrfConsumer(p.consumer).rawFulfillRandomWords{gas: p.callbackGasLimit}(requestId, words);
    }
}
