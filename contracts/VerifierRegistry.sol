// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IVerifierRegistry} from "./IVerifierRegistry.sol";
import {CreditLedger} from "./CreditLedger.sol";
import {RegistryLogic} from "./lib/RegistryLogic.sol";
import {SortitionTrees} from "./lib/SortitionTrees.sol";

/// @title VerifierRegistry
/// @notice Verifier bonds, declared models, draw weights and unbonding (see {IVerifierRegistry});
/// the rules are in {RegistryLogic}, this contract is their entry points and token transfers.
/// @dev The pool (the contract that inherits this) tells the registry whether a draw epoch is in
/// progress ({_drawsFrozen}) and which `minBond` and `unbondDelay` are in force, locks stakes with
/// {RegistryLogic-lock} and asks {RegistryLogic-eligible} at draw time. Weights change only in a
/// synchronisation, and that runs only outside draw epochs: the whole of the rule "the set a draw
/// uses is fixed before its randomness exists".
abstract contract VerifierRegistry is CreditLedger {
    using SafeERC20 for IERC20;
    using RegistryLogic for RegistryLogic.Layout;
    using SortitionTrees for SortitionTrees.Tree;

    /// @notice How many models one verifier may declare.
    uint256 public constant MAX_MODELS_PER_VERIFIER = RegistryLogic.MAX_MODELS_PER_VERIFIER;
    /// @notice How many unbond requests one verifier may have pending.
    uint256 public constant MAX_UNBOND_REQUESTS = RegistryLogic.MAX_UNBOND_REQUESTS;

    RegistryLogic.Layout internal _reg;

    constructor(IERC20 token) CreditLedger(token) {
        _reg.syncLive = true;
    }

    function _drawsFrozen() internal view virtual returns (bool);

    function _minBond() internal view virtual returns (uint256);

    function _unbondDelay() internal view virtual returns (uint256);

    /// @inheritdoc IVerifierRegistry
    function bond(uint256 amount) external nonReentrant {
        _reg.addBond(msg.sender, amount, false, _drawsFrozen(), _minBond());
        _pull(msg.sender, amount);
    }

    /// @inheritdoc IVerifierRegistry
    function bondFromCredit(uint256 amount) external nonReentrant {
        _debit(msg.sender, amount);
        _reg.addBond(msg.sender, amount, true, _drawsFrozen(), _minBond());
    }

    /// @inheritdoc IVerifierRegistry
    function setModels(bytes32[] calldata models) external nonReentrant {
        _reg.setModels(msg.sender, models, _drawsFrozen(), _minBond());
    }

    /// @inheritdoc IVerifierRegistry
    function requestUnbond(uint256 amount) external nonReentrant {
        _reg.requestUnbond(msg.sender, amount, _drawsFrozen(), _minBond(), _unbondDelay());
    }

    /// @inheritdoc IVerifierRegistry
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        amount = _reg.takeUnbonded(msg.sender);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IVerifierRegistry
    function sync(address verifier) external nonReentrant {
        if (_drawsFrozen()) revert StakePoolDrawEpochInProgress();
        _reg.sync(verifier, _minBond());
    }

    /// @inheritdoc IVerifierRegistry
    function syncPending(uint256 max) external nonReentrant returns (uint256 processed) {
        if (_drawsFrozen()) revert StakePoolDrawEpochInProgress();
        processed = _reg.syncPending(max, _minBond());
    }

    /// @inheritdoc IVerifierRegistry
    function bondOf(address verifier) external view returns (BondView memory) {
        return _reg.bondOf(verifier);
    }

    /// @inheritdoc IVerifierRegistry
    function modelStake(bytes32 modelId) external view returns (uint256 total, uint256 verifiers) {
        SortitionTrees.Tree storage t = _reg.trees[_reg.modelIndex[modelId]];
        return (t.total, t.active);
    }

    /// @inheritdoc IVerifierRegistry
    function weightOf(bytes32 modelId, address verifier) external view returns (uint256) {
        return _reg.trees[_reg.modelIndex[modelId]].weightOf(verifier);
    }

    /// @inheritdoc IVerifierRegistry
    function serves(address verifier, bytes32 modelId) external view returns (bool) {
        return _reg.serves[verifier][_reg.modelIndex[modelId]];
    }

    /// @inheritdoc IVerifierRegistry
    function pendingSyncs() external view returns (uint256) {
        return _reg.syncTail - _reg.syncHead;
    }
}
