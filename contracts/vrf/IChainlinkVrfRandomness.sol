// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "../IRandomnessSource.sol";

/// @title IChainlinkVrfRandomness
/// @notice An {IRandomnessSource} backed by Chainlink VRF v2.5: {requestRandomness} asks the
/// coordinator for one word, the coordinator's callback stores it, {randomness} reports it `Ready`.
/// A request the coordinator has not answered within `maxWait` seconds reads `Expired`, so the pool
/// requests anew (an unfunded subscription or a stuck oracle delays draws, never locks them).
interface IChainlinkVrfRandomness is IRandomnessSource {
    /// @notice The VRF settings of new requests.
    struct VrfConfig {
        /// The coordinator's key hash (gas lane).
        bytes32 keyHash;
        /// The funded VRF subscription (this contract must be one of its consumers).
        uint256 subId;
        /// Blocks the oracle waits before answering (≥ the coordinator's minimum; more resists re-orgs).
        uint16 requestConfirmations;
        /// Gas for {rawFulfillRandomWords}: storing one word needs about 50,000.
        uint32 callbackGasLimit;
        /// Pay in the native token instead of LINK.
        bool nativePayment;
        /// Seconds after which an unanswered request reads `Expired`.
        uint32 maxWait;
    }

    /// @notice `requester` asked for a word; the coordinator's id is `requestId`.
    event VrfRequested(uint256 indexed requestId, address indexed requester);
    /// @notice The coordinator answered `requestId`.
    event VrfFulfilled(uint256 indexed requestId, uint256 word);
    /// @notice The owner set who may request (the pool).
    event RequesterSet(address indexed requester);
    /// @notice The owner changed the VRF settings of later requests.
    event VrfConfigSet(VrfConfig config);

    /// @notice Only the requester (the pool) may spend the subscription.
    error ChainlinkVrfNotRequester(address caller, address requester);
    /// @notice Only the coordinator may answer.
    error ChainlinkVrfNotCoordinator(address caller, address coordinator);
    /// @notice The coordinator answered a request this contract never made, or answered it twice.
    error ChainlinkVrfUnknownRequest(uint256 requestId);
    /// @notice The coordinator sent no word.
    error ChainlinkVrfNoWords(uint256 requestId);
    /// @notice A setting out of range (`what` names it).
    error ChainlinkVrfBadConfig(string what);

    /// @notice Set the one address allowed to call {requestRandomness} (the pool). Owner only.
    function setRequester(address requester) external;

    /// @notice Change the settings of later requests. Owner only.
    function setConfig(VrfConfig calldata config) external;

    /// @notice The coordinator's callback with the words of `requestId` (only the first is used).
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external;

    function coordinator() external view returns (address);

    function requester() external view returns (address);

    function config() external view returns (VrfConfig memory);
}
