// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IVerifierRegistry
/// @notice The verifier half of the StakePool: bonds, the models each verifier replays, the
/// stake-weighted draw weights, unbonding, and the pull-payment credits every payout goes to.
/// @dev Draw weights. Each model id has its own sortition tree ({SortitionTrees}); a verifier's
/// weight in the tree of every model it declared ({setModels}) is its free bond at its last
/// synchronisation, or 0 when that is below `minBond`. A draw picks a verifier with probability
/// weight / total among the verifiers serving the job's model, so a party that bonds many identities
/// gains exactly its share of stake, not a share per identity.
///
/// Frozen weights. While the pool waits for the randomness of a draw epoch and performs its draws
/// ({IStakePool-drawVerifiers}), weights must not change: otherwise a party that sees the word could
/// move the pick by bonding first. During an epoch, {bond} and {bondFromCredit} keep the new tokens
/// pending, {setModels} changes what the verifier may be drawn for but not the trees, and
/// {requestUnbond} takes effect on the bond at once (which can only make the caller itself
/// ineligible) but not on the trees; each marks the verifier for synchronisation, done by {sync} or
/// {syncPending} once the epoch is over (anyone may call them). Locking a stake into a job also
/// marks the verifier, so weights follow free bonds after each epoch.
interface IVerifierRegistry {
    /// @notice A verifier's bond (see {bondOf}).
    /// @param bond Free tokens, lockable into jobs.
    /// @param pendingBond Tokens bonded during a draw epoch, added to `bond` at the next synchronisation.
    /// @param unbonding Tokens requested for unbonding and not yet withdrawn (all requests).
    /// @param unbondable The part of `unbonding` whose delay has passed.
    /// @param models The model ids the verifier declared it replays.
    /// @param needsSync Whether a change waits for the next synchronisation.
    struct BondView {
        uint256 bond;
        uint256 pendingBond;
        uint256 unbonding;
        uint256 unbondable;
        bytes32[] models;
        bool needsSync;
    }

    /// @notice `verifier` asked for `requested` but has only `bond` bonded.
    error StakePoolInsufficientBond(address verifier, uint256 bond, uint256 requested);
    /// @notice The bond left (`bond`) would be positive but below the minimum `minBond`.
    error StakePoolBondBelowMinimum(address verifier, uint256 bond, uint256 minBond);
    /// @notice A bond or unbonding total larger than 2^96 - 1 tokens cannot be held.
    error StakePoolBondTooLarge(address verifier, uint256 bond);
    /// @notice More than `max` models, a zero model id, or the same id twice.
    error StakePoolBadModelList(uint256 count, uint256 max);
    /// @notice All 2^16 - 1 model indices are in use.
    error StakePoolTooManyModels();
    /// @notice `verifier` has `pending` unbond requests, the most one may hold.
    error StakePoolTooManyUnbondRequests(address verifier, uint256 pending);
    /// @notice Weights cannot be synchronised during a draw epoch; retry after it.
    error StakePoolDrawEpochInProgress();
    /// @notice None of `verifier`'s unbond requests is ready; the soonest one is at `readyAt`.
    error StakePoolUnbondNotReady(address verifier, uint64 readyAt);
    /// @notice `account` has nothing to withdraw.
    error StakePoolNothingToWithdraw(address account);
    /// @notice `account` has a credit of `credit`, less than `requested`.
    error StakePoolInsufficientCredit(address account, uint256 credit, uint256 requested);
    /// @notice An amount of zero was given where a positive amount is needed.
    error StakePoolZeroAmount();
    /// @notice The token moved `received` into the pool where `expected` was sent: fee-on-transfer,
    /// rebasing and other non-standard tokens are not supported.
    error StakePoolTransferAmountMismatch(uint256 expected, uint256 received);

    /// @notice `verifier` bonded `amount` more (from its wallet, or from its credit when `fromCredit`);
    /// its free bond is now `bond` and `pendingBond` waits for the next synchronisation.
    event Bonded(address indexed verifier, uint256 amount, uint256 bond, uint256 pendingBond, bool fromCredit);
    /// @notice `verifier` moved `amount` from its bond to unbonding, withdrawable from `readyAt`.
    event UnbondRequested(address indexed verifier, uint256 amount, uint256 bond, uint64 readyAt);
    /// @notice `verifier` withdrew `amount` of unbonded tokens.
    event UnbondWithdrawn(address indexed verifier, uint256 amount);
    /// @notice `verifier` declared the models it replays (replacing its earlier list).
    event ModelsSet(address indexed verifier, bytes32[] models);
    /// @notice `verifier`'s draw weight in each tree of its models is now `weight`.
    event VerifierSynced(address indexed verifier, uint256 weight);
    /// @notice `account` withdrew `amount` of its credit.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Bond `amount` more tokens (needs an allowance). The free bond after synchronisation
    /// must reach `minBond`.
    function bond(uint256 amount) external;

    /// @notice Bond `amount` of the caller's credit (payouts of jobs) without a token transfer.
    function bondFromCredit(uint256 amount) external;

    /// @notice Declare the model ids the caller replays (at most {StakePool-MAX_MODELS_PER_VERIFIER},
    /// non-zero, distinct; an empty list leaves every tree). Only jobs of these models can draw it.
    function setModels(bytes32[] calldata models) external;

    /// @notice Move `amount` of the free bond to unbonding, withdrawable after the `unbondDelay` in
    /// force now (each request keeps its own time). What is left must be zero or at least `minBond`.
    function requestUnbond(uint256 amount) external;

    /// @notice Withdraw every unbond request whose delay has passed (each on its own time, also when a
    /// lower unbondDelay made a later request ready before an earlier one).
    function withdrawUnbonded() external returns (uint256 amount);

    /// @notice Apply `verifier`'s pending changes and refresh its weights; anyone, outside a draw epoch.
    function sync(address verifier) external;

    /// @notice Synchronise up to `max` verifiers marked during draw epochs, oldest first; anyone,
    /// outside a draw epoch. Returns how many were processed.
    function syncPending(uint256 max) external returns (uint256 processed);

    /// @notice Withdraw the caller's whole credit. The credit is zeroed before the transfer.
    function withdraw() external returns (uint256 amount);

    /// @notice The credit `account` can {withdraw}.
    function creditOf(address account) external view returns (uint256);

    /// @notice `verifier`'s bond, unbonding and models.
    function bondOf(address verifier) external view returns (BondView memory);

    /// @notice Draw weights of model `modelId`: the total and how many verifiers have a positive weight.
    function modelStake(bytes32 modelId) external view returns (uint256 total, uint256 verifiers);

    /// @notice `verifier`'s draw weight for model `modelId`.
    function weightOf(bytes32 modelId, address verifier) external view returns (uint256);

    /// @notice Whether `verifier` declared model `modelId`.
    function serves(address verifier, bytes32 modelId) external view returns (bool);

    /// @notice How many verifiers wait for synchronisation ({syncPending}).
    function pendingSyncs() external view returns (uint256);
}
