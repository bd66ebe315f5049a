// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SortitionTrees} from "../../../contracts/lib/SortitionTrees.sol";

/// @notice One SortitionTrees.Tree behind external functions, with its nodes readable.
contract SortitionHarness {
    using SortitionTrees for SortitionTrees.Tree;

    SortitionTrees.Tree internal t;

    function set(address member, uint256 weight) external {
        t.set(member, weight);
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

    function node(uint256 i) external view returns (uint256) {
        return t.node[i];
    }

    function memberAt(uint256 i) external view returns (address) {
        return t.memberAt[i];
    }
}
