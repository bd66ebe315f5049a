// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IGeneratorRegistry} from "./IGeneratorRegistry.sol";
import {IStakePool} from "./IStakePool.sol";

/// @title GeneratorRegistry
/// @notice Generators' listings for one pool: models, price per token, endpoint (see
/// {IGeneratorRegistry}, which also explains what bounds spam).
/// @dev Storage. A listing lives in `_entries[generator]`; listed generators are kept in `_all`
/// and, per model, in `_byModel[modelId]`, each with a 1-based position map so that removal is a
/// swap with the last element (O(1)). An update changes only the model lists that differ, so every
/// write touches at most 2 × {MAX_MODELS} model lists. No owner, no parameters after deployment.
contract GeneratorRegistry is IGeneratorRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice How many models one listing may name.
    uint256 public constant MAX_MODELS = 16;
    /// @notice The longest endpoint, in bytes.
    uint256 public constant MAX_ENDPOINT_BYTES = 256;

    struct Entry {
        uint128 pricePerToken;
        uint64 registeredAt;
        /// @dev Position in `_all` plus one; 0 = not listed.
        uint64 position;
        bytes32[] models;
        string endpoint;
    }

    IStakePool private immutable _pool;
    IERC20 private immutable _token;
    uint256 private immutable _deposit;

    mapping(address generator => Entry) private _entries;
    address[] private _all;
    mapping(bytes32 modelId => address[]) private _byModel;
    /// @dev Position of a generator in `_byModel[modelId]` plus one; 0 = not there.
    mapping(bytes32 modelId => mapping(address generator => uint256)) private _modelPosition;

    /// @param pool_ The pool whose generators this registry lists (its stake token counts prices).
    /// @param deposit What each listing holds until {unregister} (stake-token base units; 0 = none).
    constructor(IStakePool pool_, uint256 deposit) {
        if (address(pool_) == address(0)) revert GeneratorRegistryZeroAddress();
        _pool = pool_;
        _token = pool_.stakeToken();
        _deposit = deposit;
    }

    /// @inheritdoc IGeneratorRegistry
    function register(bytes32[] calldata models, uint128 pricePerToken, string calldata endpoint) external nonReentrant {
        // INVARIANT: a listing names 1..MAX_MODELS non-zero, distinct model ids, so every write and
        // every listing's views are bounded.
        uint256 n = models.length;
        if (n == 0 || n > MAX_MODELS) revert GeneratorRegistryTooManyModels(n, MAX_MODELS);
        for (uint256 i = 0; i < n; i++) {
            bytes32 m = models[i];
            if (m == bytes32(0)) revert GeneratorRegistryBadModel(i, m);
            for (uint256 j = 0; j < i; j++) {
                if (models[j] == m) revert GeneratorRegistryBadModel(i, m);
            }
        }
        // INVARIANT: a listed price is positive (the pool rejects a job whose generation cost is 0).
        if (pricePerToken == 0) revert GeneratorRegistryZeroPrice();
        // INVARIANT: a listed endpoint is 1..MAX_ENDPOINT_BYTES bytes.
        uint256 len = bytes(endpoint).length;
        if (len == 0 || len > MAX_ENDPOINT_BYTES) revert GeneratorRegistryBadEndpoint(len, MAX_ENDPOINT_BYTES);

        Entry storage e = _entries[msg.sender];
        bool isNew = e.position == 0;
        if (isNew) {
            _all.push(msg.sender);
            e.position = uint64(_all.length);
            e.registeredAt = uint64(block.timestamp);
        } else {
            // leave the model lists the new listing no longer names
            bytes32[] storage old = e.models;
            for (uint256 i = 0; i < old.length; i++) {
                if (!_contains(models, old[i])) _removeFromModel(old[i], msg.sender);
            }
        }
        for (uint256 i = 0; i < n; i++) {
            if (_modelPosition[models[i]][msg.sender] == 0) {
                _byModel[models[i]].push(msg.sender);
                _modelPosition[models[i]][msg.sender] = _byModel[models[i]].length;
            }
        }
        e.models = models;
        e.pricePerToken = pricePerToken;
        e.endpoint = endpoint;

        if (isNew) {
            emit GeneratorRegistered(msg.sender, models, pricePerToken, endpoint, _deposit);
            if (_deposit > 0) _pullDeposit(msg.sender);
        } else {
            emit GeneratorUpdated(msg.sender, models, pricePerToken, endpoint);
        }
    }

    /// @inheritdoc IGeneratorRegistry
    function unregister() external nonReentrant {
        Entry storage e = _entries[msg.sender];
        uint256 pos = e.position;
        if (pos == 0) revert GeneratorRegistryNotRegistered(msg.sender);
        bytes32[] storage models = e.models;
        for (uint256 i = 0; i < models.length; i++) _removeFromModel(models[i], msg.sender);
        address last = _all[_all.length - 1];
        _all[pos - 1] = last;
        _entries[last].position = uint64(pos);
        _all.pop();
        delete _entries[msg.sender];
        emit GeneratorUnregistered(msg.sender, _deposit);
        // INVARIANT: a listed generator's deposit is returned exactly once, at unregister.
        if (_deposit > 0) _token.safeTransfer(msg.sender, _deposit);
    }

    /// @inheritdoc IGeneratorRegistry
    function pool() external view returns (address) {
        return address(_pool);
    }

    /// @inheritdoc IGeneratorRegistry
    function stakeToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IGeneratorRegistry
    function listingDeposit() external view returns (uint256) {
        return _deposit;
    }

    /// @inheritdoc IGeneratorRegistry
    function listingOf(address generator) public view returns (Listing memory l) {
        Entry storage e = _entries[generator];
        l.generator = generator;
        if (e.position == 0) return l;
        l.models = e.models;
        l.pricePerToken = e.pricePerToken;
        l.endpoint = e.endpoint;
        l.active = true;
        l.registeredAt = e.registeredAt;
    }

    /// @inheritdoc IGeneratorRegistry
    function serves(address generator, bytes32 modelId) external view returns (bool) {
        return _modelPosition[modelId][generator] != 0;
    }

    /// @inheritdoc IGeneratorRegistry
    function generatorCount() external view returns (uint256) {
        return _all.length;
    }

    /// @inheritdoc IGeneratorRegistry
    function generators(uint256 offset, uint256 limit) external view returns (Listing[] memory page, uint256 total) {
        return _page(_all, offset, limit);
    }

    /// @inheritdoc IGeneratorRegistry
    function modelGeneratorCount(bytes32 modelId) external view returns (uint256) {
        return _byModel[modelId].length;
    }

    /// @inheritdoc IGeneratorRegistry
    function generatorsOf(bytes32 modelId, uint256 offset, uint256 limit) external view returns (Listing[] memory page, uint256 total) {
        return _page(_byModel[modelId], offset, limit);
    }

    function _page(address[] storage list, uint256 offset, uint256 limit) private view returns (Listing[] memory page, uint256 total) {
        total = list.length;
        uint256 end = offset >= total ? offset : (limit > total - offset ? total : offset + limit);
        page = new Listing[](end - offset);
        for (uint256 i = offset; i < end; i++) page[i - offset] = listingOf(list[i]);
    }

    function _contains(bytes32[] calldata list, bytes32 m) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == m) return true;
        }
        return false;
    }

    function _removeFromModel(bytes32 modelId, address generator) private {
        address[] storage list = _byModel[modelId];
        uint256 pos = _modelPosition[modelId][generator];
        address last = list[list.length - 1];
        list[pos - 1] = last;
        _modelPosition[modelId][last] = pos;
        list.pop();
        delete _modelPosition[modelId][generator];
    }

    function _pullDeposit(address from) private {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(from, address(this), _deposit);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != _deposit) revert GeneratorRegistryTransferAmountMismatch(_deposit, received);
    }
}
