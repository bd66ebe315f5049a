// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title VRFV2PlusClient
/// @notice The request struct and extra-args encoding of Chainlink VRF v2.5, as the coordinator takes
/// them (the subset this project uses; field names and layout as in Chainlink's
/// VRFV2PlusClient.sol, which is not a dependency here).
library VRFV2PlusClient {
    /// @dev `bytes4(keccak256("VRF ExtraArgsV1"))`, the tag of {ExtraArgsV1}.
    bytes4 internal constant EXTRA_ARGS_V1_TAG = bytes4(keccak256("VRF ExtraArgsV1"));

    struct ExtraArgsV1 {
        /// Pay the request in the chain's native token (true) or in LINK (false).
        bool nativePayment;
    }

    struct RandomWordsRequest {
        bytes32 keyHash;
        uint256 subId;
        uint16 requestConfirmations;
        uint32 callbackGasLimit;
        uint32 numWords;
        bytes extraArgs;
    }

    function _argsToBytes(ExtraArgsV1 memory extraArgs) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(EXTRA_ARGS_V1_TAG, extraArgs);
    }
}

/// @title IVRFCoordinatorV2Plus
/// @notice The one call of Chainlink's VRF v2.5 coordinator that a consumer makes. The coordinator
/// later calls the consumer's `rawFulfillRandomWords(requestId, randomWords)`.
interface IVRFCoordinatorV2Plus {
    function requestRandomWords(VRFV2PlusClient.RandomWordsRequest calldata req) external returns (uint256 requestId);
}
