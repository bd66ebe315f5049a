// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StakePool} from "../../contracts/StakePool.sol";
import {IStakePool} from "../../contracts/IStakePool.sol";
import {TestToken} from "../../contracts/mocks/TestToken.sol";
import {MockRandomness} from "../../contracts/mocks/MockRandomness.sol";

/// @notice Limits that cannot be reached by honest use in a test's lifetime, reached by writing the
/// pool's storage directly: 2^16 parameter sets and 2^24 - 1 verifiers.
contract StakePoolLimitsTest is Test {
    // Storage layout: Ownable._owner (0), Ownable2Step._pendingOwner (1), StakePool._head (2),
    // _randomness (3), _params (4), _jobs (5), _stageVerifier (6), _resultOf (7),
    // _creditPlusOne (8), _verifiers (9), _verifierList (10).
    bytes32 internal constant HEAD_SLOT = bytes32(uint256(2));
    bytes32 internal constant VERIFIER_LIST_SLOT = bytes32(uint256(10));

    TestToken internal token;
    StakePool internal pool;
    IStakePool.Params internal p;

    function setUp() public {
        token = new TestToken();
        p = IStakePool.Params({
            alphaBps: 10_000,
            betaBps: 20_000,
            commitWindow: 1 hours,
            challengeWindow: 1 hours,
            verifyWindow: 1 hours,
            drawWindow: 1 days,
            maxStages: 3,
            unbondDelay: 1 days,
            minBond: 1
        });
        pool = new StakePool(token, address(this), p, new MockRandomness());
    }

    function test_setParamsStopsAfter65535Sets() public {
        bytes32 head = vm.load(address(pool), HEAD_SLOT);
        assertEq(uint256(head) & type(uint64).max, pool.nextJobId(), "layout: nextJobId at the bottom of slot 2");
        // paramsId lives in bits 64..79
        bytes32 patched = bytes32(uint256(head) | (uint256(type(uint16).max - 1) << 64));
        vm.store(address(pool), HEAD_SLOT, patched);
        (, uint16 id) = pool.params();
        assertEq(id, type(uint16).max - 1, "patched paramsId");
        pool.setParams(p); // the last id, 65535
        (, id) = pool.params();
        assertEq(id, type(uint16).max, "last id");
        vm.expectRevert(IStakePool.StakePoolParamsExhausted.selector);
        pool.setParams(p);
    }

    function test_bondStopsAtTheVerifierSetLimit() public {
        address a = address(0xA1);
        token.mint(a, 10);
        vm.prank(a);
        token.approve(address(pool), 10);
        vm.prank(a);
        pool.bond(1);
        assertEq(uint256(vm.load(address(pool), VERIFIER_LIST_SLOT)), 1, "layout: verifier list length");
        vm.store(address(pool), VERIFIER_LIST_SLOT, bytes32(uint256(type(uint24).max)));
        address b = address(0xB2);
        token.mint(b, 10);
        vm.prank(b);
        token.approve(address(pool), 10);
        vm.prank(b);
        vm.expectRevert(IStakePool.StakePoolTooManyVerifiers.selector);
        pool.bond(1);
        // a listed verifier can still add to its bond
        vm.prank(a);
        pool.bond(1);
        assertEq(pool.bondOf(a).bond, 2, "listed verifier tops up");
    }
}
