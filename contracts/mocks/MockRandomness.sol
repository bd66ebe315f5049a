// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessSource} from "../IRandomnessSource.sol";

/// @title MockRandomness
/// @notice Test mock: requests get ids 1, 2, …; a request is Ready with the word the test set (the
/// same word for every request unless `fulfil` gave that request its own). It can be told to answer
/// Pending, Expired, revert, burn all its gas or return short data.
contract MockRandomness is IRandomnessSource {
    enum Mode {
        Value,
        Pending,
        Expired,
        Revert,
        BurnGas,
        ShortData
    }

    uint256 public value;
    Mode public mode;
    uint256 public requests;
    bool public requestReverts;
    mapping(uint256 => uint256) public wordOf;
    mapping(uint256 => bool) public hasWord;

    function set(uint256 value_) external {
        value = value_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setRequestReverts(bool reverts) external {
        requestReverts = reverts;
    }

    /// @notice Give request `requestId` its own word.
    function fulfil(uint256 requestId, uint256 word) external {
        wordOf[requestId] = word;
        hasWord[requestId] = true;
    }

    function requestRandomness() external returns (uint256) {
        if (requestReverts) revert("MockRandomness: request refused");
        return ++requests;
    }

    function randomness(uint256 requestId) external view returns (Status, uint256) {
        Mode m = mode;
        if (m == Mode.Pending) return (Status.Pending, 0);
        if (m == Mode.Expired) return (Status.Expired, 0);
        if (m == Mode.Revert) revert("MockRandomness: no word");
        if (m == Mode.BurnGas) {
            uint256 x;
            while (gasleft() > 0) x = uint256(keccak256(abi.encode(x)));
            return (Status.Ready, x);
        }
        if (m == Mode.ShortData) {
            assembly ("memory-safe") {
                mstore(0, 1)
                return(0, 16)
            }
        }
        return (Status.Ready, hasWord[requestId] ? wordOf[requestId] : value);
    }
}
