// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title SortitionTrees
/// @notice Stake-weighted random selection over many independent sets ("trees", one per key), each a
/// Fenwick (binary indexed) sum tree over its members' weights.
/// @dev The role of Kleros v2's `SortitionTrees` (draw a member with probability weight / total in
/// O(log n)), written here as a Fenwick tree because it needs no node moves when members join:
/// - leaves are 1-based indices `1..n` given to members in the order they join a tree, never
///   reused (a member that leaves keeps its leaf at weight 0);
/// - `node[i]` holds the sum of the weights of leaves `(i - lowbit(i), i]`;
/// - {set} changes one leaf: it walks `i, i + lowbit(i), …` up to `n` (at most log2(n) + 1 writes);
///   a new leaf `n + 1` is created with its node already summing the leaves it covers;
/// - {draw} maps `r < total` to the leaf whose prefix interval holds `r` by binary lifting (one read
///   per bit of n: 10 reads at 1,000 members), so member `m` is chosen with probability
///   `weight(m) / total` when `r` is uniform.
/// The tree keeps `total` and the number of members with a positive weight in one slot.
library SortitionTrees {
    struct Tree {
        /// Sum of all weights.
        uint192 total;
        /// Number of leaves (members that ever joined).
        uint32 leaves;
        /// Number of members with weight > 0.
        uint32 active;
        mapping(uint256 index => uint256) node;
        mapping(uint256 index => address) memberAt;
        mapping(address member => uint256) indexOf;
        mapping(uint256 index => uint256) weightAt;
    }

    /// @notice A weight above 2^96 - 1 cannot be held.
    error SortitionWeightTooLarge(uint256 weight);
    /// @notice The tree has 2^32 - 1 leaves.
    error SortitionTreeFull();
    /// @notice {draw} on a tree whose total weight is zero.
    error SortitionEmptyTree();

    /// @notice Set `member`'s weight to `weight` (0 removes it from draws; its leaf stays).
    function set(Tree storage t, address member, uint256 weight) internal {
        if (weight > type(uint96).max) revert SortitionWeightTooLarge(weight);
        uint256 i = t.indexOf[member];
        uint256 n = t.leaves;
        if (i == 0) {
            if (weight == 0) return;
            if (n == type(uint32).max) revert SortitionTreeFull();
            i = n + 1;
            // the new node covers (i - lowbit(i), i]: its own weight plus the nodes i - 1, i - 2, i - 4, …
            uint256 sum = weight;
            uint256 low = i & (~i + 1);
            for (uint256 step = 1; step < low; step <<= 1) {
                sum += t.node[i - step];
            }
            t.node[i] = sum;
            t.memberAt[i] = member;
            t.indexOf[member] = i;
            t.weightAt[i] = weight;
            t.leaves = uint32(i);
            t.active += 1;
            t.total += uint192(weight);
            return;
        }
        uint256 old = t.weightAt[i];
        if (old == weight) return;
        t.weightAt[i] = weight;
        if (old == 0) t.active += 1;
        else if (weight == 0) t.active -= 1;
        if (weight > old) {
            uint256 d = weight - old;
            for (uint256 j = i; j <= n; j += j & (~j + 1)) {
                t.node[j] += d;
            }
            t.total += uint192(d);
        } else {
            uint256 d = old - weight;
            for (uint256 j = i; j <= n; j += j & (~j + 1)) {
                t.node[j] -= d;
            }
            t.total -= uint192(d);
        }
    }

    /// @notice The member whose weight interval holds `r % total`.
    function draw(Tree storage t, uint256 r) internal view returns (address) {
        uint256 total = t.total;
        if (total == 0) revert SortitionEmptyTree();
        r %= total;
        uint256 n = t.leaves;
        uint256 pos;
        uint256 step = 1;
        while (step <= n >> 1) step <<= 1;
        // INVARIANT: the prefix sum of leaves 1..pos is <= the original r, and r is now the remainder.
        for (; step != 0; step >>= 1) {
            uint256 next = pos + step;
            if (next <= n) {
                uint256 v = t.node[next];
                if (v <= r) {
                    pos = next;
                    r -= v;
                }
            }
        }
        return t.memberAt[pos + 1];
    }

    /// @notice `member`'s weight.
    function weightOf(Tree storage t, address member) internal view returns (uint256) {
        uint256 i = t.indexOf[member];
        return i == 0 ? 0 : t.weightAt[i];
    }
}
