// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVerifierRegistry} from "../IVerifierRegistry.sol";
import {SortitionTrees} from "./SortitionTrees.sol";

/// @title RegistryLogic
/// @notice The rules of {VerifierRegistry} (bonds, declared models, draw weights, unbond requests),
/// as an external library over the pool's storage.
/// @dev External so that its code is deployed once beside the pool instead of inside it (the pool
/// would otherwise pass the 24 KiB code limit); it runs by delegatecall on the pool's storage, and
/// its events and errors are the pool's ({IVerifierRegistry}). Token transfers stay in the pool.
library RegistryLogic {
    using SortitionTrees for SortitionTrees.Tree;

    /// @notice How many models one verifier may declare.
    uint256 internal constant MAX_MODELS_PER_VERIFIER = 8;
    /// @notice How many unbond requests one verifier may have pending.
    uint256 internal constant MAX_UNBOND_REQUESTS = 16;

    /// @dev One slot per verifier. The unbond counters wrap at 2^8 (at most 16 apart); `flags` holds
    /// {DIRTY} and {QUEUED}; `id` is the verifier's number in the sync queue (0 = none yet, see {_giveId}).
    struct Verifier {
        uint96 bond;
        uint96 pendingBond;
        uint8 unbondHead;
        uint8 unbondTail;
        uint8 flags;
        uint40 id;
    }

    /// @dev The verifier's weights differ from what a sync would write (`needsSync`).
    uint8 private constant DIRTY = 1;
    /// @dev The verifier is in the sync queue ({syncPending} will reach it).
    uint8 private constant QUEUED = 2;

    /// @dev Sync-queue entries per slot: 40-bit verifier ids, six to a slot.
    uint256 private constant IDS_PER_SLOT = 6;
    uint256 private constant ID_BITS = 40;

    struct UnbondRequest {
        uint96 amount;
        uint40 readyAt;
    }

    struct Layout {
        mapping(address verifier => Verifier) verifiers;
        mapping(address verifier => mapping(uint256 index => UnbondRequest)) unbonds;
        /// What the verifier declared, and the models whose trees hold its weight (they differ only
        /// between a {setModels} during an epoch and the next {sync}).
        mapping(address verifier => bytes32[]) modelsOf;
        mapping(address verifier => bytes32[]) treeModelsOf;
        /// Keyed by model index (below), so that a draw, which knows the job's index, reads no model id.
        mapping(address verifier => mapping(uint256 modelIndex => bool)) serves;
        mapping(uint256 modelIndex => SortitionTrees.Tree) trees;
        /// Model ids get a 16-bit index (1-based) the first time a verifier declares them, so that a
        /// job stores its model in a slot it already writes.
        mapping(bytes32 modelId => uint16) modelIndex;
        /// The model id of each index (a mapping, not an array: a draw reads one slot, no length).
        mapping(uint256 index => bytes32) modelIdAt;
        uint256 modelCount;
        /// Verifiers waiting for {sync}: entries `syncHead..syncTail - 1`, verifier ids packed six to a
        /// slot (entry e in slot e / 6). Processed entries are not cleared and both ends go back to 0
        /// when the queue drains, so a mark writes a fresh slot (20,000 gas) only for every sixth
        /// entry beyond the longest queue so far, and otherwise overwrites a used one (2,900).
        /// `syncLive` is always true (set by the registry's constructor): it keeps the slot of the two
        /// ends non-zero after they went back to 0, so writing it is never a fresh-slot write.
        mapping(uint256 slot => uint256) syncQueue;
        uint120 syncHead;
        uint120 syncTail;
        bool syncLive;
        /// Verifier ids (1-based), given at a verifier's first synchronisation with a positive weight,
        /// before it can be drawn, so that the draw's mark never writes a fresh id.
        mapping(uint256 id => address) verifierAt;
        uint256 verifierCount;
        /// Token units per draw-weight unit in the sortition trees' 64-bit lanes ({SortitionTrees}):
        /// the initial minimum bond / 2^20 (at least 1), set once by the pool's constructor. A minimum
        /// bond is then weighed to about one part in a million, and a model's trees hold up to 2^44
        /// minimum bonds of that size.
        uint256 weightUnit;
    }

    /// @dev Add `amount` to `verifier`'s bond: pending during an epoch, at once (and synchronised)
    /// outside one.
    function addBond(Layout storage r, address verifier, uint256 amount, bool fromCredit, bool frozen, uint256 minBond)
        external
    {
        if (amount == 0) revert IVerifierRegistry.StakePoolZeroAmount();
        Verifier storage v = r.verifiers[verifier];
        uint256 total = uint256(v.bond) + v.pendingBond + amount;
        if (total > type(uint96).max) revert IVerifierRegistry.StakePoolBondTooLarge(verifier, total);
        if (total < minBond) revert IVerifierRegistry.StakePoolBondBelowMinimum(verifier, total, minBond);
        if (frozen) {
            v.pendingBond += uint96(amount);
            _markDirty(r, verifier, v);
        } else {
            v.bond += uint96(amount);
            _sync(r, verifier, v, minBond);
        }
        emit IVerifierRegistry.Bonded(verifier, amount, v.bond, v.pendingBond, fromCredit);
    }

    /// @dev Replace `verifier`'s declared models (see {IVerifierRegistry-setModels}).
    function setModels(Layout storage r, address verifier, bytes32[] calldata models, bool frozen, uint256 minBond)
        external
    {
        uint256 n = models.length;
        if (n > MAX_MODELS_PER_VERIFIER) revert IVerifierRegistry.StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
        for (uint256 i; i < n; ++i) {
            bytes32 m = models[i];
            if (m == bytes32(0)) revert IVerifierRegistry.StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
            for (uint256 k; k < i; ++k) {
                if (models[k] == m) revert IVerifierRegistry.StakePoolBadModelList(n, MAX_MODELS_PER_VERIFIER);
            }
            if (r.modelIndex[m] == 0) {
                uint256 next = r.modelCount + 1;
                if (next > type(uint16).max) revert IVerifierRegistry.StakePoolTooManyModels();
                r.modelCount = next;
                r.modelIdAt[next] = m;
                r.modelIndex[m] = uint16(next);
            }
        }
        bytes32[] storage old = r.modelsOf[verifier];
        mapping(uint256 => bool) storage serving = r.serves[verifier];
        for (uint256 i; i < old.length; ++i) {
            serving[r.modelIndex[old[i]]] = false;
        }
        for (uint256 i; i < n; ++i) {
            serving[r.modelIndex[models[i]]] = true;
        }
        r.modelsOf[verifier] = models;
        Verifier storage v = r.verifiers[verifier];
        if (frozen) _markDirty(r, verifier, v);
        else _sync(r, verifier, v, minBond);
        emit IVerifierRegistry.ModelsSet(verifier, models);
    }

    /// @dev Move `amount` of the free bond into a new unbond request (see {IVerifierRegistry-requestUnbond}).
    function requestUnbond(Layout storage r, address verifier, uint256 amount, bool frozen, uint256 minBond, uint256 delay)
        external
    {
        if (amount == 0) revert IVerifierRegistry.StakePoolZeroAmount();
        Verifier storage v = r.verifiers[verifier];
        uint256 current = v.bond;
        if (amount > current) revert IVerifierRegistry.StakePoolInsufficientBond(verifier, current, amount);
        uint256 rest = current - amount;
        if (rest != 0 && rest < minBond) revert IVerifierRegistry.StakePoolBondBelowMinimum(verifier, rest, minBond);
        uint8 tail = v.unbondTail;
        uint8 count;
        unchecked {
            count = tail - v.unbondHead; // both wrap at 2^8; they are at most 16 apart
        }
        if (count >= MAX_UNBOND_REQUESTS) revert IVerifierRegistry.StakePoolTooManyUnbondRequests(verifier, count);
        uint40 readyAt = uint40(block.timestamp + delay);
        // L-3: each request keeps its own time; an earlier request is never delayed by a later one.
        // L-2: each request holds at most one bond (< 2^96), so no sum of requests is ever stored.
        r.unbonds[verifier][tail] = UnbondRequest({amount: uint96(amount), readyAt: readyAt});
        unchecked {
            v.unbondTail = tail + 1;
        }
        v.bond = uint96(rest);
        // Lowering one's own bond during an epoch can only make oneself ineligible: the bond changes
        // at once, the weights at the next synchronisation.
        if (frozen) _markDirty(r, verifier, v);
        else _sync(r, verifier, v, minBond);
        emit IVerifierRegistry.UnbondRequested(verifier, amount, rest, readyAt);
    }

    /// @dev Remove every ready unbond request and return their total; the pool transfers it. Requests
    /// keep their own times (L-3), and after the owner lowered unbondDelay a later request can be
    /// ready before an earlier one: it is taken out of order, leaving a hole (amount 0; a request is
    /// never 0) that the head skips once the requests before it are gone.
    function takeUnbonded(Layout storage r, address verifier) external returns (uint256 amount) {
        Verifier storage v = r.verifiers[verifier];
        uint8 head = v.unbondHead;
        uint8 tail = v.unbondTail;
        if (head == tail) revert IVerifierRegistry.StakePoolNothingToWithdraw(verifier);
        mapping(uint256 => UnbondRequest) storage q = r.unbonds[verifier];
        uint8 newHead = head;
        uint40 soonest = type(uint40).max;
        bool leading = true;
        for (uint8 i = head; i != tail;) {
            UnbondRequest memory u = q[i];
            if (u.amount != 0) {
                if (u.readyAt <= block.timestamp) {
                    amount += u.amount;
                    delete q[i];
                } else {
                    leading = false;
                    if (u.readyAt < soonest) soonest = u.readyAt;
                }
            }
            unchecked {
                ++i; // at most MAX_UNBOND_REQUESTS apart; both wrap at 2^8
            }
            if (leading) newHead = i;
        }
        if (amount == 0) revert IVerifierRegistry.StakePoolUnbondNotReady(verifier, soonest);
        v.unbondHead = newHead;
        emit IVerifierRegistry.UnbondWithdrawn(verifier, amount);
    }

    /// @dev Synchronise `verifier` (outside epochs only: the pool checks).
    function sync(Layout storage r, address verifier, uint256 minBond) external {
        _sync(r, verifier, r.verifiers[verifier], minBond);
    }

    /// @dev Synchronise up to `max` queued verifiers, oldest first (outside epochs only).
    function syncPending(Layout storage r, uint256 max, uint256 minBond) external returns (uint256 processed) {
        uint256 head = r.syncHead;
        uint256 tail = r.syncTail;
        while (processed < max && head < tail) {
            uint256 id = (r.syncQueue[head / IDS_PER_SLOT] >> (ID_BITS * (head % IDS_PER_SLOT))) & ((1 << ID_BITS) - 1);
            address a = r.verifierAt[id];
            ++head;
            ++processed;
            Verifier storage v = r.verifiers[a];
            if (v.flags != 0) _sync(r, a, v, minBond);
        }
        if (head == tail) (r.syncHead, r.syncTail) = (0, 0);
        else r.syncHead = uint120(head);
    }

    /// @dev Lock `stake` of `verifier`'s free bond (the draw checked it is there). Its weights follow at
    /// its next synchronisation: it is marked as needing one (`needsSync`, which its worker acts on)
    /// but not queued for {syncPending}, which saves the draw two cold slots and two writes (~10,000
    /// gas). Until then it weighs its bond before the lock, locked stake included; a pick whose free
    /// bond no longer covers a stake is skipped by {eligible}, so no stake is ever locked twice.
    function lock(Layout storage r, address verifier, uint256 stake) internal {
        Verifier storage v = r.verifiers[verifier];
        v.bond -= uint96(stake);
        v.flags |= DIRTY;
    }

    /// @dev Whether `verifier` serves the model of index `modelIndex` now and has `stake` free.
    function eligible(Layout storage r, address verifier, uint256 modelIndex, uint256 stake) internal view returns (bool) {
        return r.serves[verifier][modelIndex] && r.verifiers[verifier].bond >= stake;
    }

    /// @dev `verifier`'s bond, unbonding and models.
    function bondOf(Layout storage r, address verifier) external view returns (IVerifierRegistry.BondView memory view_) {
        Verifier storage v = r.verifiers[verifier];
        view_.bond = v.bond;
        view_.pendingBond = v.pendingBond;
        view_.models = r.modelsOf[verifier];
        view_.needsSync = v.flags != 0;
        mapping(uint256 => UnbondRequest) storage q = r.unbonds[verifier];
        for (uint8 i = v.unbondHead; i != v.unbondTail;) {
            UnbondRequest memory u = q[i];
            view_.unbonding += u.amount;
            if (u.readyAt <= block.timestamp) view_.unbondable += u.amount;
            unchecked {
                ++i;
            }
        }
    }

    /// @dev Apply the pending bond and write the verifier's weight (its free bond, or 0 below
    /// `minBond`) into the tree of every model it declared, and 0 into trees it left.
    function _sync(Layout storage r, address verifier, Verifier storage v, uint256 minBond) private {
        uint256 pending = v.pendingBond;
        uint256 b = v.bond;
        if (pending != 0) {
            b += pending;
            v.bond = uint96(b);
            v.pendingBond = 0;
        }
        v.flags = 0;
        uint256 w = b >= minBond ? b : 0;
        if (w != 0 && v.id == 0) _giveId(r, verifier, v);
        uint256 unit = r.weightUnit;
        _leaveTrees(r, verifier, unit);
        _writeWeights(r, verifier, w, unit);
        emit IVerifierRegistry.VerifierSynced(verifier, w);
    }

    /// @dev Weight 0 in the trees of models the verifier no longer declares.
    function _leaveTrees(Layout storage r, address verifier, uint256 unit) private {
        bytes32[] storage inTrees = r.treeModelsOf[verifier];
        mapping(uint256 => bool) storage serving = r.serves[verifier];
        uint256 nOld = inTrees.length;
        for (uint256 i; i < nOld; ++i) {
            uint256 m = r.modelIndex[inTrees[i]];
            if (!serving[m]) r.trees[m].set(verifier, 0, unit);
        }
    }

    /// @dev Weight `w` in the tree of every declared model; remember which trees hold it.
    function _writeWeights(Layout storage r, address verifier, uint256 w, uint256 unit) private {
        bytes32[] storage declared = r.modelsOf[verifier];
        bytes32[] storage inTrees = r.treeModelsOf[verifier];
        uint256 n = declared.length;
        bool same = n == inTrees.length;
        for (uint256 i; i < n; ++i) {
            bytes32 m = declared[i];
            r.trees[r.modelIndex[m]].set(verifier, w, unit);
            if (same && inTrees[i] != m) same = false;
        }
        if (!same) r.treeModelsOf[verifier] = declared;
    }

    function _markDirty(Layout storage r, address verifier, Verifier storage v) private {
        uint8 f = v.flags;
        if (f & QUEUED == 0) {
            v.flags = f | DIRTY | QUEUED;
            uint256 id = v.id;
            if (id == 0) id = _giveId(r, verifier, v);
            uint120 tail = r.syncTail;
            uint256 slot = tail / IDS_PER_SLOT;
            uint256 shift = ID_BITS * (tail % IDS_PER_SLOT);
            uint256 word = r.syncQueue[slot];
            r.syncQueue[slot] = (word & ~(((1 << ID_BITS) - 1) << shift)) | (id << shift);
            r.syncTail = tail + 1;
        }
    }

    /// @dev Number `verifier` (ids are never reused; 2^40 of them cannot run out).
    function _giveId(Layout storage r, address verifier, Verifier storage v) private returns (uint256 id) {
        id = ++r.verifierCount;
        v.id = uint40(id);
        r.verifierAt[id] = verifier;
    }
}
