// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IStakePool} from "./IStakePool.sol";
import {IRandomnessSource} from "./IRandomnessSource.sol";

/// @title StakePool
/// @notice The Proof of Cache unified stake pool (paper section 3.3, made exact; see {IStakePool}).
/// @dev Design notes.
///
/// Exactness. A job stores the four amounts alphaCg, alphaCv, betaCg, betaCv, computed once at
/// {openJob}. Deposits are exactly these amounts (each pull checks the pool's balance delta, so a
/// token that delivers less is rejected), and each settlement credits sums and differences of them
/// whose total equals the job's escrow: for stage k the escrow is
/// `alphaCg + alphaCv + betaCg + k * betaCv` and
/// - generator upheld:  (alphaCg + betaCg) + (alphaCv + k * betaCv)
/// - verifier j upheld: (alphaCg + alphaCv) + (alphaCv + betaCv) + (betaCg + (k - 1) * betaCv - alphaCv)
///   where the last term is ≥ betaCg because k ≥ 2 and betaCv ≥ alphaCv (β ≥ α, same rounding);
/// - stalemate: (alphaCg + alphaCv) + betaCg + k * betaCv.
/// A verifier that misses its deadline forfeits its betaCv to the user at once; the replacement
/// deposits a fresh betaCv, so the formulas above still hold.
///
/// The user never loses more than alphaCv: it deposits alphaCg + alphaCv; it gets alphaCv back when it
/// does not challenge, everything back when the generator is found wrong or in a stalemate, and
/// loses alphaCv (beyond the alphaCg paid for the inference it received) only when the generator is
/// upheld. Forfeits of no-show verifiers only add to what it gets.
///
/// Stalemate. When `maxStages` verifiers have all disagreed with the generator and with each other,
/// the pool has no agreement it could act on: every further rule (slash everyone, majority of
/// disagreeing parties, pay the last verifier) would punish at least one party that may well be
/// honest, and would give the parties a reason to manufacture disagreement. Refunding every deposit
/// exactly leaves everyone where it started (minus gas and time), bounds the game at `maxStages`
/// stages (and therefore its gas and latency), keeps the user's cost at zero, and is neutral until a
/// stronger arbiter exists (the committee arbitration sketched in section 4 of the paper could later
/// replace this branch). The same refund ends a job whose next verifier cannot be drawn before the
/// draw deadline. Note the consequence: a user whose challenge meets an empty (or fully excluded)
/// verifier set gets its payment back, so operators must keep enough verifiers bonded.
///
/// Draw. The verifier of a stage is drawn from the verifier set with {IRandomnessSource}: a random
/// start index, then at most {MAX_PROBES} consecutive entries are probed (wrapping around); the first
/// that is not the user, not the generator, not an earlier (or no-show) verifier of the job, and has
/// at least betaCv bonded is drawn. Gas is therefore bounded. When fewer than MAX_PROBES verifiers are
/// bonded every one of them is probed; in larger sets a draw may miss an eligible verifier, in which
/// case the job waits and anyone can retry in a later block (new randomness). Probing consecutive
/// entries favours a verifier that follows ineligible ones in the list; see {PrevrandaoRandomness}
/// for the bias of the default randomness. Every listed address has the same chance whatever its
/// bond (the draw is not stake-weighted), and the user and the generator are excluded by address
/// only: resistance to a party that bonds many verifier identities rests on `minBond` (each identity
/// costs that much capital for `unbondDelay`). A stake-weighted draw (a sum tree over bonds) would
/// be stronger and is left for later.
///
/// Storage. A job takes three slots (plus one for the receipt root), packed so that each transition
/// writes as few slots as possible; amounts are limited to alphaC* < 2^80 and betaC* < 2^88 token
/// units. Credits are stored plus one once an account was first credited, so that crediting an
/// account that withdrew before costs a warm-slot write instead of a fresh one (the same trick as
/// OpenZeppelin's ReentrancyGuard 1/2 flags); {creditOf} reports the real credit.
contract StakePool is IStakePool, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Basis points: α and β are given in units of 1/10_000.
    uint256 public constant BPS = 10_000;
    /// @notice Upper bound of `maxStages`.
    uint8 public constant MAX_STAGES = 16;
    /// @notice How many verifiers one draw looks at, at most.
    uint256 public constant MAX_PROBES = 8;
    /// @notice Gas given to the randomness source per draw.
    uint256 public constant RANDOMNESS_GAS = 100_000;
    /// @notice Upper bound of α in basis points (10×).
    uint256 public constant MAX_ALPHA_BPS = 100_000;
    /// @notice Upper bound of β in basis points (100×).
    uint256 public constant MAX_BETA_BPS = 1_000_000;
    /// @notice Bounds of the commit, challenge, verify and draw windows.
    uint256 public constant MIN_WINDOW = 1 minutes;
    /// @notice Upper bound of the commit, challenge, verify and draw windows.
    uint256 public constant MAX_WINDOW = 30 days;
    /// @notice Upper bound of the unbond delay.
    uint256 public constant MAX_UNBOND_DELAY = 365 days;
    /// @notice Upper bound of `numChecks`: 2^18 checks make a 32 KiB bitmap, whose submission costs
    /// about 1.3 M gas (measured, including the draw of the next stage). The bound keeps every result
    /// submittable in one transaction; without it a generator could commit a receipt whose result no
    /// verifier can submit, and every drawn verifier would forfeit its stake to the user.
    uint256 public constant MAX_NUM_CHECKS = 1 << 18;

    /// @dev Markers in `_resultOf` for a verifier that was drawn and has no result (yet). keccak256
    /// never yields these values in practice, so they cannot be confused with a result hash.
    bytes32 private constant PENDING = bytes32(uint256(1));
    bytes32 private constant NO_SHOW = bytes32(uint256(2));

    /// @dev Job storage, three slots. Field order is the packing order.
    struct Job {
        // slot 0
        address user;
        uint80 alphaCg;
        // slot 1
        address generator;
        uint80 alphaCv;
        uint16 paramsId;
        // slot 2: everything a transition changes lives here
        uint88 betaCg;
        uint88 betaCv;
        uint40 deadline;
        State state;
        uint8 stage;
        uint24 numChecks;
    }

    /// @dev A verifier's bond, one slot. `listPos` is the index in `_verifierList` plus one (0: not listed).
    struct Verifier {
        uint96 bond;
        uint96 unbonding;
        uint40 unbondReadyAt;
        uint24 listPos;
    }

    IERC20 private immutable _token;

    /// @dev One slot (a struct, so that it does not share a slot with inherited state), read and
    /// written by every openJob: the next job id, the id of the parameters in force, and a copy of
    /// the fields of `_params[paramsId]` that openJob needs (kept in step by `_setParams`).
    struct Head {
        uint64 nextJobId;
        uint16 paramsId;
        uint32 alphaBps;
        uint32 betaBps;
        uint32 commitWindow;
    }

    Head private _head;

    IRandomnessSource private _randomness;

    mapping(uint16 paramsId => Params) private _params;
    mapping(uint256 jobId => Job) private _jobs;
    /// @dev The (latest) verifier drawn for each stage of a job.
    mapping(uint256 jobId => mapping(uint256 stage => address)) private _stageVerifier;
    /// @dev Per job and verifier: 0 = never drawn, PENDING, NO_SHOW, or the hash of its result.
    /// Non-zero means "excluded from further draws for this job".
    mapping(uint256 jobId => mapping(address verifier => bytes32)) private _resultOf;
    /// @dev Credit plus one (0 = never credited).
    mapping(address account => uint256) private _creditPlusOne;
    mapping(address verifier => Verifier) private _verifiers;
    address[] private _verifierList;

    /// @param token The stake token (a plain ERC-20: no fee on transfer, no rebasing).
    /// @param initialOwner Who may change parameters (two-step ownership transfer).
    /// @param initialParams The first parameter set (id 0).
    /// @param source The randomness source for draws.
    constructor(IERC20 token, address initialOwner, Params memory initialParams, IRandomnessSource source)
        Ownable(initialOwner)
    {
        if (address(token) == address(0) || address(source) == address(0)) revert StakePoolZeroAddress();
        _validateParams(initialParams);
        _token = token;
        _setParams(0, initialParams);
        _head.nextJobId = 1;
        _randomness = source;
        emit RandomnessSourceUpdated(address(0), address(source));
    }

    // ------------------------------------------------------------------------------------------------
    // Job life cycle
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakePool
    function openJob(
        address generator,
        bytes32 modelId,
        uint256 cg,
        uint256 cv,
        bytes32 requestHash,
        string calldata requestUri
    ) external nonReentrant returns (uint256 jobId) {
        if (generator == address(0) || generator == msg.sender) revert StakePoolInvalidGenerator(generator);
        jobId = _head.nextJobId;
        unchecked {
            _head.nextJobId = uint64(jobId + 1);
        }
        uint256 deposit = _initJob(jobId, generator, cg, cv);
        _pull(msg.sender, deposit);
        _emitOpened(jobId, modelId, requestHash, requestUri);
    }

    /// @dev Split out of {openJob} to keep its stack shallow.
    function _emitOpened(uint256 jobId, bytes32 modelId, bytes32 requestHash, string calldata requestUri) private {
        Job storage j = _jobs[jobId];
        emit JobOpened(
            jobId,
            j.user,
            j.generator,
            modelId,
            j.alphaCg,
            j.alphaCv,
            j.betaCg,
            j.betaCv,
            j.deadline,
            j.paramsId,
            requestHash,
            requestUri
        );
    }

    /// @inheritdoc IStakePool
    function commit(uint256 jobId, bytes32 receiptRoot, uint32 numChecks, string calldata receiptUri)
        external
        nonReentrant
    {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Open);
        if (msg.sender != j.generator) revert StakePoolNotGenerator(jobId, msg.sender);
        _requireBeforeDeadline(jobId, j);
        if (numChecks == 0 || numChecks > MAX_NUM_CHECKS) revert StakePoolInvalidNumChecks(jobId, numChecks);
        if (receiptRoot == bytes32(0)) revert StakePoolEmptyReceiptRoot(jobId);

        uint40 deadline = uint40(block.timestamp + _params[j.paramsId].challengeWindow);
        j.deadline = deadline;
        j.state = State.Committed;
        j.numChecks = uint24(numChecks);

        uint256 bG = j.betaCg;
        _pull(msg.sender, bG);
        emit JobCommitted(jobId, msg.sender, receiptRoot, numChecks, receiptUri, bG, deadline);
    }

    /// @inheritdoc IStakePool
    function cancel(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Open);
        _requireAfterDeadline(jobId, j);
        j.state = State.Cancelled;
        j.deadline = 0;
        address user = j.user;
        uint256 refund = uint256(j.alphaCg) + j.alphaCv;
        _credit(user, refund);
        emit JobCancelled(jobId, user, refund);
    }

    /// @inheritdoc IStakePool
    function finalize(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Committed);
        _requireAfterDeadline(jobId, j);
        j.state = State.Finalized;
        j.deadline = 0;
        address user = j.user;
        address generator = j.generator;
        uint256 generatorPayout = uint256(j.alphaCg) + j.betaCg;
        uint256 userPayout = j.alphaCv;
        _credit(generator, generatorPayout);
        _credit(user, userPayout);
        emit JobFinalized(jobId, generator, user, generatorPayout, userPayout);
    }

    /// @inheritdoc IStakePool
    function challenge(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Committed);
        if (msg.sender != j.user) revert StakePoolNotUser(jobId, msg.sender);
        _requireBeforeDeadline(jobId, j);
        j.stage = 1;
        emit JobChallenged(jobId, msg.sender);
        _drawAndAssign(jobId, j, 1);
    }

    /// @inheritdoc IStakePool
    function submitResult(uint256 jobId, bytes calldata matchBitmap) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Verifying);
        uint256 k = j.stage;
        if (msg.sender != _stageVerifier[jobId][k]) revert StakePoolNotAssignedVerifier(jobId, msg.sender);
        _requireBeforeDeadline(jobId, j);

        uint256 n = j.numChecks;
        uint256 expected = (n + 7) >> 3;
        if (matchBitmap.length != expected) revert StakePoolBadBitmapLength(jobId, matchBitmap.length, expected);
        uint256 unused = (8 - (n & 7)) & 7;
        if (unused != 0 && (uint8(matchBitmap[expected - 1]) & ((1 << unused) - 1)) != 0) {
            revert StakePoolBitmapTrailingBits(jobId);
        }

        bytes32 h = keccak256(matchBitmap);
        _resultOf[jobId][msg.sender] = h;
        emit ResultSubmitted(jobId, uint8(k), msg.sender, h, matchBitmap);

        if (h == _claimHash(n)) {
            _settleGeneratorUpheld(jobId, j, k);
            return;
        }
        for (uint256 i = 1; i < k; ++i) {
            if (_resultOf[jobId][_stageVerifier[jobId][i]] == h) {
                _settleVerifierUpheld(jobId, j, k, i);
                return;
            }
        }
        if (k >= _params[j.paramsId].maxStages) {
            _settleStalemate(jobId, j, k, k);
            return;
        }
        j.stage = uint8(k + 1);
        _drawAndAssign(jobId, j, k + 1);
    }

    /// @inheritdoc IStakePool
    function timeoutVerifier(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Verifying);
        _requireAfterDeadline(jobId, j);
        uint256 k = j.stage;
        address verifier = _stageVerifier[jobId][k];
        _resultOf[jobId][verifier] = NO_SHOW;
        uint256 forfeited = j.betaCv;
        _credit(j.user, forfeited);
        emit VerifierTimedOut(jobId, uint8(k), verifier, forfeited);
        _drawAndAssign(jobId, j, k);
    }

    /// @inheritdoc IStakePool
    function drawVerifier(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.AwaitingVerifier);
        _requireBeforeDeadline(jobId, j);
        uint256 k = j.stage;
        address verifier = _draw(jobId, j, k);
        if (verifier == address(0)) revert StakePoolNoEligibleVerifier(jobId, uint8(k));
        _assign(jobId, j, k, verifier);
    }

    /// @inheritdoc IStakePool
    function timeoutDraw(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.AwaitingVerifier);
        _requireAfterDeadline(jobId, j);
        uint256 k = j.stage;
        _settleStalemate(jobId, j, k, k - 1);
    }

    /// @inheritdoc IStakePool
    function withdraw() external nonReentrant returns (uint256 amount) {
        uint256 stored = _creditPlusOne[msg.sender];
        if (stored <= 1) revert StakePoolNothingToWithdraw(msg.sender);
        amount = stored - 1;
        _creditPlusOne[msg.sender] = 1;
        _token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Verifier bonds
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakePool
    function bond(uint256 amount) external nonReentrant {
        if (amount == 0) revert StakePoolZeroAmount();
        Verifier storage v = _verifiers[msg.sender];
        uint256 newBond = uint256(v.bond) + amount;
        if (newBond > type(uint96).max) revert StakePoolBondTooLarge(msg.sender, newBond);
        uint256 minBond = _params[_head.paramsId].minBond;
        if (newBond < minBond) revert StakePoolBondBelowMinimum(msg.sender, newBond, minBond);
        v.bond = uint96(newBond);
        if (v.listPos == 0) {
            uint256 len = _verifierList.length;
            if (len >= type(uint24).max) revert StakePoolTooManyVerifiers();
            _verifierList.push(msg.sender);
            v.listPos = uint24(len + 1);
            emit VerifierListed(msg.sender, true);
        }
        _pull(msg.sender, amount);
        emit Bonded(msg.sender, amount, newBond);
    }

    /// @inheritdoc IStakePool
    function requestUnbond(uint256 amount) external nonReentrant {
        if (amount == 0) revert StakePoolZeroAmount();
        Verifier storage v = _verifiers[msg.sender];
        uint256 current = v.bond;
        if (amount > current) revert StakePoolInsufficientBond(msg.sender, current, amount);
        uint256 rest = current - amount;
        uint256 minBond = _params[_head.paramsId].minBond;
        if (rest != 0 && rest < minBond) revert StakePoolBondBelowMinimum(msg.sender, rest, minBond);
        uint256 unbonding = uint256(v.unbonding) + amount; // ≤ bonded total, fits uint96
        uint40 readyAt = uint40(block.timestamp + _params[_head.paramsId].unbondDelay);
        v.bond = uint96(rest);
        v.unbonding = uint96(unbonding);
        v.unbondReadyAt = readyAt;
        if (rest == 0) _unlist(msg.sender, v);
        emit UnbondRequested(msg.sender, amount, unbonding, readyAt);
    }

    /// @inheritdoc IStakePool
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        Verifier storage v = _verifiers[msg.sender];
        amount = v.unbonding;
        if (amount == 0) revert StakePoolNothingToWithdraw(msg.sender);
        uint40 readyAt = v.unbondReadyAt;
        if (block.timestamp < readyAt) revert StakePoolUnbondNotReady(msg.sender, readyAt);
        v.unbonding = 0;
        v.unbondReadyAt = 0;
        _token.safeTransfer(msg.sender, amount);
        emit UnbondWithdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakePool
    function setParams(Params calldata newParams) external onlyOwner {
        _validateParams(newParams);
        uint16 id = _head.paramsId;
        if (id == type(uint16).max) revert StakePoolParamsExhausted();
        unchecked {
            ++id;
        }
        _setParams(id, newParams);
    }

    /// @inheritdoc IStakePool
    function setRandomnessSource(IRandomnessSource source) external onlyOwner {
        if (address(source) == address(0)) revert StakePoolZeroAddress();
        emit RandomnessSourceUpdated(address(_randomness), address(source));
        _randomness = source;
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakePool
    function stakeToken() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IStakePool
    function randomnessSource() external view returns (IRandomnessSource) {
        return _randomness;
    }

    /// @inheritdoc IStakePool
    function params() external view returns (Params memory current, uint16 paramsId) {
        paramsId = _head.paramsId;
        current = _params[paramsId];
    }

    /// @inheritdoc IStakePool
    function paramsAt(uint16 paramsId) external view returns (Params memory) {
        return _params[paramsId];
    }

    /// @inheritdoc IStakePool
    function nextJobId() external view returns (uint256) {
        return _head.nextJobId;
    }

    /// @inheritdoc IStakePool
    function getJob(uint256 jobId) external view returns (JobView memory view_) {
        Job storage j = _jobs[jobId];
        view_.user = j.user;
        view_.generator = j.generator;
        view_.state = j.state;
        view_.stage = j.stage;
        view_.deadline = j.deadline;
        view_.alphaCg = j.alphaCg;
        view_.alphaCv = j.alphaCv;
        view_.betaCg = j.betaCg;
        view_.betaCv = j.betaCv;
        view_.numChecks = j.numChecks;
        view_.paramsId = j.paramsId;
        view_.escrow = _escrow(j);
    }

    /// @inheritdoc IStakePool
    function escrowOf(uint256 jobId) external view returns (uint256) {
        return _escrow(_jobs[jobId]);
    }

    /// @inheritdoc IStakePool
    function currentStage(uint256 jobId) external view returns (uint8 stage, address verifier, uint64 deadline) {
        Job storage j = _jobs[jobId];
        stage = j.stage;
        deadline = j.deadline;
        if (j.state == State.Verifying) verifier = _stageVerifier[jobId][stage];
    }

    /// @inheritdoc IStakePool
    function getStage(uint256 jobId, uint8 stage)
        external
        view
        returns (address verifier, StageStatus status, bytes32 resultHash)
    {
        verifier = _stageVerifier[jobId][stage];
        if (verifier == address(0)) return (verifier, StageStatus.None, bytes32(0));
        bytes32 r = _resultOf[jobId][verifier];
        if (r == PENDING) return (verifier, StageStatus.Pending, bytes32(0));
        if (r == NO_SHOW) return (verifier, StageStatus.NoShow, bytes32(0));
        return (verifier, StageStatus.Submitted, r);
    }

    /// @inheritdoc IStakePool
    function claimHash(uint32 numChecks) external pure returns (bytes32) {
        return _claimHash(numChecks);
    }

    /// @inheritdoc IStakePool
    function creditOf(address account) external view returns (uint256) {
        uint256 stored = _creditPlusOne[account];
        return stored == 0 ? 0 : stored - 1;
    }

    /// @inheritdoc IStakePool
    function bondOf(address verifier) external view returns (BondView memory) {
        Verifier storage v = _verifiers[verifier];
        return BondView({bond: v.bond, unbonding: v.unbonding, unbondReadyAt: v.unbondReadyAt, listed: v.listPos != 0});
    }

    /// @inheritdoc IStakePool
    function verifierCount() external view returns (uint256) {
        return _verifierList.length;
    }

    /// @inheritdoc IStakePool
    function verifierAt(uint256 index) external view returns (address) {
        return _verifierList[index];
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: draws
    // ------------------------------------------------------------------------------------------------

    /// @dev Draw a verifier for stage `k` and lock its stake, or move the job to AwaitingVerifier.
    function _drawAndAssign(uint256 jobId, Job storage j, uint256 k) private {
        address verifier = _draw(jobId, j, k);
        if (verifier != address(0)) {
            _assign(jobId, j, k, verifier);
        } else {
            uint40 deadline = uint40(block.timestamp + _params[j.paramsId].drawWindow);
            j.state = State.AwaitingVerifier;
            j.deadline = deadline;
            emit VerifierUnavailable(jobId, uint8(k), deadline);
        }
    }

    /// @dev Probe at most MAX_PROBES consecutive entries of the verifier list from a random start; return
    /// the first eligible one or address(0).
    function _draw(uint256 jobId, Job storage j, uint256 k) private view returns (address) {
        uint256 n = _verifierList.length;
        if (n == 0) return address(0);
        uint256 word;
        // A source that reverts or burns its gas allowance counts as a draw that found nobody: the job
        // then waits (and ends as a stalemate at the draw deadline), so no source can leave it stuck.
        try _randomness.randomness{gas: RANDOMNESS_GAS}(jobId, k) returns (uint256 w) {
            word = w;
        } catch {
            return address(0);
        }
        uint256 idx = word % n;
        uint256 probes = n < MAX_PROBES ? n : MAX_PROBES;
        address user = j.user;
        address generator = j.generator;
        uint256 stake = j.betaCv;
        for (uint256 i; i < probes; ++i) {
            address candidate = _verifierList[idx];
            if (
                candidate != user && candidate != generator && _verifiers[candidate].bond >= stake
                    && _resultOf[jobId][candidate] == bytes32(0)
            ) return candidate;
            unchecked {
                idx = idx + 1 == n ? 0 : idx + 1;
            }
        }
        return address(0);
    }

    /// @dev Lock betaCv of `verifier`'s bond into the job and make it the verifier of stage `k`.
    function _assign(uint256 jobId, Job storage j, uint256 k, address verifier) private {
        uint256 stake = j.betaCv;
        Verifier storage v = _verifiers[verifier];
        uint96 rest = v.bond - uint96(stake); // the draw checked bond >= stake
        v.bond = rest;
        if (rest == 0) _unlist(verifier, v);
        _stageVerifier[jobId][k] = verifier;
        _resultOf[jobId][verifier] = PENDING;
        uint40 deadline = uint40(block.timestamp + _params[j.paramsId].verifyWindow);
        j.state = State.Verifying;
        j.deadline = deadline;
        emit VerifierAssigned(jobId, uint8(k), verifier, stake, deadline);
    }

    /// @dev Remove `verifier` from the verifier list (swap with the last entry and pop). Only called
    /// when its bond has just reached zero; a verifier is listed exactly while its bond is positive.
    function _unlist(address verifier, Verifier storage v) private {
        uint256 pos = v.listPos;
        uint256 last = _verifierList.length;
        if (pos != last) {
            address moved = _verifierList[last - 1];
            _verifierList[pos - 1] = moved;
            _verifiers[moved].listPos = uint24(pos);
        }
        _verifierList.pop();
        v.listPos = 0;
        emit VerifierListed(verifier, false);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: settlement
    // ------------------------------------------------------------------------------------------------

    /// @dev Table 1, rows 2 and 3: verifier k agrees with the generator.
    function _settleGeneratorUpheld(uint256 jobId, Job storage j, uint256 k) private {
        j.state = State.GeneratorUpheld;
        j.deadline = 0;
        uint256 bV = j.betaCv;
        uint256 generatorPayout = uint256(j.alphaCg) + j.betaCg;
        uint256 verifierPayout = uint256(j.alphaCv) + k * bV;
        _credit(j.generator, generatorPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(jobId, k);
        payouts[k - 1] = verifierPayout;
        _credit(verifiers[k - 1], verifierPayout);
        emit JobSettled(jobId, State.GeneratorUpheld, uint8(k), 0, generatorPayout, verifiers, payouts);
    }

    /// @dev Table 1, row 4: verifier k agrees with the earlier verifier `agreed`.
    function _settleVerifierUpheld(uint256 jobId, Job storage j, uint256 k, uint256 agreed) private {
        j.state = State.VerifierUpheld;
        j.deadline = 0;
        uint256 aV = j.alphaCv;
        uint256 bV = j.betaCv;
        uint256 userPayout = uint256(j.alphaCg) + aV;
        uint256 agreedPayout = aV + bV;
        // k >= 2 and bV >= aV (beta >= alpha), so this cannot underflow.
        uint256 lastPayout = uint256(j.betaCg) + (k - 1) * bV - aV;
        _credit(j.user, userPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(jobId, k);
        payouts[agreed - 1] = agreedPayout;
        payouts[k - 1] = lastPayout;
        _credit(verifiers[agreed - 1], agreedPayout);
        _credit(verifiers[k - 1], lastPayout);
        emit JobSettled(jobId, State.VerifierUpheld, uint8(k), userPayout, 0, verifiers, payouts);
    }

    /// @dev No agreement (or no verifier in time): refund every deposit. `staked` verifiers (stages
    /// 1..staked) have a stake in the job.
    function _settleStalemate(uint256 jobId, Job storage j, uint256 k, uint256 staked) private {
        j.state = State.Stalemate;
        j.deadline = 0;
        uint256 bV = j.betaCv;
        uint256 userPayout = uint256(j.alphaCg) + j.alphaCv;
        uint256 generatorPayout = j.betaCg;
        _credit(j.user, userPayout);
        _credit(j.generator, generatorPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(jobId, staked);
        for (uint256 i; i < staked; ++i) {
            payouts[i] = bV;
            _credit(verifiers[i], bV);
        }
        emit JobSettled(jobId, State.Stalemate, uint8(k), userPayout, generatorPayout, verifiers, payouts);
    }

    /// @dev The verifiers of stages 1..count and a zeroed payout array of the same length.
    function _stageVerifiers(uint256 jobId, uint256 count)
        private
        view
        returns (address[] memory verifiers, uint256[] memory payouts)
    {
        verifiers = new address[](count);
        payouts = new uint256[](count);
        mapping(uint256 => address) storage stages = _stageVerifier[jobId];
        for (uint256 i; i < count; ++i) {
            verifiers[i] = stages[i + 1];
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: money
    // ------------------------------------------------------------------------------------------------

    /// @dev Fill a new job for the caller under the current parameters; return the user's deposit.
    function _initJob(uint256 jobId, address generator, uint256 cg, uint256 cv) private returns (uint256) {
        if (cg > type(uint128).max || cv > type(uint128).max) revert StakePoolCostTooLarge(cg, cv);
        uint256 alphaBps = _head.alphaBps;
        uint256 betaBps = _head.betaBps;
        uint256 aG = cg * alphaBps / BPS;
        uint256 aV = cv * alphaBps / BPS;
        if (aG == 0 || aV == 0) revert StakePoolCostTooSmall(cg, cv);
        uint256 bG = cg * betaBps / BPS;
        uint256 bV = cv * betaBps / BPS;
        if (aG > type(uint80).max || aV > type(uint80).max || bG > type(uint88).max || bV > type(uint88).max) {
            revert StakePoolCostTooLarge(cg, cv);
        }
        _jobs[jobId] = Job({
            user: msg.sender,
            alphaCg: uint80(aG),
            generator: generator,
            alphaCv: uint80(aV),
            paramsId: _head.paramsId,
            betaCg: uint88(bG),
            betaCv: uint88(bV),
            deadline: uint40(block.timestamp + _head.commitWindow),
            state: State.Open,
            stage: 0,
            numChecks: 0
        });
        return aG + aV;
    }

    /// @dev Pull exactly `amount` from `from`; reject tokens that deliver a different amount.
    function _pull(address from, uint256 amount) private {
        IERC20 token = _token;
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert StakePoolTransferAmountMismatch(amount, received);
    }

    /// @dev Credit `amount` to `account` (see the note on the stored-plus-one credits).
    function _credit(address account, uint256 amount) private {
        uint256 stored = _creditPlusOne[account];
        _creditPlusOne[account] = (stored == 0 ? 1 : stored) + amount;
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: checks and helpers
    // ------------------------------------------------------------------------------------------------

    function _requireState(uint256 jobId, Job storage j, State expected) private view {
        State s = j.state;
        if (s != expected) revert StakePoolWrongState(jobId, s);
    }

    /// @dev Deadlines are inclusive: an action "by the deadline" is allowed at `deadline` itself.
    function _requireBeforeDeadline(uint256 jobId, Job storage j) private view {
        uint40 deadline = j.deadline;
        if (block.timestamp > deadline) revert StakePoolDeadlinePassed(jobId, deadline);
    }

    /// @dev ... and the permissionless way forward opens one second later.
    function _requireAfterDeadline(uint256 jobId, Job storage j) private view {
        uint40 deadline = j.deadline;
        if (block.timestamp <= deadline) revert StakePoolDeadlineNotReached(jobId, deadline);
    }

    function _escrow(Job storage j) private view returns (uint256) {
        State s = j.state;
        if (s == State.Open) return uint256(j.alphaCg) + j.alphaCv;
        uint256 base = uint256(j.alphaCg) + j.alphaCv + j.betaCg;
        if (s == State.Committed) return base;
        if (s == State.Verifying) return base + uint256(j.stage) * j.betaCv;
        if (s == State.AwaitingVerifier) return base + uint256(j.stage - 1) * j.betaCv;
        return 0;
    }

    /// @dev keccak256 of ceil(n / 8) bytes whose first n bits (MSB first) are set.
    function _claimHash(uint256 n) private pure returns (bytes32 h) {
        uint256 len = (n + 7) >> 3;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let words := shr(5, add(len, 31))
            let ones := not(0)
            for { let i := 0 } lt(i, words) { i := add(i, 1) } { mstore(add(ptr, shl(5, i)), ones) }
            let rem := and(n, 7)
            if rem { mstore8(add(ptr, sub(len, 1)), and(0xff, shl(sub(8, rem), 0xff))) }
            h := keccak256(ptr, len)
        }
    }

    function _setParams(uint16 id, Params memory p) private {
        _params[id] = p;
        _head = Head({
            nextJobId: _head.nextJobId,
            paramsId: id,
            alphaBps: p.alphaBps,
            betaBps: p.betaBps,
            commitWindow: p.commitWindow
        });
        emit ParamsUpdated(id, p);
    }

    function _validateParams(Params memory p) private pure {
        _checkRange("alphaBps", p.alphaBps, 1, MAX_ALPHA_BPS);
        _checkRange("betaBps", p.betaBps, 1, MAX_BETA_BPS);
        if (p.betaBps < p.alphaBps) revert StakePoolBetaBelowAlpha(p.alphaBps, p.betaBps);
        _checkRange("commitWindow", p.commitWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("challengeWindow", p.challengeWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("verifyWindow", p.verifyWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("drawWindow", p.drawWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("maxStages", p.maxStages, 1, MAX_STAGES);
        _checkRange("unbondDelay", p.unbondDelay, 0, MAX_UNBOND_DELAY);
        _checkRange("minBond", p.minBond, 1, type(uint96).max);
    }

    function _checkRange(string memory name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert StakePoolParamOutOfRange(name, value, min, max);
    }
}
