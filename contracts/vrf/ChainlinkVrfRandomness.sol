// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IRandomnessSource} from "../IRandomnessSource.sol";
import {IChainlinkVrfRandomness} from "./IChainlinkVrfRandomness.sol";
import {IVRFCoordinatorV2Plus, VRFV2PlusClient} from "./IVRFCoordinatorV2Plus.sol";

/// @title ChainlinkVrfRandomness
/// @notice The StakePool's randomness from Chainlink VRF v2.5 (see {IChainlinkVrfRandomness}).
/// @dev Why it is safe to draw from: the word is produced by the oracle's VRF proof after the request,
/// which the pool makes only once its draw weights are frozen; neither the party that triggers the
/// request nor a block proposer can choose it (unlike {FutureBlockRandomness}, whose target block a
/// proposer can withhold). The oracle can delay its answer but not bias it; an answer later than
/// `maxWait` is ignored by the pool (the request reads `Expired` and is made again), so a delay buys no
/// re-roll the oracle could use: every new request gets an unpredictable word too. Setup: deploy with
/// the coordinator and a funded subscription, add this contract as a consumer of the subscription,
/// `setRequester(pool)`, then `pool.setRandomnessSource(this)`. The pool calls {requestRandomness}
/// with a gas cap (`StakePool.RANDOMNESS_GAS`): measure the coordinator's request gas on the target
/// chain first (`test/pool/vrf.test.ts` measures this contract against a mock coordinator).
contract ChainlinkVrfRandomness is IChainlinkVrfRandomness, Ownable2Step {
    /// @dev Stored per request: when it was made and, once answered, the word.
    struct Request {
        uint64 requestedAt;
        bool fulfilled;
        uint256 word;
    }

    address private immutable _coordinator;
    address private _requester;
    VrfConfig private _config;
    mapping(uint256 => Request) private _requests;

    constructor(address coordinator_, VrfConfig memory config_, address owner_) Ownable(owner_) {
        if (coordinator_ == address(0)) revert ChainlinkVrfBadConfig("coordinator");
        _coordinator = coordinator_;
        _setConfig(config_);
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function setRequester(address requester_) external onlyOwner {
        _requester = requester_;
        emit RequesterSet(requester_);
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function setConfig(VrfConfig calldata config_) external onlyOwner {
        _setConfig(config_);
    }

    /// @inheritdoc IRandomnessSource
    function requestRandomness() external returns (uint256 requestId) {
        // INVARIANT: only the pool spends the subscription (anyone else could drain it).
        if (msg.sender != _requester) revert ChainlinkVrfNotRequester(msg.sender, _requester);
        VrfConfig memory c = _config;
        requestId = IVRFCoordinatorV2Plus(_coordinator).requestRandomWords(
            VRFV2PlusClient.RandomWordsRequest({
                keyHash: c.keyHash,
                subId: c.subId,
                requestConfirmations: c.requestConfirmations,
                callbackGasLimit: c.callbackGasLimit,
                numWords: 1,
                extraArgs: VRFV2PlusClient._argsToBytes(VRFV2PlusClient.ExtraArgsV1({nativePayment: c.nativePayment}))
            })
        );
        _requests[requestId].requestedAt = uint64(block.timestamp);
        emit VrfRequested(requestId, msg.sender);
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external {
        // INVARIANT: only the coordinator answers, once per request this contract made.
        if (msg.sender != _coordinator) revert ChainlinkVrfNotCoordinator(msg.sender, _coordinator);
        Request storage r = _requests[requestId];
        if (r.requestedAt == 0 || r.fulfilled) revert ChainlinkVrfUnknownRequest(requestId);
        if (randomWords.length == 0) revert ChainlinkVrfNoWords(requestId);
        r.fulfilled = true;
        r.word = randomWords[0];
        emit VrfFulfilled(requestId, randomWords[0]);
    }

    /// @inheritdoc IRandomnessSource
    function randomness(uint256 requestId) external view returns (Status status, uint256 word) {
        Request memory r = _requests[requestId];
        if (r.requestedAt == 0) return (Status.Pending, 0);
        // INVARIANT: an answer after maxWait is never used (the pool has requested anew by then).
        if (block.timestamp > uint256(r.requestedAt) + _config.maxWait) return (Status.Expired, 0);
        if (!r.fulfilled) return (Status.Pending, 0);
        return (Status.Ready, uint256(keccak256(abi.encode(r.word, block.chainid, requestId))));
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function coordinator() external view returns (address) {
        return _coordinator;
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function requester() external view returns (address) {
        return _requester;
    }

    /// @inheritdoc IChainlinkVrfRandomness
    function config() external view returns (VrfConfig memory) {
        return _config;
    }

    function _setConfig(VrfConfig memory c) private {
        if (c.callbackGasLimit < 30_000) revert ChainlinkVrfBadConfig("callbackGasLimit below 30000");
        if (c.requestConfirmations == 0) revert ChainlinkVrfBadConfig("requestConfirmations must be at least 1");
        if (c.maxWait < 60) revert ChainlinkVrfBadConfig("maxWait below 60 seconds");
        _config = c;
        emit VrfConfigSet(c);
    }
}
