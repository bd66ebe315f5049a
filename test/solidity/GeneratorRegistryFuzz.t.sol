// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PoolFixture} from "./utils/PoolFixture.sol";
import {GeneratorRegistry} from "../../contracts/GeneratorRegistry.sol";
import {IGeneratorRegistry} from "../../contracts/IGeneratorRegistry.sol";

/// @notice The registry's enumeration under random sequences of listings, updates and departures:
/// after every step the listed set, each model's list, `serves` and the deposits held agree with a
/// model of what should be listed (swap-and-pop removal never loses or duplicates a generator).
contract GeneratorRegistryFuzzTest is PoolFixture {
    uint256 internal constant ACTORS = 4;
    uint256 internal constant MODELS = 6;
    uint256 internal constant DEPOSIT = 10;

    GeneratorRegistry internal registry;
    address[ACTORS] internal actors;
    bool[ACTORS] internal listed;
    uint256[ACTORS] internal masks;

    function _model(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("model", i));
    }

    function _setUp() internal {
        _deploy(_defaults());
        registry = new GeneratorRegistry(pool, DEPOSIT);
        for (uint256 a; a < ACTORS; ++a) {
            actors[a] = address(uint160(0x9000 + a));
            token.mint(actors[a], 1_000);
            vm.prank(actors[a]);
            token.approve(address(registry), type(uint256).max);
        }
    }

    function testFuzz_enumerationMatchesTheListings(uint256 seed) public {
        _setUp();
        for (uint256 step; step < 24; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 a = r % ACTORS;
            if ((r >> 8) % 4 == 3) {
                if (listed[a]) {
                    vm.prank(actors[a]);
                    registry.unregister();
                    listed[a] = false;
                    masks[a] = 0;
                } else {
                    vm.prank(actors[a]);
                    vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.GeneratorRegistryNotRegistered.selector, actors[a]));
                    registry.unregister();
                }
            } else {
                uint256 mask = (r >> 16) % (1 << MODELS);
                if (mask == 0) mask = 1;
                uint256 n;
                for (uint256 i; i < MODELS; ++i) if (mask & (1 << i) != 0) ++n;
                bytes32[] memory ms = new bytes32[](n);
                uint256 k;
                // a random order of the chosen ids: start at a random model
                uint256 start = (r >> 32) % MODELS;
                for (uint256 j; j < MODELS; ++j) {
                    uint256 i = (start + j) % MODELS;
                    if (mask & (1 << i) != 0) ms[k++] = _model(i);
                }
                vm.prank(actors[a]);
                registry.register(ms, uint128(1 + (r >> 40) % 1000), "http://g.example");
                listed[a] = true;
                masks[a] = mask;
            }
            _check();
        }
    }

    function _check() internal view {
        uint256 count;
        for (uint256 a; a < ACTORS; ++a) if (listed[a]) ++count;
        assertEq(registry.generatorCount(), count, "generatorCount");
        assertEq(token.balanceOf(address(registry)), count * DEPOSIT, "one deposit per listing");
        (IGeneratorRegistry.Listing[] memory all, uint256 total) = registry.generators(0, 100);
        assertEq(total, count, "generators total");
        for (uint256 i; i < all.length; ++i) {
            uint256 a = uint160(all[i].generator) - 0x9000;
            assertTrue(a < ACTORS && listed[a], "a listed generator is enumerated");
            for (uint256 j; j < i; ++j) assertTrue(all[j].generator != all[i].generator, "no duplicates");
        }
        for (uint256 m; m < MODELS; ++m) {
            uint256 expected;
            for (uint256 a; a < ACTORS; ++a) {
                bool should = masks[a] & (1 << m) != 0;
                if (should) ++expected;
                assertTrue(registry.serves(actors[a], _model(m)) == should, "serves");
            }
            (IGeneratorRegistry.Listing[] memory page, uint256 t) = registry.generatorsOf(_model(m), 0, 100);
            assertEq(t, expected, "model list length");
            for (uint256 i; i < page.length; ++i) {
                uint256 a = uint160(page[i].generator) - 0x9000;
                assertTrue(masks[a] & (1 << m) != 0, "only generators serving the model");
                for (uint256 j; j < i; ++j) assertTrue(page[j].generator != page[i].generator, "no duplicates in a model list");
            }
        }
    }
}
