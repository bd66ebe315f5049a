// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Credits
/// @notice Pull-payment credits, stored plus one once an account was first credited (so that crediting
/// an account that withdrew before costs a warm-slot write instead of a fresh one).
library Credits {
    /// @dev Credit `amount` to `account`.
    function add(mapping(address => uint256) storage creditPlusOne, address account, uint256 amount) internal {
        uint256 stored = creditPlusOne[account];
        creditPlusOne[account] = (stored == 0 ? 1 : stored) + amount;
    }
}
