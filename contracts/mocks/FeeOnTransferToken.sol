// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice Test mock: burns 1% of every transfer (mints and burns are exact). The StakePool must
/// reject it because the amount it receives differs from the amount sent.
contract FeeOnTransferToken is ERC20 {
    /// @notice Whether transfers burn the fee (tests turn it off to set the pool up first).
    bool public feeOn = true;

    constructor() ERC20("Fee On Transfer", "FOT") {}

    function setFeeOn(bool on) external {
        feeOn = on;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (feeOn && from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}
