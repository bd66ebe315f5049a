// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IVerifierRegistry} from "./IVerifierRegistry.sol";
import {CreditLedger} from "./CreditLedger.sol";
import {SortitionTrees} from "./lib/SortitionTrees.sol";

/// @title VerifierRegistry
/// @notice Verifier bonds, declared models, draw weights and unbonding (see {IVerifierRegistry}).
/// @dev The pool (the contract that inherits this) tells the registry whether a draw epoch is in
/// progress ({_drawsFrozen}) and which `minBond` and `unbondDelay` are in force, locks stakes with
/// {_lock} and asks {_eligible} at draw time. Weights change only in {_sync}, and {_sync} runs only
/// outside draw epochs: that is the whole of the rule "the set a draw uses is fixed before its
/// randomness exists".
abstract contract VerifierRegistry is CreditLedger {
    using SafeERC20 for IERC20;
    using SortitionTrees for SortitionTrees.Tree;

    /// @notice How many models one verifier may declare.
    uint256 public constant MAX_MODELS_PER_VERIFIER = 8;
    /// @notice How many unbond requests one verifier may have pending.
    uint256 public constant MAX_UNBOND_REQUESTS = 16;

    /// @dev One slot per verifier.
    struct Verifier {
        uint96 bond;
        uint96 pendingBond;
        uint16 unbondHead;
        uint16 unbondTail;
        bool dirty;
    }

    struct UnbondRequest {
        uint96 amount;
        uint40 readyAt;
    }

    mapping(address verifier => Verifier) private _verifiers;
    mapping(address verifier => mapping(uint256 index => UnbondRequest)) private _unbonds;
    /// @dev What the verifier declared, and the models whose trees hold its weight (they differ only
    /// between a {setModels} during an epoch and the next {_sync}).
    mapping(address verifier => bytes32[]) private _modelsOf;
    mapping(address verifier => bytes32[]) private _treeModelsOf;
    mapping(address verifier => mapping(bytes32 modelId => bool)) private _serves;
    mapping(bytes32 modelId => SortitionTrees.Tree) internal _trees;
    /// @dev Model ids get a 16-bit index (1-based) the first time a verifier declares them, so that a
    /// job stores its model in a slot it already writes.
    mapping(bytes32 modelId => uint16) internal _modelIndex;
    bytes32[] internal _modelIds;
    /// @dev Verifiers waiting for {_sync}.
    address[] private _syncQueue;
    uint256 private _syncHead;

    constructor(IERC20 token) CreditLedger(token) {}

    // ------------------------------------------------------------------------------------------------
    // Hooks the pool provides
    // ------------------------------------------------------------------------------------------------

    function _drawsFrozen() internal view virtual returns (bool);

    function _minBond() internal view virtual returns (uint256);

    function _unbondDelay() internal view virtual returns (uint256);

    // ------------------------------------------------------------------------------------------------
    // Bonds
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IVerifierRegistry
    function bond(uint256 amount) external nonReentrant {
        _addBond(amount, false);
        _pull(msg.sender, amount);
    }

    /// @inheritdoc IVerifierRegistry
    function bondFromCredit(uint256 amount) external nonReentrant {
        _debit(msg.sender, amount);
        _addBond(amount, true);
    }

    function _addBond(uint256 amount, bool fromCredit) private {
        if (amount == 0) revert StakePoolZeroAmount();
        Verifier storage v = _verifiers[msg.sender];
        uint256 total = uint256(v.bond) + v.pendingBond + amount;
        if (total > type(uint96).max) revert StakePoolBondTooLarge(msg.sender, total);
        uint256 minBond = _minBond();
        if (total < minBond) revert StakePoolBondBelowMinimum(msg.sender, total, minBond);
        if (_drawsFrozen()) {
            v.pendingBond += uint96(amount);
            _markDirty(msg.sender, v);
        } else {
            v.bond += uint96(amount);
            _sync(msg.sender, v);
        }
        emit Bonded(msg.sender, amount, v.bond, v.pendingBond, fromCredit);
    }

    /// @inheritdoc IVerifierRegistry
    function setModels(bytes32[] calldata models) external nonReentrant {
        uint256 n = models.length;
        if (n > MAX_MODELS_PER_VERIFIER) revert StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
        for (uint256 i; i < n; ++i) {
            bytes32 m = models[i];
            if (m == bytes32(0)) revert StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
            for (uint256 k; k < i; ++k) {
                if (models[k] == m) revert StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
            }
            if (_modelIndex[m] == 0) {
                uint256 next = _modelIds.length + 1;
                if (next > type(uint16).max) revert StakePoolTooManyModels();
                _modelIds.push(m);
                _modelIndex[m] = uint16(next);
            }
        }
        bytes32[] storage old = _modelsOf[msg.sender];
        mapping(bytes32 => bool) storage serving = _serves[msg.sender];
        for (uint256 i; i < old.length; ++i) {
            serving[old[i]] = false;
        }
        for (uint256 i; i < n; ++i) {
            serving[models[i]] = true;
        }
        _modelsOf[msg.sender] = models;
        Verifier storage v = _verifiers[msg.sender];
        if (_drawsFrozen()) _markDirty(msg.sender, v);
        else _sync(msg.sender, v);
        emit ModelsSet(msg.sender, models);
    }

    /// @inheritdoc IVerifierRegistry
    function requestUnbond(uint256 amount) external nonReentrant {
        if (amount == 0) revert StakePoolZeroAmount();
        Verifier storage v = _verifiers[msg.sender];
        uint256 current = v.bond;
        if (amount > current) revert StakePoolInsufficientBond(msg.sender, current, amount);
        uint256 rest = current - amount;
        uint256 minBond = _minBond();
        if (rest != 0 && rest < minBond) revert StakePoolBondBelowMinimum(msg.sender, rest, minBond);
        uint16 tail = v.unbondTail;
        uint16 count;
        unchecked {
            count = tail - v.unbondHead; // both wrap at 2^16; they are at most 16 apart
        }
        if (count >= MAX_UNBOND_REQUESTS) revert StakePoolTooManyUnbondRequests(msg.sender, count);
        uint40 readyAt = uint40(block.timestamp + _unbondDelay());
        // Each request keeps its own time: an earlier request is never delayed by a later one.
        _unbonds[msg.sender][tail] = UnbondRequest({amount: uint96(amount), readyAt: readyAt});
        unchecked {
            v.unbondTail = tail + 1;
        }
        v.bond = uint96(rest);
        // Lowering one's own bond during an epoch can only make oneself ineligible: the bond changes
        // at once, the weights at the next synchronisation.
        if (_drawsFrozen()) _markDirty(msg.sender, v);
        else _sync(msg.sender, v);
        emit UnbondRequested(msg.sender, amount, rest, readyAt);
    }

    /// @inheritdoc IVerifierRegistry
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        Verifier storage v = _verifiers[msg.sender];
        uint16 head = v.unbondHead;
        uint16 tail = v.unbondTail;
        if (head == tail) revert StakePoolNothingToWithdraw(msg.sender);
        mapping(uint256 => UnbondRequest) storage q = _unbonds[msg.sender];
        while (head != tail) {
            UnbondRequest memory r = q[head];
            if (r.readyAt > block.timestamp) break;
            amount += r.amount;
            delete q[head];
            unchecked {
                ++head;
            }
        }
        if (amount == 0) revert StakePoolUnbondNotReady(msg.sender, q[head].readyAt);
        v.unbondHead = head;
        _token.safeTransfer(msg.sender, amount);
        emit UnbondWithdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Synchronisation
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IVerifierRegistry
    function sync(address verifier) external nonReentrant {
        if (_drawsFrozen()) revert StakePoolDrawEpochInProgress();
        _sync(verifier, _verifiers[verifier]);
    }

    /// @inheritdoc IVerifierRegistry
    function syncPending(uint256 max) external nonReentrant returns (uint256 processed) {
        if (_drawsFrozen()) revert StakePoolDrawEpochInProgress();
        processed = _syncPending(max);
    }

    /// @dev Synchronise up to `max` queued verifiers (outside epochs only: callers check).
    function _syncPending(uint256 max) internal returns (uint256 processed) {
        uint256 head = _syncHead;
        uint256 len = _syncQueue.length;
        while (processed < max && head < len) {
            address a = _syncQueue[head];
            delete _syncQueue[head];
            ++head;
            ++processed;
            Verifier storage v = _verifiers[a];
            if (v.dirty) _sync(a, v);
        }
        _syncHead = head;
    }

    /// @dev Apply the pending bond and write the verifier's weight (its free bond, or 0 below
    /// `minBond`) into the tree of every model it declared, and 0 into trees it left.
    function _sync(address verifier, Verifier storage v) private {
        uint256 pending = v.pendingBond;
        uint256 b = v.bond;
        if (pending != 0) {
            b += pending;
            v.bond = uint96(b);
            v.pendingBond = 0;
        }
        v.dirty = false;
        uint256 w = b >= _minBond() ? b : 0;
        bytes32[] storage declared = _modelsOf[verifier];
        bytes32[] storage inTrees = _treeModelsOf[verifier];
        mapping(bytes32 => bool) storage serving = _serves[verifier];
        uint256 nOld = inTrees.length;
        for (uint256 i; i < nOld; ++i) {
            bytes32 m = inTrees[i];
            if (!serving[m]) _trees[m].set(verifier, 0);
        }
        uint256 n = declared.length;
        bool same = n == nOld;
        for (uint256 i; i < n; ++i) {
            bytes32 m = declared[i];
            _trees[m].set(verifier, w);
            if (same && inTrees[i] != m) same = false;
        }
        if (!same) _treeModelsOf[verifier] = declared;
        emit VerifierSynced(verifier, w);
    }

    function _markDirty(address verifier, Verifier storage v) private {
        if (!v.dirty) {
            v.dirty = true;
            _syncQueue.push(verifier);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // What the pool uses at draw time
    // ------------------------------------------------------------------------------------------------

    /// @dev Whether `verifier` serves `modelId` now and has `stake` free.
    function _eligible(address verifier, bytes32 modelId, uint256 stake) internal view returns (bool) {
        return _serves[verifier][modelId] && _verifiers[verifier].bond >= stake;
    }

    /// @dev Lock `stake` of `verifier`'s free bond (the draw checked it is there); its weights follow
    /// at the next synchronisation.
    function _lock(address verifier, uint256 stake) internal {
        Verifier storage v = _verifiers[verifier];
        v.bond -= uint96(stake);
        _markDirty(verifier, v);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IVerifierRegistry
    function bondOf(address verifier) external view returns (BondView memory view_) {
        Verifier storage v = _verifiers[verifier];
        view_.bond = v.bond;
        view_.pendingBond = v.pendingBond;
        view_.models = _modelsOf[verifier];
        view_.needsSync = v.dirty;
        mapping(uint256 => UnbondRequest) storage q = _unbonds[verifier];
        for (uint16 i = v.unbondHead; i != v.unbondTail;) {
            UnbondRequest memory r = q[i];
            view_.unbonding += r.amount;
            if (r.readyAt <= block.timestamp) view_.unbondable += r.amount;
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IVerifierRegistry
    function modelStake(bytes32 modelId) external view returns (uint256 total, uint256 verifiers) {
        SortitionTrees.Tree storage t = _trees[modelId];
        return (t.total, t.active);
    }

    /// @inheritdoc IVerifierRegistry
    function weightOf(bytes32 modelId, address verifier) external view returns (uint256) {
        return _trees[modelId].weightOf(verifier);
    }

    /// @inheritdoc IVerifierRegistry
    function serves(address verifier, bytes32 modelId) external view returns (bool) {
        return _serves[verifier][modelId];
    }

    /// @inheritdoc IVerifierRegistry
    function pendingSyncs() external view returns (uint256) {
        return _syncQueue.length - _syncHead;
    }
}
