// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test mock: a malicious ERC-20 that, once armed, calls `reentryTarget` with `reentryData` from inside its
/// next transfer (i.e. while the StakePool is in the middle of a pull or a payout) and records what
/// happened. With `propagate` it bubbles the inner revert up; otherwise it swallows it.
contract ReentrantToken is ERC20 {
    address public reentryTarget;
    bytes public reentryData;
    bool public armed;
    bool public propagate;
    /// @notice Whether the last re-entrant call succeeded, and what it returned or reverted with.
    bool public reentered;
    bytes public lastReturn;
    uint256 public attempts;

    constructor() ERC20("Reentrant", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata data_, bool propagate_) external {
        reentryTarget = target_;
        reentryData = data_;
        propagate = propagate_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from != address(0) && to != address(0)) {
            armed = false;
            attempts++;
            (bool ok, bytes memory ret) = reentryTarget.call(reentryData);
            reentered = ok;
            lastReturn = ret;
            if (!ok && propagate) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }
}
