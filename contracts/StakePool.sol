// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IStakePool} from "./IStakePool.sol";
import {IRandomnessSource} from "./IRandomnessSource.sol";
import {VerifierRegistry} from "./VerifierRegistry.sol";
import {SortitionTrees} from "./lib/SortitionTrees.sol";
import {RegistryLogic} from "./lib/RegistryLogic.sol";
import {Settlement} from "./lib/Settlement.sol";

/// @title StakePool
/// @notice The Proof of Cache unified stake pool (paper section 3.3, made exact; see {IStakePool}).
/// @dev Design notes. Verifier bonds, models and draw weights live in {VerifierRegistry}; credits in
/// {CreditLedger}; sortition in {SortitionTrees}. This contract holds jobs, the draw queue and
/// settlement.
///
/// Exactness. A job stores the four amounts alphaCg, alphaCv, betaCg, betaCv, computed once at
/// {openJob}. Deposits are exactly these amounts (each pull checks the pool's balance delta) and each
/// settlement credits sums and differences of them whose total equals the job's escrow: for stage k
/// the escrow is `alphaCg + alphaCv + betaCg + k * betaCv` and
/// - generator upheld:  (alphaCg + betaCg) + (alphaCv + k * betaCv)                (Table 1, rows 2-3)
/// - verifier j upheld: (alphaCg + alphaCv) + (alphaCv + betaCv) + (betaCg + (k - 1) * betaCv - alphaCv)
///   (Table 1, row 4; the last term is ≥ betaCg because k ≥ 2 and betaCv ≥ alphaCv);
/// - stalemate at maxStages: alphaCv to the user, the rest (alphaCg + betaCg + k * betaCv) to the treasury;
/// - no verifier for stage k ≥ 2 in time: alphaCv to the user, betaCv back to each of the k - 1
///   verifiers, alphaCg + betaCg to the treasury;
/// - no verifier for stage 1 in time ({State.Unverified}): the generator alphaCg + betaCg, the
///   treasury alphaCv.
/// A verifier that misses its deadline forfeits its betaCv to the treasury at once and one that
/// declines splits its betaCv between the treasury (the fee) and itself; the replacement deposits a
/// fresh betaCv, so the formulas above still hold.
///
/// Rules of version 2 and why (issue 10; each closes a strategy that paid a dishonest party):
/// - Forfeits never go to a party of the job (C-1). Version 1 credited a no-show's stake to the user,
///   and the user chooses the model and Cv: a user that is also the generator could open jobs no
///   verifier can replay and collect every drawn bond. Forfeits and decline fees now go to the
///   treasury, a job can only be opened for a model that verifiers declared, with draw weight
///   ≥ `minModelStake` from ≥ maxStages + 2 verifiers, and `betaCv ≤ minBond * maxStakeBps / 10_000`
///   so one job never locks more than that share of a minimum bond. A drawn verifier that cannot
///   serve the job can {declineAssignment} early for a fee instead of forfeiting all.
/// - Draws cannot be steered (H-1, I-1). A draw is stake-weighted over the model's sortition tree
///   and uses randomness requested when the stage was queued and available only later
///   ({IRandomnessSource}); from the request until the epoch's draws are done the trees are frozen
///   ({VerifierRegistry}), so neither the trigger's timing nor bonding in front of it moves the pick.
///   Stages are drawn strictly in queue order with words `keccak(word, jobId, stage, attempt)`, so
///   who calls {drawVerifiers} and in what batches changes nothing.
/// - Confirming the truth pays (M-1). `betaCg > 2 alphaCv + betaCv` at {openJob}: then confirming an
///   earlier verifier (βCg + ((k−1)β − α)Cv) pays strictly more than agreeing with the generator
///   ((α + kβ)Cv) at every stage k ≥ 2, and more than the confirmer's own stake.
/// - A challenge nobody can verify pays the generator (M-2). If stage 1 finds no verifier by the
///   draw deadline, the generator is paid as if unchallenged and the user's alphaCv (the
///   verification it asked for and nobody performed) goes to the treasury: making one's own
///   challenge unverifiable is strictly worse for the user than not challenging. Draws that find nobody are retried every epoch until then (anyone
///   advances the queue), so a transiently busy set does not end a job.
/// - A stalemate pays neither side (I-2, M-2). Version 1 refunded everyone, which let a user get an
///   inference for free and a cheater keep its stake when the verifier set was small. Now the user
///   gets alphaCv back and has paid alphaCg (as with no challenge, no better), the generator gets
///   nothing and its alphaCg + betaCg go to the treasury (as if slashed, no better than being caught),
///   and after maxStages mutually disagreeing results every verifier stake goes to the treasury (at
///   most one of them can be honest: two honest verifiers produce the same canonical bitmap).
///   Causing a stalemate therefore never pays the user, the generator or a verifier; the price is
///   that an honest party caught in one loses its stake.
/// - A result counts only with evidence of a replay (H-2): commit–reveal with replay fingerprints for
///   a seed drawn after the receipt was committed ({commitResult}, {answerFingerprint},
///   {revealResult}; the judgement is `Settlement.judge`). An agreement counts when its fingerprint
///   matches the generator's answer, a confirmation when it matches the confirmed verifier's answer
///   or the generator's (so earlier verifiers answer only to overrule a false generator answer).
/// Still open (issue 10, documented in docs/PROTOCOL.md): exclusion from draws is by address (a
/// party's second address is drawn with its share of stake), and the gas limit of a three-stage game
/// (a draw at 1,000 verifiers fits its limit only inside the pick's {commitResult}, with a reused
/// dispute record).
///
/// Storage. A job takes three slots, packed so that each transition writes as few slots as possible;
/// amounts are limited to alphaC* < 2^80 and betaC* < 2^80 token units. A challenge gives the job a
/// dispute record, the one the last settled dispute freed (a stack of 16-bit ids; a fresh one when
/// none is free, and the job's own record keyed above every id once 2^16 - 1 are in use): per stage one
/// slot for its verifier, seed and answered bits (written by the draw) and one for the commitment,
/// replaced by the result hash at the reveal; the answers of the current stage, one slot per answerer,
/// reused by the next stage. A reused record's slots are non-zero, so a dispute writes 2,900 gas per
/// slot instead of 20,000; the price is that the stage views describe live disputes only (a settled
/// job's record may be another job's: {IStakePool-getStage}). A replaced verifier (no-show, decline)
/// takes one slot of the job itself. Nothing else is written per verifier: the exclusions and
/// {getStage}'s statuses follow from these and the job's state. The draw queue and the sync queue reuse
/// their slots once drained (docs/PROTOCOL.md "Storage and gas").
contract StakePool is IStakePool, VerifierRegistry, Ownable2Step {
    using SortitionTrees for SortitionTrees.Tree;
    using RegistryLogic for RegistryLogic.Layout;

    /// @notice Basis points: α and β are given in units of 1/10_000.
    uint256 public constant BPS = 10_000;
    /// @dev Dispute record ids are 1..2^16 - 1; a job without one keys its own at jobId + 2^16.
    uint256 private constant DISPUTE_RECORDS = 1 << 16;
    /// @notice Upper bound of `maxStages`.
    uint8 public constant MAX_STAGES = Settlement.MAX_STAGES;
    /// @notice Stake-weighted picks one queued stage gets per epoch before it waits for the next.
    uint256 public constant DRAW_ATTEMPTS = 8;
    /// @notice Verifiers synchronised by a {drawVerifiers} call that starts an epoch.
    uint256 public constant SYNCS_PER_EPOCH = 2;
    /// @notice Gas given to the randomness source per call: enough for a VRF request (Chainlink VRF v2.5
    /// through {ChainlinkVrfRandomness}: 109,371 on first use against a coordinator with the real one's
    /// storage per request, `test/pool/vrf.test.ts`), bounded so a broken source cannot burn the caller's gas (L-1).
    uint256 public constant RANDOMNESS_GAS = 200_000;
    /// @notice Upper bound of α in basis points (10×).
    uint256 public constant MAX_ALPHA_BPS = Settlement.MAX_ALPHA_BPS;
    /// @notice Upper bound of β in basis points (100×).
    uint256 public constant MAX_BETA_BPS = Settlement.MAX_BETA_BPS;
    /// @notice Lower bound of the commit, challenge, verify and draw windows.
    uint256 public constant MIN_WINDOW = Settlement.MIN_WINDOW;
    /// @notice Upper bound of the commit, challenge, verify and draw windows.
    uint256 public constant MAX_WINDOW = Settlement.MAX_WINDOW;
    /// @notice Upper bound of the unbond delay.
    uint256 public constant MAX_UNBOND_DELAY = Settlement.MAX_UNBOND_DELAY;
    /// @notice Upper bound of `numChecks`: 2^18 checks make a 32 KiB bitmap, still submittable in one
    /// transaction; without a bound a generator could commit a receipt whose result no verifier can
    /// submit.
    uint256 public constant MAX_NUM_CHECKS = 1 << 18;

    /// @notice A revealed fingerprint matches an answer when they differ in at most this many of their
    /// 256 bits (see {Settlement-judge}).
    uint256 public constant FINGERPRINT_TOLERANCE = Settlement.FINGERPRINT_TOLERANCE;


    /// @dev What {openJob} reads, one slot: the next job id, the parameters in force and copies of
    /// their fields openJob needs (kept in step by `_setParams`).
    struct Head {
        uint64 nextJobId;
        uint16 paramsId;
        uint32 alphaBps;
        uint32 betaBps;
        uint32 commitWindow;
        uint8 maxStages;
    }

    /// @dev The rest of what {openJob} checks, one slot.
    struct Limits {
        uint96 maxBetaCv;
        uint96 minModelStake;
        uint96 minBond;
    }

    /// @dev The draw queue and the epoch, one slot (plus the request id). `live` is always true: it
    /// keeps the slot non-zero after a drained queue's indices went back to 0, so that the next
    /// write of the slot is never a fresh-slot write (20,000 gas instead of 2,900).
    struct Epoch {
        bool frozen;
        uint64 head;
        uint64 epochEnd;
        uint64 tail;
        bool live;
    }

    Head private _head;
    Limits private _limits;
    Epoch private _epoch;
    uint256 private _requestId;
    IRandomnessSource private _randomness;
    address private _treasury;

    mapping(uint16 paramsId => Params) private _params;
    mapping(uint256 jobId => Settlement.Job) private _jobs;
    /// @dev Queue entries: jobId << 8 | stage. Only `_epoch.head..tail - 1` are meaningful: drawn
    /// entries stay (see {drawVerifiers}) and the indices start again at 0 when the queue drains.
    mapping(uint256 index => uint256) private _queue;
    /// @dev The (latest) verifier drawn for each stage of a dispute and its fingerprint round. This,
    /// `_results` and `_answers` are keyed by the job's dispute record ({_key}).
    mapping(uint256 key => mapping(uint256 stage => Settlement.StageSlot)) private _stages;
    /// @dev Each stage's (latest) verifier's result commitment, replaced by its result hash when it
    /// reveals (one slot per stage for both; the commitment stays in {ResultCommitted}).
    mapping(uint256 key => mapping(uint256 stage => bytes32)) private _results;
    /// @dev Answers to the current stage's fingerprint seed: index 0 the generator, i the verifier of
    /// stage i. Valid where the stage's `answered` has bit i set (the bits start empty at each
    /// assignment); a later stage overwrites them, so the generator's answer at stage k ≥ 2 reuses a
    /// used slot. Earlier stages' answers are in {FingerprintAnswered}.
    mapping(uint256 key => mapping(uint256 index => bytes32)) private _answers;
    /// @dev Ids of settled jobs' dispute records, free for the next challenge: entries
    /// `0..freeTop - 1`, sixteen 16-bit ids to a slot; `_disputes` = freeTop << 16 | records ever made.
    mapping(uint256 slot => uint256) private _freeDisputes;
    uint256 private _disputes;
    /// @dev Per job: the verifiers that were drawn and replaced (NoShow or Declined; None otherwise).
    /// With the stages' verifiers they are the job's exclusions from further draws; the status of the
    /// others follows from the job's state ({Settlement-stageView}), so a draw writes no per-verifier slot.
    mapping(uint256 jobId => mapping(address verifier => StageStatus)) private _dropped;

    /// @param token The stake token (a plain ERC-20: no fee on transfer, no rebasing).
    /// @param initialOwner Who may change parameters (two-step ownership transfer).
    /// @param initialParams The first parameter set (id 0).
    /// @param source The randomness source for draws.
    /// @param treasury_ Where forfeits, decline fees and stalemate deposits are credited.
    constructor(
        IERC20 token,
        address initialOwner,
        Params memory initialParams,
        IRandomnessSource source,
        address treasury_
    ) VerifierRegistry(token) Ownable(initialOwner) {
        if (address(token) == address(0) || address(source) == address(0)) revert StakePoolZeroAddress();
        if (treasury_ == address(0)) revert StakePoolZeroTreasury();
        _setParams(0, initialParams);
        uint256 unit = uint256(initialParams.minBond) >> 20;
        _reg.weightUnit = unit == 0 ? 1 : unit;
        _head.nextJobId = 1;
        _epoch.live = true;
        _randomness = source;
        _treasury = treasury_;
        emit RandomnessSourceUpdated(address(0), address(source));
        emit TreasuryUpdated(address(0), treasury_);
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
        uint256 deposit = _initJob(jobId, generator, modelId, cg, cv);
        _pull(msg.sender, deposit);
        _emitOpened(jobId, modelId, requestHash, requestUri);
    }

    /// @dev Split out of {openJob} to keep its stack shallow.
    function _emitOpened(uint256 jobId, bytes32 modelId, bytes32 requestHash, string calldata requestUri) private {
        Settlement.Job storage j = _jobs[jobId];
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
        Settlement.Job storage j = _jobs[jobId];
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
        Settlement.Job storage j = _jobs[jobId];
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
        Settlement.Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Committed);
        _requireAfterDeadline(jobId, j);
        _settleAsUnchallenged(jobId, j, State.Finalized);
    }

    /// @inheritdoc IStakePool
    function challenge(uint256 jobId) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Committed);
        if (msg.sender != j.user) revert StakePoolNotUser(jobId, msg.sender);
        _requireBeforeDeadline(jobId, j);
        j.stage = 1;
        j.dispute = _takeDispute();
        emit JobChallenged(jobId, msg.sender);
        _enqueue(jobId, j, 1);
    }

    /// @inheritdoc IStakePool
    function commitResult(uint256 jobId, bytes32 commitment) external nonReentrant returns (uint64 fingerprintSeed) {
        Settlement.Job storage j = _jobs[jobId];
        // The drawn verifier may draw its own stage: the queue is drawn up to the job's entry.
        if (j.state == State.AwaitingVerifier) _drawQueue(type(uint256).max, jobId);
        _requireState(jobId, j, State.Verifying);
        uint256 k = j.stage;
        uint256 key = _key(jobId, j);
        Settlement.StageSlot memory st = _stages[key][k];
        if (msg.sender != st.verifier) revert StakePoolNotAssignedVerifier(jobId, msg.sender);
        fingerprintSeed = st.seed;
        _requireBeforeDeadline(jobId, j);
        if (commitment == bytes32(0)) revert StakePoolEmptyCommitment(jobId);
        _results[key][k] = commitment;
        uint256 window = _params[j.paramsId].verifyWindow;
        uint40 revealDeadline = uint40(block.timestamp + 2 * window);
        j.state = State.Answering;
        j.deadline = revealDeadline;
        emit ResultCommitted(jobId, uint8(k), msg.sender, commitment, uint64(revealDeadline - window), revealDeadline);
    }

    /// @inheritdoc IStakePool
    function answerFingerprint(uint256 jobId, bytes32 fingerprint) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.Answering);
        uint256 k = j.stage;
        uint64 answerDeadline = _answerDeadline(j);
        if (block.timestamp > answerDeadline) revert StakePoolDeadlinePassed(jobId, answerDeadline);
        uint256 key = _key(jobId, j);
        mapping(uint256 => Settlement.StageSlot) storage stages = _stages[key];
        uint256 index;
        if (msg.sender != j.generator) {
            // The verifiers of stages 1..k-1 are the ones that revealed (no-shows were replaced).
            for (index = 1; index < k; ++index) {
                if (stages[index].verifier == msg.sender) break;
            }
            if (index == k) revert StakePoolNotAnswerer(jobId, msg.sender);
        }
        Settlement.StageSlot storage st = stages[k];
        uint32 bit = uint32(1 << index);
        if (st.answered & bit != 0) revert StakePoolAlreadyAnswered(jobId, msg.sender);
        st.answered |= bit;
        _answers[key][index] = fingerprint;
        emit FingerprintAnswered(jobId, uint8(k), msg.sender, uint8(index), fingerprint);
    }

    /// @inheritdoc IStakePool
    function revealResult(uint256 jobId, bytes calldata matchBitmap, bytes32 fingerprint, bytes32 salt)
        external
        nonReentrant
    {
        _reveal(jobId, matchBitmap, Settlement.Submission(jobId, _treasury, fingerprint, salt, false, 0, ""));
    }

    /// @inheritdoc IStakePool
    function submitResult(
        uint256 jobId,
        bytes calldata matchBitmap,
        bytes32 fingerprint,
        bytes32 salt,
        bytes32 answer,
        bytes calldata signature
    ) external nonReentrant {
        // The pick of a ready draw may submit at once, as it may commit ({commitResult}).
        if (_jobs[jobId].state == State.AwaitingVerifier) _drawQueue(type(uint256).max, jobId);
        _reveal(jobId, matchBitmap, Settlement.Submission(jobId, _treasury, fingerprint, salt, true, answer, signature));
    }

    /// @dev Check and judge a revealed result ({Settlement-reveal}); queue the next stage or free the
    /// dispute record.
    function _reveal(uint256 jobId, bytes calldata matchBitmap, Settlement.Submission memory sub) private {
        Settlement.Job storage j = _jobs[jobId];
        uint256 key = _key(jobId, j);
        bool next = Settlement.reveal(j, _stages[key], _answers[key], _results[key], _creditPlusOne, _params[j.paramsId], matchBitmap, sub);
        if (next) {
            uint256 k = j.stage + 1;
            j.stage = uint8(k);
            _enqueue(jobId, j, k);
        } else {
            _releaseDispute(j);
        }
    }

    /// @dev In {State.Answering}: the end of the answer phase (the reveal deadline is `j.deadline`).
    function _answerDeadline(Settlement.Job storage j) private view returns (uint64) {
        return uint64(j.deadline - _params[j.paramsId].verifyWindow);
    }

    /// @inheritdoc IStakePool
    function timeoutVerifier(uint256 jobId) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        Settlement.timeoutVerifier(j, _stages[_key(jobId, j)], _dropped[jobId], _creditPlusOne, _treasury, jobId);
        _enqueue(jobId, j, j.stage);
    }

    /// @inheritdoc IStakePool
    function reportEquivocation(uint256 jobId, bytes32 commitment, bytes calldata signature) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        uint256 key = _key(jobId, j);
        Settlement.equivocation(j, _stages[key], _results[key], _dropped[jobId], _creditPlusOne, _params[j.paramsId], _treasury, jobId, commitment, signature);
        _enqueue(jobId, j, j.stage);
    }

    /// @inheritdoc IStakePool
    function declineAssignment(uint256 jobId) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        Settlement.declineVerifier(j, _stages[_key(jobId, j)], _dropped[jobId], _creditPlusOne, _treasury, jobId, _params[j.paramsId]);
        _enqueue(jobId, j, j.stage);
    }

    /// @inheritdoc IStakePool
    function drawVerifiers(uint256 maxDraws) external nonReentrant returns (uint256 drawn) {
        Epoch memory e = _epoch;
        if (!e.frozen) {
            if (e.head == e.tail) revert StakePoolNothingToDraw();
            _syncPending(SYNCS_PER_EPOCH);
            _startEpoch(e);
            return 0;
        }
        return _drawQueue(maxDraws, 0);
    }

    /// @dev Draw up to `maxDraws` entries of the running epoch in queue order, stopping after the
    /// entry of job `stopAt` (0: none). Outside an epoch nothing is drawn.
    function _drawQueue(uint256 maxDraws, uint256 stopAt) private returns (uint256 drawn) {
        Epoch memory e = _epoch;
        if (!e.frozen) return 0;
        (IRandomnessSource.Status status, uint256 word) = _readRandomness(_requestId);
        if (status == IRandomnessSource.Status.Pending) revert StakePoolRandomnessPending(_requestId);
        if (status == IRandomnessSource.Status.Expired) {
            // The word can no longer be read: ask again for the same entries (weights stay frozen).
            _request(e);
            return 0;
        }
        uint256 head = e.head;
        uint256 end = e.epochEnd;
        while (drawn < maxDraws && head < end) {
            uint256 entry = _queue[head];
            ++head;
            ++drawn;
            _drawEntry(entry >> 8, uint8(entry), word);
            if (entry >> 8 == stopAt) break;
        }
        // Entries re-queued by failed draws went to the tail (read it again).
        e = _epoch;
        e.head = uint64(head);
        if (head == end) {
            e.frozen = false;
            // A drained queue starts again at 0: drawn entries are not cleared, so the next ones
            // overwrite used slots (2,900 gas) instead of filling fresh ones (20,000).
            if (e.tail == head) (e.head, e.epochEnd, e.tail) = (0, 0, 0);
        }
        _epoch = e;
    }

    /// @inheritdoc IStakePool
    function timeoutDraw(uint256 jobId) external nonReentrant {
        Settlement.Job storage j = _jobs[jobId];
        _requireState(jobId, j, State.AwaitingVerifier);
        _requireAfterDeadline(jobId, j);
        uint256 k = j.stage;
        if (k == 1) _settleAsUnchallenged(jobId, j, State.Unverified);
        else Settlement.stalemate(j, _stages[_key(jobId, j)], _creditPlusOne, _treasury, jobId, k, false);
        _releaseDispute(j);
        // The job's queue entry, if still queued, is skipped when reached.
    }

    // ------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakePool
    function setParams(Params calldata newParams) external onlyOwner {
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
        // An epoch in progress asks the new source (the old request id means nothing to it).
        Epoch memory e = _epoch;
        if (e.frozen) _request(e);
    }

    /// @inheritdoc IStakePool
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert StakePoolZeroTreasury();
        emit TreasuryUpdated(_treasury, treasury_);
        _treasury = treasury_;
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
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IStakePool
    function drawEpoch() external view returns (DrawEpochView memory) {
        Epoch memory e = _epoch;
        return DrawEpochView({frozen: e.frozen, requestId: _requestId, head: e.head, epochEnd: e.epochEnd, tail: e.tail});
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
    function getJob(uint256 jobId) external view returns (JobView memory) {
        return Settlement.jobView(_jobs[jobId]);
    }

    /// @inheritdoc IStakePool
    function drawAt(bytes32 modelId, uint256 r) external view returns (address) {
        return _reg.trees[_reg.modelIndex[modelId]].draw(r);
    }

    /// @inheritdoc IStakePool
    function modelOf(uint256 jobId) external view returns (bytes32) {
        uint256 idx = _jobs[jobId].modelIndex;
        return _reg.modelIdAt[idx];
    }

    /// @inheritdoc IStakePool
    function escrowOf(uint256 jobId) external view returns (uint256) {
        return Settlement.jobView(_jobs[jobId]).escrow;
    }

    /// @inheritdoc IStakePool
    function currentStage(uint256 jobId) external view returns (uint8 stage, address verifier, uint64 deadline) {
        Settlement.Job storage j = _jobs[jobId];
        stage = j.stage;
        deadline = j.deadline;
        State s = j.state;
        if (s == State.Verifying || s == State.Answering) verifier = _stages[_key(jobId, j)][stage].verifier;
    }

    /// @inheritdoc IStakePool
    function getStage(uint256 jobId, uint8 stage)
        external
        view
        returns (address verifier, StageStatus status, bytes32 resultHash)
    {
        Settlement.StageView memory v = _stageView(jobId, stage, 0);
        return (v.verifier, v.status, v.resultHash);
    }

    /// @inheritdoc IStakePool
    function stageRound(uint256 jobId, uint8 stage)
        external
        view
        returns (bytes32 commitment, uint64 fingerprintSeed, uint32 answered)
    {
        Settlement.StageView memory v = _stageView(jobId, stage, 0);
        return (v.commitment, v.seed, v.answered);
    }

    /// @inheritdoc IStakePool
    function answerOf(uint256 jobId, uint8 stage, uint8 index) external view returns (bytes32) {
        return _stageView(jobId, stage, index).answer;
    }

    /// @dev The views of one stage of a live dispute (an empty record after settlement: {_liveKey}).
    function _stageView(uint256 jobId, uint256 stage, uint256 index) private view returns (Settlement.StageView memory) {
        uint256 key = _liveKey(jobId);
        return Settlement.stageView(_jobs[jobId], _stages[key], _results[key], _answers[key], _dropped[jobId], stage, index);
    }

    /// @inheritdoc IStakePool
    function claimHash(uint32 numChecks) external pure returns (bytes32) {
        return Settlement.claimHash(numChecks);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: dispute records
    // ------------------------------------------------------------------------------------------------

    /// @dev The key of job `jobId`'s dispute record in `_stages`, `_results` and `_answers`: its
    /// recycled record, or (none was free) one of its own above every record id.
    function _key(uint256 jobId, Settlement.Job storage j) private view returns (uint256) {
        uint256 d = j.dispute;
        return d != 0 ? d : jobId + DISPUTE_RECORDS;
    }

    /// @dev {_key} while the job's dispute is live; after settlement its record may belong to another
    /// job, so the stage views read an empty record (the history is in the events).
    function _liveKey(uint256 jobId) private view returns (uint256) {
        Settlement.Job storage j = _jobs[jobId];
        State s = j.state;
        if (s != State.Verifying && s != State.Answering && s != State.AwaitingVerifier) return 0;
        return _key(jobId, j);
    }

    /// @dev A dispute record for a new challenge: the last one freed (its slots are written already, so
    /// the stage, result and answer writes of this dispute cost 2,900 gas instead of 20,000), a new
    /// one, or 0 (the job's own record) once 2^16 - 1 exist and none is free.
    function _takeDispute() private returns (uint16 id) {
        uint256 d = _disputes;
        uint256 top = d >> 16;
        uint256 made = d & 0xffff;
        if (top != 0) {
            --top;
            id = uint16(_freeDisputes[top >> 4] >> ((top & 15) << 4));
        } else if (made != 0xffff) {
            id = uint16(++made);
        } else {
            return 0;
        }
        _disputes = (top << 16) | made;
    }

    /// @dev The settled job's dispute record goes back on the free stack.
    function _releaseDispute(Settlement.Job storage j) private {
        uint256 id = j.dispute;
        if (id == 0) return;
        uint256 d = _disputes;
        uint256 top = d >> 16;
        uint256 shift = (top & 15) << 4;
        uint256 word = _freeDisputes[top >> 4];
        _freeDisputes[top >> 4] = (word & ~(uint256(0xffff) << shift)) | (id << shift);
        _disputes = d + (1 << 16);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: the draw queue
    // ------------------------------------------------------------------------------------------------

    /// @dev Queue stage `k` of the job for a draw (a new draw deadline) and, outside an epoch, request
    /// the randomness for it at once.
    function _enqueue(uint256 jobId, Settlement.Job storage j, uint256 k) private {
        uint40 deadline = uint40(block.timestamp + _params[j.paramsId].drawWindow);
        j.state = State.AwaitingVerifier;
        j.deadline = deadline;
        Epoch memory e = _epoch;
        uint256 index = e.tail;
        _queue[index] = (jobId << 8) | k;
        e.tail = uint64(index + 1);
        emit DrawQueued(jobId, uint8(k), index, deadline);
        if (!e.frozen) _startEpoch(e);
        else _epoch = e;
    }

    /// @dev Freeze the weights and request the randomness for the queue as it is (`e` is written).
    function _startEpoch(Epoch memory e) private {
        e.epochEnd = e.tail;
        _request(e);
    }

    /// @dev Request a word for epoch `e` (written). A source that fails leaves the epoch unstarted:
    /// the next {drawVerifiers} call tries again, and jobs settle at their draw deadlines meanwhile.
    function _request(Epoch memory e) private {
        (bool ok, uint256 id) = _callRequest();
        if (ok) {
            e.frozen = true;
            _requestId = id;
            emit DrawEpochStarted(id, e.head, e.epochEnd);
        } else {
            e.frozen = false;
        }
        _epoch = e;
    }

    /// @dev `requestRandomness()` with a gas cap, reading exactly one word of return data (L-1: short
    /// or malformed data counts as a failure instead of reverting the caller).
    function _callRequest() private returns (bool ok, uint256 id) {
        address source = address(_randomness);
        bytes4 sel = IRandomnessSource.requestRandomness.selector;
        uint256 gasCap = RANDOMNESS_GAS;
        assembly ("memory-safe") {
            mstore(0, sel)
            ok := call(gasCap, source, 0, 0, 4, 0, 32)
            if lt(returndatasize(), 32) { ok := 0 }
            id := mload(0)
        }
    }

    /// @dev `randomness(requestId)` with a gas cap; a revert, out-of-gas, short data or an unknown
    /// status counts as Pending (L-1).
    function _readRandomness(uint256 requestId) private view returns (IRandomnessSource.Status, uint256) {
        address source = address(_randomness);
        bytes4 sel = IRandomnessSource.randomness.selector;
        uint256 gasCap = RANDOMNESS_GAS;
        bool ok;
        uint256 status;
        uint256 word;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, sel)
            mstore(add(ptr, 4), requestId)
            ok := staticcall(gasCap, source, ptr, 36, ptr, 64)
            if lt(returndatasize(), 64) { ok := 0 }
            status := mload(ptr)
            word := mload(add(ptr, 32))
        }
        if (!ok || status > uint256(IRandomnessSource.Status.Expired)) return (IRandomnessSource.Status.Pending, 0);
        return (IRandomnessSource.Status(status), word);
    }

    /// @dev Draw a verifier for stage `k` of the job, or queue the stage again.
    function _drawEntry(uint256 jobId, uint256 k, uint256 word) private {
        Settlement.Job storage j = _jobs[jobId];
        // A stale entry (the job was settled by timeoutDraw) is skipped.
        if (j.state != State.AwaitingVerifier || j.stage != k) return;
        uint256 modelIndex = j.modelIndex;
        SortitionTrees.Tree storage tree = _reg.trees[modelIndex];
        if (tree.total != 0) {
            address user = j.user;
            address generator = j.generator;
            uint256 stake = j.betaCv;
            mapping(address => StageStatus) storage dropped = _dropped[jobId];
            // The verifiers of the earlier stages (each revealed); replaced ones are in `dropped`.
            address[] memory earlier = _earlier(jobId, j, k);
            for (uint256 attempt; attempt < DRAW_ATTEMPTS; ++attempt) {
                uint256 r = uint256(keccak256(abi.encode(word, jobId, k, attempt)));
                address c = tree.draw(r);
                // INVARIANT: a verifier is drawn at most once per job, never the job's user or generator.
                if (
                    c != user && c != generator && !_contains(earlier, c) && dropped[c] == StageStatus.None
                        && _reg.eligible(c, modelIndex, stake)
                ) {
                    _assign(jobId, j, k, c, stake, uint64(uint256(keccak256(abi.encode(r)))));
                    return;
                }
            }
        }
        // Nobody eligible this epoch: wait for the next one (same draw deadline).
        Epoch memory e = _epoch;
        uint256 index = e.tail;
        _queue[index] = (jobId << 8) | k;
        e.tail = uint64(index + 1);
        _epoch = e;
        emit VerifierUnavailable(jobId, uint8(k), j.deadline);
    }

    /// @dev The verifiers of stages 1..k-1 of the job.
    function _earlier(uint256 jobId, Settlement.Job storage j, uint256 k) private view returns (address[] memory earlier) {
        mapping(uint256 => Settlement.StageSlot) storage stages = _stages[_key(jobId, j)];
        earlier = new address[](k - 1);
        for (uint256 i = 1; i < k; ++i) {
            earlier[i - 1] = stages[i].verifier;
        }
    }

    function _contains(address[] memory list, address a) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }

    /// @dev Lock `stake` of `verifier`'s bond into the job and make it the verifier of stage `k`.
    /// The fingerprint `seed` comes from the draw's randomness; the answers of the stage start empty.
    function _assign(uint256 jobId, Settlement.Job storage j, uint256 k, address verifier, uint256 stake, uint64 seed) private {
        _reg.lock(verifier, stake);
        _stages[_key(jobId, j)][k] = Settlement.StageSlot({verifier: verifier, seed: seed, answered: 0});
        uint40 deadline = uint40(block.timestamp + _params[j.paramsId].verifyWindow);
        j.state = State.Verifying;
        j.deadline = deadline;
        emit VerifierAssigned(jobId, uint8(k), verifier, stake, deadline, seed);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: settlement
    // ------------------------------------------------------------------------------------------------

    /// @dev Table 1, row 1: the generator gets alphaCg + betaCg, the user alphaCv. For
    /// {State.Unverified} the generator is paid the same and the user's alphaCv goes to the treasury.
    function _settleAsUnchallenged(uint256 jobId, Settlement.Job storage j, State outcome) private {
        j.state = outcome;
        j.deadline = 0;
        address user = j.user;
        address generator = j.generator;
        uint256 generatorPayout = uint256(j.alphaCg) + j.betaCg;
        uint256 aV = j.alphaCv;
        _credit(generator, generatorPayout);
        if (outcome == State.Finalized) {
            _credit(user, aV);
            emit JobFinalized(jobId, generator, user, generatorPayout, aV);
        } else {
            // INVARIANT: a challenge nobody could verify leaves the user worse off than no challenge (M-2).
            _credit(_treasury, aV);
            emit JobSettled(jobId, outcome, 1, 0, generatorPayout, new address[](0), new uint256[](0), aV);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Internals: jobs and parameters
    // ------------------------------------------------------------------------------------------------

    /// @dev Fill a new job for the caller under the current parameters; return the user's deposit.
    function _initJob(uint256 jobId, address generator, bytes32 modelId, uint256 cg, uint256 cv)
        private
        returns (uint256)
    {
        if (cg > type(uint128).max || cv > type(uint128).max) revert StakePoolCostTooLarge(cg, cv);
        Head memory h = _head;
        uint256 aG = cg * h.alphaBps / BPS;
        uint256 aV = cv * h.alphaBps / BPS;
        if (aG == 0 || aV == 0) revert StakePoolCostTooSmall(cg, cv);
        uint256 bG = cg * h.betaBps / BPS;
        uint256 bV = cv * h.betaBps / BPS;
        if (aG > type(uint80).max || aV > type(uint80).max || bG > type(uint80).max || bV > type(uint80).max) {
            revert StakePoolCostTooLarge(cg, cv);
        }
        // INVARIANT: confirming an earlier verifier pays more than agreeing with the generator (M-1).
        if (bG <= 2 * aV + bV) revert StakePoolCostRatio(cg, cv);
        Limits memory lim = _limits;
        // INVARIANT: one job locks at most maxStakeBps of a minimum bond (C-1).
        if (bV > lim.maxBetaCv) revert StakePoolVerifierStakeTooLarge(bV, lim.maxBetaCv);
        uint16 modelIndex = _reg.modelIndex[modelId];
        {
            SortitionTrees.Tree storage t = _reg.trees[modelIndex];
            uint256 minVerifiers = uint256(h.maxStages) + 2;
            // INVARIANT: a job only for a model that enough verifiers replay (C-1, I-2).
            if (modelIndex == 0 || t.total < lim.minModelStake || t.active < minVerifiers) {
                revert StakePoolModelUnderserved(modelId, t.total, t.active, lim.minModelStake, minVerifiers);
            }
        }
        _jobs[jobId] = Settlement.Job({
            user: msg.sender,
            alphaCg: uint80(aG),
            modelIndex: modelIndex,
            generator: generator,
            alphaCv: uint80(aV),
            paramsId: h.paramsId,
            betaCg: uint80(bG),
            betaCv: uint80(bV),
            dispute: 0,
            deadline: uint40(block.timestamp + h.commitWindow),
            state: State.Open,
            stage: 0,
            numChecks: 0
        });
        return aG + aV;
    }

    function _requireState(uint256 jobId, Settlement.Job storage j, State expected) private view {
        State s = j.state;
        if (s != expected) revert StakePoolWrongState(jobId, s);
    }

    /// @dev Deadlines are inclusive: an action "by the deadline" is allowed at `deadline` itself.
    function _requireBeforeDeadline(uint256 jobId, Settlement.Job storage j) private view {
        uint40 deadline = j.deadline;
        if (block.timestamp > deadline) revert StakePoolDeadlinePassed(jobId, deadline);
    }

    /// @dev ... and the permissionless way forward opens one second later.
    function _requireAfterDeadline(uint256 jobId, Settlement.Job storage j) private view {
        uint40 deadline = j.deadline;
        if (block.timestamp <= deadline) revert StakePoolDeadlineNotReached(jobId, deadline);
    }


    function _setParams(uint16 id, Params memory p) private {
        Settlement.storeParams(_params, id, p);
        _head = Head({
            nextJobId: _head.nextJobId,
            paramsId: id,
            alphaBps: p.alphaBps,
            betaBps: p.betaBps,
            commitWindow: p.commitWindow,
            maxStages: p.maxStages
        });
        _limits = Limits({
            maxBetaCv: uint96(uint256(p.minBond) * p.maxStakeBps / BPS),
            minModelStake: p.minModelStake,
            minBond: p.minBond
        });
    }


    // ------------------------------------------------------------------------------------------------
    // Registry hooks
    // ------------------------------------------------------------------------------------------------

    function _syncPending(uint256 max) private {
        _reg.syncPending(max, _limits.minBond);
    }

    function _drawsFrozen() internal view override returns (bool) {
        return _epoch.frozen;
    }

    function _minBond() internal view override returns (uint256) {
        return _limits.minBond;
    }

    function _unbondDelay() internal view override returns (uint256) {
        return _params[_head.paramsId].unbondDelay;
    }
}
