// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SortitionTrees} from "../../../contracts/lib/SortitionTrees.sol";

/// @notice One SortitionTrees.Tree behind external functions, with its nodes readable; lanes count
/// weight in `unit`s.
contract SortitionHarness {
    using SortitionTrees for SortitionTrees.Tree;

    SortitionTrees.Tree internal t;
    uint256 public immutable unit;

    constructor(uint256 unit_) {
        unit = unit_;
    }

    function set(address member, uint256 weight) external {
        t.set(member, weight, unit);
    }

    function draw(uint256 r) external view returns (address) {
        return t.draw(r);
    }

    /// @notice Gas of the library draw alone (no call overhead).
    function drawGas(uint256 r) external view returns (uint256 used, address picked) {
        uint256 g = gasleft();
        picked = t.draw(r);
        used = g - gasleft();
    }

    function weightOf(address member) external view returns (uint256) {
        return t.weightOf(member);
    }

    function total() external view returns (uint256) {
        return t.total;
    }

    function active() external view returns (uint256) {
        return t.active;
    }

    function leaves() external view returns (uint256) {
        return t.leaves;
    }

    /// @notice Lane `lane` of the slot of `group` at `level`.
    function lane(uint256 level, uint256 group, uint256 lane_) external view returns (uint256) {
        return (t.node[(level << 32) | group] >> (64 * lane_)) & type(uint64).max;
    }

    function depth() external view returns (uint256) {
        return SortitionTrees.depth(t.leaves);
    }

    function memberAt(uint256 i) external view returns (address) {
        return t.memberAt[i];
    }
}
