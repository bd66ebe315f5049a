// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {SortitionHarness} from "./utils/SortitionHarness.sol";
import {SortitionTrees} from "../../contracts/lib/SortitionTrees.sol";
import {console} from "hardhat/console.sol";

/// @notice The Fenwick sum tree against a naive model: after any sequence of set() calls every node
/// holds the sum of its interval, total and active are right, and draw(r) returns the member whose
/// cumulative interval (in join order) holds r % total; zero-weight members are never drawn.
contract SortitionTreesTest is Test {
    uint256 internal constant MEMBERS = 24;

    SortitionHarness internal h;
    // The naive model: weights in join order.
    address[] internal joined;
    mapping(address => uint256) internal w;
    mapping(address => bool) internal isJoined;

    function setUp() public {
        h = new SortitionHarness();
    }

    function _member(uint256 i) internal pure returns (address) {
        return address(uint160(0xA000 + i));
    }

    function _set(address m, uint256 weight) internal {
        h.set(m, weight);
        w[m] = weight;
        if (!isJoined[m] && weight != 0) {
            isJoined[m] = true;
            joined.push(m);
        }
    }

    /// @dev The naive prefix scan.
    function _naiveDraw(uint256 r) internal view returns (address) {
        uint256 total;
        for (uint256 i; i < joined.length; ++i) total += w[joined[i]];
        r %= total;
        uint256 acc;
        for (uint256 i; i < joined.length; ++i) {
            acc += w[joined[i]];
            if (r < acc) return joined[i];
        }
        revert("unreachable");
    }

    function _checkConsistent(uint256 seed) internal view {
        uint256 n = joined.length;
        assertEq(h.leaves(), n, "one leaf per member that ever had weight, in join order");
        uint256 total;
        uint256 active;
        for (uint256 i; i < n; ++i) {
            address m = joined[i];
            assertEq(h.memberAt(i + 1), m, "leaf order is join order");
            assertEq(h.weightOf(m), w[m], "weight");
            total += w[m];
            if (w[m] != 0) ++active;
        }
        assertEq(h.total(), total, "total == sum of weights");
        assertEq(h.active(), active, "active == members with weight > 0");
        // node[i] == sum of the leaves (i - lowbit(i), i]
        for (uint256 i = 1; i <= n; ++i) {
            uint256 low = i & (~i + 1);
            uint256 s;
            for (uint256 j = i - low + 1; j <= i; ++j) s += w[joined[j - 1]];
            assertEq(h.node(i), s, "node sum");
        }
        if (total == 0) return;
        // Both ends of every member's interval, and random points, agree with the naive scan.
        uint256 acc;
        for (uint256 i; i < n; ++i) {
            address m = joined[i];
            if (w[m] != 0) {
                assertEq(h.draw(acc), m, "start of interval");
                assertEq(h.draw(acc + w[m] - 1), m, "end of interval");
                assertEq(h.draw(acc + total), m, "r is taken mod total");
            }
            acc += w[m];
        }
        for (uint256 i; i < 32; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            address got = h.draw(r);
            assertEq(got, _naiveDraw(r), "draw(r) == naive prefix scan");
            assertTrue(w[got] != 0, "a zero-weight member is never drawn");
        }
    }

    /// @notice Random set() sequences (joins, raises, lowers, removals to 0, re-joins, no-op sets).
    function testFuzz_randomSetSequencesKeepTheTreeConsistent(uint256 seed, uint8 steps) public {
        uint256 count = bound(steps, 1, 60);
        for (uint256 s; s < count; ++s) {
            uint256 x = uint256(keccak256(abi.encode(seed, s)));
            address m = _member(x % MEMBERS);
            uint256 kind = (x >> 8) % 8;
            uint256 weight;
            if (kind == 0) weight = 0; // remove
            else if (kind == 1) weight = w[m]; // no-op
            else if (kind == 2) weight = type(uint96).max >> 8; // large
            else weight = 1 + ((x >> 16) % 1000); // small: rounding at interval edges matters
            _set(m, weight);
        }
        _checkConsistent(seed);
    }

    /// @notice The weight cap and the empty tree.
    function test_rejectsOversizedWeightsAndDrawsOnEmptyTrees() public {
        vm.expectRevert(abi.encodeWithSelector(SortitionTrees.SortitionEmptyTree.selector));
        h.draw(0);
        vm.expectRevert(abi.encodeWithSelector(SortitionTrees.SortitionWeightTooLarge.selector, uint256(1) << 96));
        h.set(_member(0), uint256(1) << 96);
        _set(_member(0), type(uint96).max);
        _set(_member(0), 0);
        assertEq(h.leaves(), 1, "a member that leaves keeps its leaf");
        vm.expectRevert(abi.encodeWithSelector(SortitionTrees.SortitionEmptyTree.selector));
        h.draw(5);
        _set(_member(1), 0);
        assertEq(h.leaves(), 1, "setting 0 for a non-member creates no leaf");
    }

    /// @notice Stake-weighted: over 4,000 words each member is drawn with its share of the weight
    /// (within 3 percentage points), and a removed member never.
    function test_drawFrequencyFollowsWeight() public {
        uint256[5] memory ws = [uint256(100), 200, 300, 400, 0];
        for (uint256 i; i < 5; ++i) _set(_member(i), 1 + i); // join all, then set the real weights
        for (uint256 i; i < 5; ++i) _set(_member(i), ws[i]);
        uint256[5] memory hits;
        uint256 words = 4000;
        for (uint256 i; i < words; ++i) {
            address m = h.draw(uint256(keccak256(abi.encode("freq", i))));
            hits[uint160(m) - 0xA000]++;
        }
        assertEq(hits[4], 0, "zero weight never drawn");
        for (uint256 i; i < 4; ++i) {
            uint256 expected = words * ws[i] / 1000;
            uint256 diff = hits[i] > expected ? hits[i] - expected : expected - hits[i];
            assertLe(diff, words * 3 / 100, "frequency within 3 points of weight share");
        }
    }

    /// @notice Gas of the library draw at 10, 100 and 1,000 members (logged; the issue's limit of
    /// 60,000 gas at 1,000 verifiers is asserted for the library part).
    function test_gas_drawAt10_100_1000Members() public {
        uint256 n;
        uint256[3] memory sizes = [uint256(10), 100, 1000];
        for (uint256 s; s < 3; ++s) {
            for (; n < sizes[s]; ++n) h.set(_member(n), 100 + n);
            uint256 worst;
            uint256 sum;
            for (uint256 i; i < 16; ++i) {
                (uint256 g,) = h.drawGas(uint256(keccak256(abi.encode(s, i))));
                sum += g;
                if (g > worst) worst = g;
            }
            console.log("SortitionTrees.draw members=%d mean gas=%d max gas=%d", n, sum / 16, worst);
            if (n == 1000) assertLe(worst, 60_000, "draw at 1,000 members <= 60,000 gas");
        }
    }
}
