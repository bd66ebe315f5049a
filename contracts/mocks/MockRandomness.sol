// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "../IRandomnessSource.sol";

/// @title MockRandomness
/// @notice Test mock: returns a value the test sets, so that tests choose which verifier a draw starts
/// probing at (index = value % verifierCount).
contract MockRandomness is IRandomnessSource {
    uint256 public value;

    function set(uint256 value_) external {
        value = value_;
    }

    function randomness(uint256, uint256) external view returns (uint256) {
        return value;
    }
}
