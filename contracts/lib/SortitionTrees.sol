// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title SortitionTrees
/// @notice Stake-weighted random selection over many independent sets ("trees", one per key), each a
/// sum tree of fan-out 4 whose nodes pack their four children's sums in one storage slot.
/// @dev The role of Kleros v2's `SortitionTrees` (draw a member with probability weight / total in
/// O(log n)), laid out for few storage reads:
/// - leaves are 0-based indices `0..n-1` given to members in the order they join (exposed 1-based
///   through `indexOf`/`memberAt`), never reused (a member that leaves keeps its leaf at weight 0);
/// - level 0 packs the leaves four to a slot; a slot of level L holds, in four 64-bit lanes, the sums
///   of its four child slots of level L - 1; the single slot of the top level (the root) covers every
///   leaf. Depth: the least D ≥ 1 with 4^D ≥ n (5 at 1,000 members);
/// - {draw} descends from the root, one slot per level (5 reads and the member at 1,000 members,
///   instead of 10 node reads for a binary tree); {set} rewrites one lane per level;
/// - the lanes count weight in `unit`s (rounded up, so every positive weight counts at least one):
///   a member is drawn with probability `ceil(weight / unit) / sum of them`, which is weight / total up
///   to one unit in a weight (the pool's unit is its initial minimum bond / 2^20: a minimum bond is
///   weighed to about one part in a million); the exact weights and total are kept beside them for
///   the views. The lanes' sum must fit 64 bits (`total / unit + members < 2^64`: 2^44 minimum bonds
///   at the pool's unit), else {set} reverts.
/// The tree keeps `total` and the number of members with a positive weight in one slot.
library SortitionTrees {
    struct Tree {
        /// Sum of all weights (exact).
        uint192 total;
        /// Number of leaves (members that ever joined).
        uint32 leaves;
        /// Number of members with weight > 0.
        uint32 active;
        /// Slot `level << 32 | group`: lane c (bits 64c..64c+63) is the units of child group 4·group + c
        /// of level - 1 (of leaf 4·group + c at level 0).
        mapping(uint256 key => uint256) node;
        /// 1-based leaf index ↔ member.
        mapping(uint256 index => address) memberAt;
        mapping(address member => uint256) indexOf;
        /// Exact weight by 1-based leaf index.
        mapping(uint256 index => uint256) weightAt;
    }

    uint256 private constant LANE_BITS = 64;
    uint256 private constant LANE_MASK = (1 << 64) - 1;

    /// @notice A weight above 2^96 - 1 cannot be held, nor a tree whose units pass 2^64 - 1.
    error SortitionWeightTooLarge(uint256 weight);
    /// @notice The tree has 2^32 - 1 leaves.
    error SortitionTreeFull();
    /// @notice {draw} on a tree whose total weight is zero.
    error SortitionEmptyTree();

    /// @notice Set `member`'s weight to `weight` (0 removes it from draws; its leaf stays), counted in
    /// lanes as `ceil(weight / unit)` units.
    function set(Tree storage t, address member, uint256 weight, uint256 unit) internal {
        if (weight > type(uint96).max) revert SortitionWeightTooLarge(weight);
        uint256 i = t.indexOf[member];
        uint256 n = t.leaves;
        uint256 old;
        if (i == 0) {
            if (weight == 0) return;
            if (n == type(uint32).max) revert SortitionTreeFull();
            i = n + 1;
            // one leaf past 4^depth: a new root level, whose lane 0 is the old root's sum
            if (n != 0) {
                uint256 d = depth(n);
                if (depth(i) > d) t.node[d << 32] = laneSum(t.node[(d - 1) << 32]);
            }
            t.memberAt[i] = member;
            t.indexOf[member] = i;
            t.leaves = uint32(i);
            n = i;
        } else {
            old = t.weightAt[i];
            if (old == weight) return;
        }
        t.weightAt[i] = weight;
        if (old == 0) t.active += 1;
        else if (weight == 0) t.active -= 1;
        uint256 total = uint256(t.total) + weight - old;
        t.total = uint192(total);
        // INVARIANT: every lane fits 64 bits: no subtree holds more units than the root, whose units
        // are at most total / unit + (members rounded up).
        if (total / unit + n > LANE_MASK) revert SortitionWeightTooLarge(weight);
        uint256 qOld = units(old, unit);
        uint256 qNew = units(weight, unit);
        if (qOld != qNew) _moveUnits(t, i - 1, depth(n), qOld, qNew);
    }

    /// @dev Replace `qOld` by `qNew` units in the lane of every level above leaf `leaf` (0-based).
    function _moveUnits(Tree storage t, uint256 leaf, uint256 levels, uint256 qOld, uint256 qNew) private {
        for (uint256 level; level < levels; ++level) {
            uint256 key = (level << 32) | (leaf >> (2 * level + 2));
            uint256 shift = LANE_BITS * ((leaf >> (2 * level)) & 3);
            uint256 v = t.node[key];
            uint256 lane = ((v >> shift) & LANE_MASK) + qNew - qOld;
            t.node[key] = (v & ~(LANE_MASK << shift)) | (lane << shift);
        }
    }

    /// @notice The member whose unit interval (in leaf order) holds `r % (sum of units)`.
    function draw(Tree storage t, uint256 r) internal view returns (address) {
        uint256 n = t.leaves;
        if (n == 0) revert SortitionEmptyTree();
        uint256 level = depth(n) - 1;
        uint256 v = t.node[level << 32];
        uint256 sum = laneSum(v);
        if (sum == 0) revert SortitionEmptyTree();
        r %= sum;
        uint256 g;
        // INVARIANT: r is below the units of the current slot's group, and now the offset inside it.
        for (;;) {
            uint256 c;
            for (; c < 3; ++c) {
                uint256 lane = (v >> (LANE_BITS * c)) & LANE_MASK;
                if (r < lane) break;
                r -= lane;
            }
            g = (g << 2) | c;
            if (level == 0) break;
            --level;
            v = t.node[(level << 32) | g];
        }
        return t.memberAt[g + 1];
    }

    /// @notice `member`'s weight (exact).
    function weightOf(Tree storage t, address member) internal view returns (uint256) {
        uint256 i = t.indexOf[member];
        return i == 0 ? 0 : t.weightAt[i];
    }

    /// @notice Levels of a tree of `leaves` ≥ 1 leaves: the least D ≥ 1 with 4^D ≥ leaves.
    function depth(uint256 leaves) internal pure returns (uint256 d) {
        d = 1;
        for (uint256 cap = 4; cap < leaves; cap <<= 2) ++d;
    }

    /// @notice A weight in lane units, rounded up.
    function units(uint256 weight, uint256 unit) internal pure returns (uint256) {
        return weight == 0 ? 0 : (weight - 1) / unit + 1;
    }

    /// @notice The sum of a slot's four lanes.
    function laneSum(uint256 v) internal pure returns (uint256) {
        return (v & LANE_MASK) + ((v >> 64) & LANE_MASK) + ((v >> 128) & LANE_MASK) + (v >> 192);
    }
}
