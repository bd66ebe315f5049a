// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGeneratorRegistry
/// @notice Where users and gateways find generators (docs/NETWORK.md "Generators found on-chain"):
/// each generator lists the model ids it serves, its price per generated token and the base URL of
/// its server. The registry is bound to one {IStakePool} (see {pool}); it never moves a job's money
/// and the pool never reads it.
/// @dev Spam. Anyone may list, so a listing says nothing about quality: the off-chain ranker
/// (offchain/chain/generator-record.ts) orders listings by price and then by the generator's record
/// in the pool's events (jobs finalized or upheld against jobs slashed, forfeited or never committed),
/// and a fresh listing has no record. Two things bound what spam costs:
/// - every listing is bounded ({GeneratorRegistry-MAX_MODELS} models, {GeneratorRegistry-MAX_ENDPOINT_BYTES} bytes of endpoint), and
///   lookups are paginated, so no listing can make a view or another generator's write cost more;
/// - a refundable deposit of {listingDeposit} stake tokens (fixed at deployment, may be 0) is held
///   while a generator is listed and returned in full by {unregister}: a thousand listings lock a
///   thousand deposits. Nothing is ever slashed here; the pool's stakes do that.
/// The endpoint is checked here only for being non-empty and bounded; that it is an http(s) URL is
/// checked off-chain (listings that are not are skipped).
interface IGeneratorRegistry {
    /// @notice One generator's listing (see {listingOf}).
    /// @param generator The generator's address (the one jobs name in {IStakePool-openJob}).
    /// @param models The model ids it serves (1..{GeneratorRegistry-MAX_MODELS}, non-zero, distinct).
    /// @param pricePerToken Stake-token base units it asks per generated token (> 0).
    /// @param endpoint The base URL of its server (docs/NETWORK.md "The generator's server").
    /// @param active Whether it is listed now; an unlisted generator has an empty listing.
    /// @param registeredAt When it was (last) listed (unix seconds; kept across updates).
    struct Listing {
        address generator;
        bytes32[] models;
        uint128 pricePerToken;
        string endpoint;
        bool active;
        uint64 registeredAt;
    }

    /// @notice A listing names `count` models: at least one and at most `max` are allowed.
    error GeneratorRegistryTooManyModels(uint256 count, uint256 max);
    /// @notice Model `index` of the list (`modelId`) is zero or repeats an earlier one.
    error GeneratorRegistryBadModel(uint256 index, bytes32 modelId);
    /// @notice A price per token of zero: a job's generation cost must be positive.
    error GeneratorRegistryZeroPrice();
    /// @notice The endpoint is `length` bytes long; it must be 1..`max`.
    error GeneratorRegistryBadEndpoint(uint256 length, uint256 max);
    /// @notice `generator` is not listed.
    error GeneratorRegistryNotRegistered(address generator);
    /// @notice The pool address given at deployment is zero.
    error GeneratorRegistryZeroAddress();
    /// @notice The token moved `received` into the registry where `expected` was sent
    /// (fee-on-transfer tokens are not supported, as in the pool).
    error GeneratorRegistryTransferAmountMismatch(uint256 expected, uint256 received);

    /// @notice `generator` was listed (it was not before) and deposited `deposit`.
    event GeneratorRegistered(address indexed generator, bytes32[] models, uint128 pricePerToken, string endpoint, uint256 deposit);
    /// @notice `generator`, already listed, replaced its listing with this one.
    event GeneratorUpdated(address indexed generator, bytes32[] models, uint128 pricePerToken, string endpoint);
    /// @notice `generator` left the registry; its deposit `refund` was sent back to it.
    event GeneratorUnregistered(address indexed generator, uint256 refund);

    /// @notice List the caller, or replace its listing when it is listed already. The first listing
    /// pulls {listingDeposit} stake tokens from the caller (needs an allowance); an update pulls
    /// nothing. `models`: 1..{GeneratorRegistry-MAX_MODELS}, non-zero, distinct; `pricePerToken` > 0; `endpoint`
    /// 1..{GeneratorRegistry-MAX_ENDPOINT_BYTES} bytes.
    function register(bytes32[] calldata models, uint128 pricePerToken, string calldata endpoint) external;

    /// @notice Leave the registry: the listing is deleted and the deposit sent back to the caller.
    function unregister() external;

    /// @notice The pool this registry lists generators for.
    function pool() external view returns (address);

    /// @notice The pool's stake token, in which prices and the deposit are counted.
    function stakeToken() external view returns (address);

    /// @notice The deposit a listing holds (stake-token base units; fixed at deployment).
    function listingDeposit() external view returns (uint256);

    /// @notice `generator`'s listing (`active` false and the rest empty when it is not listed).
    function listingOf(address generator) external view returns (Listing memory);

    /// @notice Whether `generator` is listed and serves `modelId`.
    function serves(address generator, bytes32 modelId) external view returns (bool);

    /// @notice How many generators are listed.
    function generatorCount() external view returns (uint256);

    /// @notice Listed generators `offset .. offset + limit - 1` (fewer at the end) and how many are
    /// listed in all. The order is arbitrary and changes when a generator leaves (the last one takes
    /// its place), so read a consistent picture at one block.
    function generators(uint256 offset, uint256 limit) external view returns (Listing[] memory page, uint256 total);

    /// @notice How many listed generators serve `modelId`.
    function modelGeneratorCount(bytes32 modelId) external view returns (uint256);

    /// @notice The listed generators that serve `modelId`, paginated as {generators}.
    function generatorsOf(bytes32 modelId, uint256 offset, uint256 limit) external view returns (Listing[] memory page, uint256 total);
}
