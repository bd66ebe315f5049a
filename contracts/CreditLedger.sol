// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IVerifierRegistry} from "./IVerifierRegistry.sol";
import {Credits} from "./lib/Credits.sol";

/// @title CreditLedger
/// @notice The pool's money in and out: exact pulls of the one stake token and pull-payment credits.
/// @dev Every payout of the pool is a credit here, withdrawn by its owner ({withdraw}); nothing else
/// transfers tokens out except {VerifierRegistry-withdrawUnbonded}. Credits are stored plus one once
/// an account was first credited, so that crediting an account that withdrew before costs a
/// warm-slot write instead of a fresh one; {creditOf} reports the real credit.
abstract contract CreditLedger is IVerifierRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    IERC20 internal immutable _token;

    /// @dev Credit plus one (0 = never credited).
    mapping(address account => uint256) internal _creditPlusOne;

    constructor(IERC20 token) {
        _token = token;
    }

    /// @inheritdoc IVerifierRegistry
    function withdraw() external nonReentrant returns (uint256 amount) {
        uint256 stored = _creditPlusOne[msg.sender];
        if (stored <= 1) revert StakePoolNothingToWithdraw(msg.sender);
        amount = stored - 1;
        _creditPlusOne[msg.sender] = 1;
        _token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// @inheritdoc IVerifierRegistry
    function creditOf(address account) public view returns (uint256) {
        uint256 stored = _creditPlusOne[account];
        return stored == 0 ? 0 : stored - 1;
    }

    /// @dev Pull exactly `amount` from `from`; reject tokens that deliver a different amount.
    function _pull(address from, uint256 amount) internal {
        IERC20 token = _token;
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        // INVARIANT: the pool holds exactly what it recorded; a token that delivers less is refused.
        if (received != amount) revert StakePoolTransferAmountMismatch(amount, received);
    }

    /// @dev Credit `amount` to `account`.
    function _credit(address account, uint256 amount) internal {
        Credits.add(_creditPlusOne, account, amount);
    }

    /// @dev Take `amount` out of `account`'s credit (for bonding from credit).
    function _debit(address account, uint256 amount) internal {
        uint256 credit = creditOf(account);
        if (amount > credit) revert StakePoolInsufficientCredit(account, credit, amount);
        _creditPlusOne[account] -= amount;
    }
}
