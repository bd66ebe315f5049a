// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "../IRandomnessSource.sol";

/// @title MockRandomness
/// @notice Test mock: returns a value the test sets, so that tests choose which verifier a draw starts
/// probing at (index = value % verifierCount). It can also be told to fail: revert, or burn all the
/// gas it is given.
contract MockRandomness is IRandomnessSource {
    enum Mode {
        Value,
        Revert,
        BurnGas
    }

    uint256 public value;
    Mode public mode;

    function set(uint256 value_) external {
        value = value_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function randomness(uint256, uint256) external view returns (uint256) {
        if (mode == Mode.Revert) revert("MockRandomness: no word");
        if (mode == Mode.BurnGas) {
            uint256 x;
            while (gasleft() > 0) x = uint256(keccak256(abi.encode(x)));
            return x;
        }
        return value;
    }
}
