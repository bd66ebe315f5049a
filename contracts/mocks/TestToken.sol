// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice A plain 18-decimal ERC-20 that anyone can mint: the stake token for local networks, demos
/// and tests. Never deploy it where tokens should have value.
contract TestToken is ERC20 {
    constructor() ERC20("Proof of Cache Test Token", "POCT") {}

    /// @notice Mint `amount` tokens to `to` (anyone may call).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
