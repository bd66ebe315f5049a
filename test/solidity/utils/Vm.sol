// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Vm
/// @notice The subset of the Foundry cheat codes (served by Hardhat 3's Solidity test runner, EDR, at
/// the cheat-code address) that the StakePool tests use. forge-std is not available here.
interface Vm {
    /// @notice Discard the current fuzz input if `condition` is false.
    function assume(bool condition) external pure;
    /// @notice The next call is made from `sender`.
    function prank(address sender) external;
    /// @notice All following calls are made from `sender` until {stopPrank}.
    function startPrank(address sender) external;
    function stopPrank() external;
    /// @notice Set block.timestamp.
    function warp(uint256 timestamp) external;
    /// @notice Set block.number.
    function roll(uint256 blockNumber) external;
    /// @notice Set block.prevrandao.
    function prevrandao(bytes32 value) external;
    /// @notice Set the native balance of `account`.
    function deal(address account, uint256 balance) external;
    /// @notice The next call must revert (with anything / with this selector / with exactly this data).
    function expectRevert() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    /// @notice Snapshot the whole EVM state and go back to it.
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
    /// @notice Read and write a raw storage slot of `target`.
    function load(address target, bytes32 slot) external view returns (bytes32 value);
    function store(address target, bytes32 slot, bytes32 value) external;
    /// @notice The address of private key `privateKey`.
    function addr(uint256 privateKey) external pure returns (address);
    /// @notice An ECDSA signature of `digest` with `privateKey`.
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    /// @notice The environment variable `name` as a uint256, or `defaultValue` if it is not set.
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
    /// @notice Append `data` and a newline to the file at `path` (needs fsPermissions in the config).
    function writeLine(string calldata path, string calldata data) external;
    /// @notice Name an address in traces.
    function label(address account, string calldata name) external;
}
