// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IRandomnessSource} from "./IRandomnessSource.sol";
import {IVerifierRegistry} from "./IVerifierRegistry.sol";

/// @title IStakePool
/// @notice The unified stake pool of Proof of Cache (paper, section 3.3): a user pays a generator for one
/// LLM inference through the pool, may challenge the result, and protocol-drawn verifiers settle the
/// dispute stage by stage with the payouts of the paper's Table 1.
/// @dev Amounts are units of the one ERC-20 stake token fixed at deployment. For a job with cost units
/// `Cg` (generation) and `Cv` (verification) the pool computes, once, when the job is opened and with
/// the parameters in force at that moment:
///
///     alphaCg = Cg * alphaBps / 10_000      alphaCv = Cv * alphaBps / 10_000
///     betaCg  = Cg * betaBps  / 10_000      betaCv  = Cv * betaBps  / 10_000
///
/// (rounded down). These four numbers are stored with the job and are the only amounts that ever move:
/// every deposit is exactly one of them (the user deposits `alphaCg + alphaCv`, the generator `betaCg`,
/// each verifier `betaCv`) and every payout is a sum or difference of them, so each settlement pays out
/// exactly what the job holds, to the wei. Because `betaBps >= alphaBps`, `betaCv >= alphaCv`.
///
/// Payouts are never transferred by a settlement: they are credited to the payee and withdrawn with
/// {withdraw} (pull payments).
///
/// Every state that is not final has a deadline, and once it has passed anyone can move the job on
/// (see {State}), so no job can be stuck and no deposit locked forever.
///
/// Version 2 (rules this project adds to the paper, each with its reason in {StakePool}):
/// stake-weighted draws among the verifiers that serve the job's model, with randomness requested
/// before it exists ({drawVerifiers}); a job only for a model with enough draw weight; forfeits and
/// decline fees to the treasury, never to a party of the job; amounts constrained so that confirming
/// an earlier verifier pays more than agreeing with the generator; a challenge that finds no verifier
/// pays the generator; a stalemate pays neither the user nor the generator.
interface IStakePool is IVerifierRegistry {
    // ------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------

    /// @notice The life cycle of a job. `deadline` in {JobView} always refers to the current state.
    enum State {
        /// No job with this id (never opened).
        None,
        /// The user has deposited `alphaCg + alphaCv`; the generator must {commit} (staking `betaCg`)
        /// by the commit deadline (`openedAt + commitWindow`). Way forward after the deadline:
        /// anyone may call {cancel}, which refunds the user in full.
        Open,
        /// The generator has staked and committed its receipt. The user may {challenge} until the
        /// challenge deadline (`committedAt + challengeWindow`). Way forward after the deadline:
        /// anyone may call {finalize}.
        Committed,
        /// Stage `stage` has a drawn verifier whose `betaCv` is locked in the job; it must
        /// {commitResult} (a hash of its result and of its replay's fingerprint) by the deadline
        /// (`assignedAt + verifyWindow`), or may {declineAssignment} early. Way forward after the
        /// deadline: anyone may call {timeoutVerifier}; the verifier forfeits its stake to the treasury
        /// and the stage waits for a new draw.
        Verifying,
        /// Stage `stage` waits in the draw queue for a verifier ({drawVerifiers}, anyone); a draw that
        /// finds no eligible verifier puts it back for the next draw epoch. Deadline: the draw
        /// deadline (`enteredAt + drawWindow`). Way forward after it: anyone may call {timeoutDraw}
        /// ({State.Unverified} at stage 1, {State.Stalemate} later).
        AwaitingVerifier,
        /// Final. No challenge: generator got `alphaCg + betaCg`, user got `alphaCv` back.
        Finalized,
        /// Final. The generator never committed: the user got `alphaCg + alphaCv` back.
        Cancelled,
        /// Final. Verifier k agreed with the generator (Table 1, rows 2 and 3): generator got
        /// `alphaCg + betaCg`, verifier k got `alphaCv + k * betaCv`, the k - 1 dissenting verifiers lost
        /// their stakes, the user got nothing back (it paid `alphaCv` for the verification).
        GeneratorUpheld,
        /// Final. Verifier k agreed with an earlier verifier j (Table 1, row 4): the generator lost
        /// `betaCg`, the user got `alphaCg + alphaCv` back, verifier j got `alphaCv + betaCv`, verifier k
        /// got `betaCg + (k - 1) * betaCv - alphaCv`, the other k - 2 verifiers lost their stakes.
        VerifierUpheld,
        /// Final. No agreement after `maxStages` stages (every verifier's stake and the generator's
        /// `alphaCg + betaCg` went to the treasury), or no verifier for a later stage could be drawn in
        /// time (the dissenters got their stakes back; the generator's `alphaCg + betaCg` went to the
        /// treasury). The user got `alphaCv` back in both. See {StakePool} for why.
        Stalemate,
        /// Final. The challenge found no verifier for stage 1 before the draw deadline: the generator
        /// got `alphaCg + betaCg` (as if unchallenged), the user's `alphaCv` went to the treasury, so
        /// that making one's own challenge unverifiable is worse than not challenging.
        Unverified,
        /// Stage `stage`'s verifier committed its result. Until the answer deadline
        /// (`deadline - verifyWindow`) the generator and the verifiers of earlier stages
        /// {answerFingerprint} for the stage's fingerprint seed (an earlier verifier only needs to when
        /// the generator's answer is far from its own replay); the verifier may {revealResult} once
        /// all of them answered, once the generator's answer is within tolerance of its fingerprint,
        /// or once the answer deadline passed, and must by `deadline`
        /// (`committedAt + 2 * verifyWindow`). Way forward after the deadline: anyone may call
        /// {timeoutVerifier} (as in {State.Verifying}).
        Answering,
        /// Final. The generator did not answer the fingerprint seed of stage `stage` in time, which
        /// counts as conceding: the user got `alphaCg` back, the stage's verifier `alphaCv + betaCv`,
        /// the verifiers of earlier stages their `betaCv`, the treasury `betaCg`.
        GeneratorForfeited
    }

    /// @notice Protocol parameters. Changes apply only to jobs opened afterwards: a job remembers the
    /// id of the parameter set it was opened under and uses its windows and `maxStages` for its whole
    /// life; the four amounts are fixed at {openJob}.
    /// @param alphaBps α in basis points (10_000 = 1.0): the user's payment per cost unit. 1..100_000.
    /// @param betaBps β in basis points: the stake per cost unit of generators and verifiers.
    /// alphaBps..1_000_000 (β ≥ α is what makes every payout non-negative).
    /// @param commitWindow Seconds the generator has, after {openJob}, to {commit}. 60 s..30 days.
    /// @param challengeWindow Seconds the user has, after {commit}, to {challenge}. 60 s..30 days.
    /// @param verifyWindow Seconds a drawn verifier has to {commitResult}; also the length of the
    /// answer and of the reveal phase that follow ({State.Answering}). 60 s..30 days.
    /// @param drawWindow Seconds a job may wait in {State.AwaitingVerifier} before anyone may settle it
    /// as a stalemate. 60 s..30 days.
    /// @param maxStages The last stage; a disagreement at this stage is a stalemate. 1..16.
    /// @param unbondDelay Seconds between {requestUnbond} and {withdrawUnbonded}. 0..365 days.
    /// @param minBond The least free bond that gives a verifier a draw weight. ≥ 1.
    /// @param minModelStake The least total draw weight a model needs for {openJob}. ≥ 1.
    /// @param maxStakeBps `betaCv` may be at most `minBond * maxStakeBps / 10_000`, so one job never locks
    /// more than that share of a minimum bond. 1..10_000.
    /// @param declineFeeBps The share of `betaCv` a verifier pays (to the treasury) to
    /// {declineAssignment}. 0..10_000.
    struct Params {
        uint32 alphaBps;
        uint32 betaBps;
        uint32 commitWindow;
        uint32 challengeWindow;
        uint32 verifyWindow;
        uint32 drawWindow;
        uint8 maxStages;
        uint32 unbondDelay;
        uint96 minBond;
        uint96 minModelStake;
        uint16 maxStakeBps;
        uint16 declineFeeBps;
    }

    /// @notice A job as a dApp sees it (see {getJob}).
    /// @param user Who opened (and pays for) the job.
    /// @param generator Who must run the inference and commit to its receipt.
    /// @param state The current {State}.
    /// @param stage The current stage (0 before a challenge; 1..maxStages after).
    /// @param deadline The deadline of the current state (unix seconds; 0 in final states).
    /// @param alphaCg The user's payment for the generation, deposited at open.
    /// @param alphaCv The user's payment for verification, deposited at open.
    /// @param betaCg The generator's stake (deposited at commit).
    /// @param betaCv Each verifier's stake (locked from its bond when drawn).
    /// @param numChecks The number of checks in the committed receipt (0 before commit).
    /// @param paramsId The parameter set the job was opened under (see {paramsAt}).
    /// @param escrow The tokens the job holds right now; 0 once it is final.
    struct JobView {
        address user;
        address generator;
        State state;
        uint8 stage;
        uint64 deadline;
        uint256 alphaCg;
        uint256 alphaCv;
        uint256 betaCg;
        uint256 betaCv;
        uint32 numChecks;
        uint16 paramsId;
        uint256 escrow;
    }

    /// @notice What happened to the verifier of one stage (see {getStage}).
    enum StageStatus {
        /// No verifier has been drawn for this stage.
        None,
        /// The verifier was drawn and has not submitted yet.
        Pending,
        /// The verifier submitted a result; its hash is `resultHash`.
        Submitted,
        /// The verifier missed its deadline and forfeited its stake to the treasury.
        NoShow,
        /// The verifier declined the assignment and paid the decline fee.
        Declined,
        /// The verifier committed its result and has not revealed it yet.
        Committed
    }

    /// @notice The draw queue and the current draw epoch (see {drawEpoch}).
    /// @param frozen Whether an epoch is in progress (randomness requested; draw weights frozen).
    /// @param requestId The randomness request of the epoch.
    /// @param head The next queue entry to draw.
    /// @param epochEnd The epoch covers queue entries `head..epochEnd-1`.
    /// @param tail One past the last queued entry (`tail - head` stages wait); the indices start again
    /// at 0 whenever the queue drains.
    struct DrawEpochView {
        bool frozen;
        uint256 requestId;
        uint256 head;
        uint256 epochEnd;
        uint256 tail;
    }

    // ------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------

    /// @notice The call is not allowed while job `jobId` is in `state`.
    error StakePoolWrongState(uint256 jobId, State state);
    /// @notice Only the job's user may do this; `caller` is not it.
    error StakePoolNotUser(uint256 jobId, address caller);
    /// @notice Only the job's generator may do this; `caller` is not it.
    error StakePoolNotGenerator(uint256 jobId, address caller);
    /// @notice Only the verifier drawn for the current stage may do this; `caller` is not it.
    error StakePoolNotAssignedVerifier(uint256 jobId, address caller);
    /// @notice Too late: the deadline of the job's current state passed at `deadline`.
    error StakePoolDeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice Too early: this becomes possible after `deadline`.
    error StakePoolDeadlineNotReached(uint256 jobId, uint64 deadline);
    /// @notice `generator` cannot serve the job (zero address or the user itself).
    error StakePoolInvalidGenerator(address generator);
    /// @notice With the current α, `cg` and `cv` give a zero payment (alphaCg or alphaCv would be 0).
    error StakePoolCostTooSmall(uint256 cg, uint256 cv);
    /// @notice `cg` or `cv` is so large that an amount would not fit the job's storage (alphaCg and
    /// alphaCv, betaCg and betaCv must each be < 2^80).
    error StakePoolCostTooLarge(uint256 cg, uint256 cv);
    /// @notice `numChecks` must be at least 1 and at most 2^18 (see {StakePool-MAX_NUM_CHECKS}).
    error StakePoolInvalidNumChecks(uint256 jobId, uint256 numChecks);
    /// @notice The receipt root must not be zero.
    error StakePoolEmptyReceiptRoot(uint256 jobId);
    /// @notice A match bitmap must have `ceil(numChecks / 8)` = `expected` bytes, not `length`.
    error StakePoolBadBitmapLength(uint256 jobId, uint256 length, uint256 expected);
    /// @notice The bits of the bitmap's last byte beyond `numChecks` must be zero.
    error StakePoolBitmapTrailingBits(uint256 jobId);
    /// @notice Confirming an earlier verifier must pay more than agreeing with the generator:
    /// `betaCg` must exceed `2 * alphaCv + betaCv` (for α = 1, β = 2: Cg > 2 Cv).
    error StakePoolCostRatio(uint256 cg, uint256 cv);
    /// @notice `betaCv` = `betaCv` exceeds `max` = minBond * maxStakeBps / 10_000.
    error StakePoolVerifierStakeTooLarge(uint256 betaCv, uint256 max);
    /// @notice Model `modelId` has draw weight `stake` from `verifiers` verifiers; a job needs at least
    /// `minStake` from at least `minVerifiers` (maxStages + 2: the user and generator may be among them).
    error StakePoolModelUnderserved(bytes32 modelId, uint256 stake, uint256 verifiers, uint256 minStake, uint256 minVerifiers);
    /// @notice The randomness of the current draw epoch is not available yet (request `requestId`).
    error StakePoolRandomnessPending(uint256 requestId);
    /// @notice The draw queue is empty: nothing to draw.
    error StakePoolNothingToDraw();
    /// @notice A verifier may decline only until `until` (a quarter of its verify window).
    error StakePoolDeclineTooLate(uint256 jobId, uint64 until);
    /// @notice A zero treasury address.
    error StakePoolZeroTreasury();
    /// @notice Parameter `name` = `value` is outside `[min, max]`.
    error StakePoolParamOutOfRange(string name, uint256 value, uint256 min, uint256 max);
    /// @notice β (`betaBps`) must be at least α (`alphaBps`).
    error StakePoolBetaBelowAlpha(uint256 alphaBps, uint256 betaBps);
    /// @notice All 2^16 parameter-set ids have been used.
    error StakePoolParamsExhausted();
    /// @notice A zero address was given where a contract is needed.
    error StakePoolZeroAddress();
    /// @notice A result commitment must not be zero.
    error StakePoolEmptyCommitment(uint256 jobId);
    /// @notice The revealed result, fingerprint and salt do not hash to the stage's commitment.
    error StakePoolCommitmentMismatch(uint256 jobId, bytes32 commitment, bytes32 revealed);
    /// @notice `caller` is neither the job's generator nor the verifier of an earlier stage, so it has
    /// no fingerprint to answer.
    error StakePoolNotAnswerer(uint256 jobId, address caller);
    /// @notice `caller` already answered the current stage's fingerprint seed.
    error StakePoolAlreadyAnswered(uint256 jobId, address caller);
    /// @notice The verifier may reveal only after every answer arrived or after `answerDeadline`.
    error StakePoolRevealTooEarly(uint256 jobId, uint64 answerDeadline);
    /// @notice The answer given to {submitResult} is not signed by the job's generator (`signer`
    /// recovered instead) for this commitment.
    error StakePoolBadAnswerSignature(uint256 jobId, address signer);
    /// @notice The generator's signed answer is `distance` bits from the fingerprint, over
    /// `FINGERPRINT_TOLERANCE`: a one-transaction stage needs a matching answer (commit and reveal instead).
    error StakePoolAnswerFar(uint256 jobId, uint256 distance);
    /// @notice The statement given to {reportEquivocation} is not the current stage verifier's
    /// (`signer` recovered) or names the commitment it made.
    error StakePoolNoEquivocation(uint256 jobId, address signer);

    // ------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------

    /// @notice `user` opened job `jobId` for `generator` and deposited `alphaCg + alphaCv`.
    /// @param modelId The model the user asks for (a hash of the model's files); stored as its registry
    /// index (see {modelOf}): draws pick among the verifiers that declared it.
    /// @param alphaCg The user's payment for the generation.
    /// @param alphaCv The user's payment for verification.
    /// @param betaCg The stake the generator must deposit at commit.
    /// @param betaCv The stake each verifier will lock.
    /// @param commitDeadline The generator must commit by this time.
    /// @param paramsId The parameter set the job lives under.
    /// @param requestHash keccak256 of the job request (prompt, decoding and sampler configuration;
    /// offchain/request): the receipt must answer exactly this request. Emitted, not stored.
    /// @param requestUri Where the generator fetches the request (a `data:` URI carries it inline).
    event JobOpened(
        uint256 indexed jobId,
        address indexed user,
        address indexed generator,
        bytes32 modelId,
        uint256 alphaCg,
        uint256 alphaCv,
        uint256 betaCg,
        uint256 betaCv,
        uint64 commitDeadline,
        uint16 paramsId,
        bytes32 requestHash,
        string requestUri
    );

    /// @notice The generator staked `betaCg` and committed to its receipt.
    /// @param receiptRoot The root hash of the receipt's canonical encoding. Emitted, not stored: the
    /// pool never reads it (results are compared by hash), and not storing it saves a new storage slot
    /// (22,100 gas) on every job; read it from this event (offchain/chain `jobHistory`).
    /// @param numChecks The number of checks in the receipt (samples + generated tokens).
    /// @param receiptUri Where to fetch the receipt; stored only here.
    /// @param betaCg The generator's stake, now in the job.
    /// @param challengeDeadline The user may challenge until this time.
    event JobCommitted(
        uint256 indexed jobId,
        address indexed generator,
        bytes32 receiptRoot,
        uint32 numChecks,
        string receiptUri,
        uint256 betaCg,
        uint64 challengeDeadline
    );

    /// @notice Settlement: the generator never committed; the user is credited `userRefund`
    /// (= alphaCg + alphaCv, everything the job held).
    event JobCancelled(uint256 indexed jobId, address indexed user, uint256 userRefund);

    /// @notice Settlement without challenge: the generator is credited `generatorPayout`
    /// (= alphaCg + betaCg) and the user `userPayout` (= alphaCv), everything the job held.
    event JobFinalized(
        uint256 indexed jobId,
        address indexed generator,
        address indexed user,
        uint256 generatorPayout,
        uint256 userPayout
    );

    /// @notice The user challenged the generator's result; stage 1 begins.
    event JobChallenged(uint256 indexed jobId, address indexed user);

    /// @notice `verifier` was drawn for `stage`; `stake` (= betaCv) of its bond is now locked in the job.
    /// @param deadline The verifier must commit its result by this time.
    /// @param fingerprintSeed Selects the (position, layer) pairs and projections of the stage's replay
    /// fingerprint (docs/PROTOCOL.md "Replay fingerprints"); it comes from the draw's randomness, which
    /// did not exist when the receipt was committed.
    event VerifierAssigned(
        uint256 indexed jobId,
        uint8 indexed stage,
        address indexed verifier,
        uint256 stake,
        uint64 deadline,
        uint64 fingerprintSeed
    );

    /// @notice The verifier of `stage` committed to its result.
    /// @param commitment `keccak256(abi.encode(jobId, stage, verifier, keccak256(matchBitmap),
    /// fingerprint, salt))`.
    /// @param answerDeadline The generator and earlier verifiers answer the fingerprint seed until then.
    /// @param revealDeadline The verifier must reveal by this time.
    event ResultCommitted(
        uint256 indexed jobId,
        uint8 indexed stage,
        address indexed verifier,
        bytes32 commitment,
        uint64 answerDeadline,
        uint64 revealDeadline
    );

    /// @notice `party` answered stage `stage`'s fingerprint seed with `fingerprint`.
    /// @param index 0 for the generator, i for the verifier of stage i < stage.
    event FingerprintAnswered(
        uint256 indexed jobId, uint8 indexed stage, address indexed party, uint8 index, bytes32 fingerprint
    );

    /// @notice Stage `stage` of job `jobId` joined the draw queue at position `queueIndex`; if no
    /// verifier is drawn by `drawDeadline`, anyone may settle with {timeoutDraw}.
    event DrawQueued(uint256 indexed jobId, uint8 indexed stage, uint256 queueIndex, uint64 drawDeadline);

    /// @notice A draw for `stage` found no eligible verifier this epoch; the stage was queued again.
    event VerifierUnavailable(uint256 indexed jobId, uint8 indexed stage, uint64 drawDeadline);

    /// @notice A draw epoch began: randomness `requestId` was requested for queue entries up to `epochEnd`.
    event DrawEpochStarted(uint256 indexed requestId, uint256 head, uint256 epochEnd);

    /// @notice `verifier` declined `stage` of job `jobId`, paying `fee` to the treasury; the rest of its
    /// stake (`refund`) was credited to it.
    event VerifierDeclined(uint256 indexed jobId, uint8 indexed stage, address indexed verifier, uint256 fee, uint256 refund);

    /// @notice `verifier` revealed its result for `stage`.
    /// @param resultHash keccak256 of `matchBitmap`; results are compared by this hash.
    /// @param matchBitmap The canonical match bitmap (docs/PROTOCOL.md).
    /// @param fingerprint The verifier's replay fingerprint for the stage's seed.
    /// @param generatorDistance Hamming distance between `fingerprint` and the generator's answer
    /// (`type(uint16).max` if the generator did not answer).
    event ResultSubmitted(
        uint256 indexed jobId,
        uint8 indexed stage,
        address indexed verifier,
        bytes32 resultHash,
        bytes matchBitmap,
        bytes32 fingerprint,
        uint16 generatorDistance
    );

    /// @notice `verifier` signed `signedCommitment` for a one-transaction stage and then committed
    /// another result on-chain: dropped as a no-show, its stake `forfeited` (= betaCv) split between
    /// `reporter` (`reward`: the decline fee, at most half the stake) and the treasury (the rest); the stage waits for
    /// a new draw.
    event VerifierEquivocated(
        uint256 indexed jobId,
        uint8 indexed stage,
        address indexed verifier,
        bytes32 signedCommitment,
        address reporter,
        uint256 forfeited,
        uint256 reward
    );

    /// @notice `verifier` missed its deadline for `stage`; its locked stake `forfeited` (= betaCv) is
    /// credited to the treasury (never to a party of the job), and the stage waits for a new draw.
    event VerifierTimedOut(uint256 indexed jobId, uint8 indexed stage, address indexed verifier, uint256 forfeited);

    /// @notice Settlement of a challenged job. Lists every payout; together they are exactly what the
    /// job held.
    /// @param outcome {State.GeneratorUpheld}, {State.VerifierUpheld} or {State.Stalemate}.
    /// @param stage The stage at which the job was settled (for a stalemate after a failed draw: the
    /// stage that found no verifier).
    /// @param userPayout Credited to the user.
    /// @param generatorPayout Credited to the generator.
    /// @param verifiers The verifiers that had a stake in the job, in stage order (stage 1 first).
    /// @param verifierPayouts What each of `verifiers` was credited (0 for a slashed stake).
    /// @param treasuryPayout Credited to the treasury (slashed stakes of a stalemate, the generator's
    /// deposits in a stalemate); 0 in Table 1's rows.
    event JobSettled(
        uint256 indexed jobId,
        State indexed outcome,
        uint8 stage,
        uint256 userPayout,
        uint256 generatorPayout,
        address[] verifiers,
        uint256[] verifierPayouts,
        uint256 treasuryPayout
    );
    /// @notice A new parameter set `paramsId` is in force for jobs opened from now on.
    event ParamsUpdated(uint16 indexed paramsId, Params params);
    /// @notice The randomness source used for draws changed.
    event RandomnessSourceUpdated(address indexed previous, address indexed current);
    /// @notice Forfeits, decline fees and stalemate deposits are credited to `current` from now on.
    event TreasuryUpdated(address indexed previous, address indexed current);

    // ------------------------------------------------------------------------------------------------
    // Job life cycle
    // ------------------------------------------------------------------------------------------------

    /// @notice Open a job: ask `generator` for one inference of model `modelId` and deposit
    /// `alphaCg + alphaCv` (see the contract notes); needs an allowance for that amount.
    /// @param generator The generator that must commit; not the caller, not zero.
    /// Also: `betaCg > 2 * alphaCv + betaCv` and `betaCv <= minBond * maxStakeBps / 10_000`.
    /// @param modelId The model (a hash of its files); some verifier must have declared it, and its draw
    /// weight must reach `minModelStake` from at least `maxStages + 2` verifiers.
    /// @param cg The generation cost unit Cg.
    /// @param cv The verification cost unit Cv.
    /// @param requestHash keccak256 of the job request the generator must answer; emitted, not stored.
    /// @param requestUri Where to fetch the request; emitted, not stored.
    /// @return jobId The new job's id (ids start at 1).
    function openJob(
        address generator,
        bytes32 modelId,
        uint256 cg,
        uint256 cv,
        bytes32 requestHash,
        string calldata requestUri
    ) external returns (uint256 jobId);

    /// @notice The generator stakes `betaCg` and commits to its receipt; only the job's generator, in
    /// {State.Open}, by the commit deadline; needs an allowance for `betaCg`.
    /// @param receiptRoot The receipt's root hash (non-zero).
    /// @param numChecks The number of checks in the receipt, 1..2^18.
    /// @param receiptUri Where verifiers fetch the receipt; emitted, not stored.
    function commit(uint256 jobId, bytes32 receiptRoot, uint32 numChecks, string calldata receiptUri) external;

    /// @notice Refund the user in full because the generator did not commit in time; anyone, in
    /// {State.Open}, after the commit deadline.
    function cancel(uint256 jobId) external;

    /// @notice Settle an unchallenged job; anyone, in {State.Committed}, after the challenge deadline.
    function finalize(uint256 jobId) external;

    /// @notice Dispute the generator's result; only the user, in {State.Committed}, by the challenge
    /// deadline. Queues the stage-1 draw ({State.AwaitingVerifier}) and, outside a draw epoch,
    /// requests the randomness for it.
    function challenge(uint256 jobId) external;

    /// @notice The current stage's verifier commits to its result; in {State.Verifying}, by the
    /// deadline. Moves the job to {State.Answering}.
    /// @dev In {State.AwaitingVerifier}, while the job's entry is in a draw epoch whose randomness is
    /// ready, the verifier the draw picks may commit at once: the call draws the queue up to the job's
    /// entry ({drawVerifiers}' rules, same picks and seeds whoever draws) and then commits, which saves
    /// the draw's own transaction. Anyone can tell the pick beforehand by simulating this call from an
    /// address with any non-zero commitment: it returns the seed for the pick and reverts with
    /// {StakePoolNotAssignedVerifier} for anyone else. The pick must commit before the draw deadline;
    /// after that the job settles as if nobody could be drawn unless someone called {drawVerifiers}.
    /// @param commitment `keccak256(abi.encode(jobId, stage, verifier, keccak256(matchBitmap),
    /// fingerprint, salt))` with `stage` a uint8, the fingerprint that of the verifier's own replay for
    /// the stage's `fingerprintSeed` (event {VerifierAssigned}) and `salt` 32 secret random bytes.
    /// @return fingerprintSeed The stage's fingerprint seed.
    function commitResult(uint256 jobId, bytes32 commitment) external returns (uint64 fingerprintSeed);

    /// @notice The generator, or the verifier of an earlier stage, gives its replay fingerprint for
    /// the current stage's seed; in {State.Answering}, by the answer deadline, once per party.
    /// @dev The commitment is already on-chain, so nothing answered here can change it; the answers
    /// are what the revealed fingerprint is compared with. The generator's answer counts for a
    /// confirmation too, so an earlier verifier whose own replay is within tolerance of the
    /// generator's answer need not answer (`offchain/worker/verifier.ts` answers only when it is far
    /// or missing half-way through the answer phase).
    function answerFingerprint(uint256 jobId, bytes32 fingerprint) external;

    /// @notice The current stage's verifier reveals its committed result; in {State.Answering}, after
    /// every answer arrived, or the generator's answer is within tolerance of `fingerprint` (no answer
    /// still to come could change the outcome), or the answer deadline passed; by the reveal deadline.
    /// The job then settles or moves to the next stage:
    /// - the generator gave no answer: {State.GeneratorForfeited};
    /// - the bitmap is the claim and the fingerprint is within `FINGERPRINT_TOLERANCE` bits of the
    ///   generator's answer: {State.GeneratorUpheld} (Table 1, rows 2 and 3);
    /// - the bitmap equals an earlier verifier's and the fingerprint is within tolerance of that
    ///   verifier's answer or of the generator's: {State.VerifierUpheld} (Table 1, row 4);
    /// - otherwise the next stage (a stalemate at the last one). An "agreement" whose fingerprint
    ///   differs from the generator's therefore settles nothing, and its verifier loses its stake when
    ///   a later verifier confirms the generator.
    /// @param matchBitmap `ceil(numChecks / 8)` bytes, check i = bit 7 - i % 8 of byte i / 8, unused
    /// trailing bits zero. The generator's claim is every check set.
    function revealResult(uint256 jobId, bytes calldata matchBitmap, bytes32 fingerprint, bytes32 salt) external;

    /// @notice The current stage in one transaction, when the generator answered off-chain: the drawn
    /// verifier (or the pick of a ready draw, as in {commitResult}) gives its result, its fingerprint
    /// and the generator's answer for the commitment these hash to, signed by the generator; in
    /// {State.Verifying} (or {State.AwaitingVerifier} for the pick), by the verify deadline. Judged
    /// as {revealResult} judges a stage whose generator answered `answer`; `answer` must be within
    /// `FINGERPRINT_TOLERANCE` bits of `fingerprint` ({StakePoolAnswerFar} otherwise: then no
    /// earlier verifier's answer could change the judgement). Emits {ResultSubmitted} only.
    /// @dev The off-chain exchange (docs/PROTOCOL.md "One-transaction stages"): the verifier sends the
    /// generator its commitment `c` (as in {commitResult}) with its signature of the statement
    /// `(COMMITMENT_TAG, chainid, pool, jobId, stage, c, 0)`; the generator answers once per stage
    /// with its fingerprint `answer` and its signature of `(ANSWER_TAG, chainid, pool, jobId, stage, c,
    /// answer)` (both EIP-191 over `keccak256(abi.encode(...))`, tags `keccak256("poc.answer.v1")` and
    /// `keccak256("poc.commitment.v1")`). A verifier that got an answer and then commits another
    /// result on-chain can be reported ({reportEquivocation}). Without the generator's signature the
    /// stage goes through {commitResult}, {answerFingerprint} and {revealResult} as before.
    function submitResult(
        uint256 jobId,
        bytes calldata matchBitmap,
        bytes32 fingerprint,
        bytes32 salt,
        bytes32 answer,
        bytes calldata signature
    ) external;

    /// @notice Report a verifier that signed commitment `commitment` for the current stage off-chain
    /// (to get the generator's answer) and then committed another result with {commitResult}; anyone,
    /// in {State.Answering}. The verifier is dropped as a no-show, the decline fee's share of its stake
    /// (`declineFeeBps`) credited to the caller and the rest to the treasury (a verifier reporting
    /// itself pays more than a decline), and the stage queued for a new draw.
    function reportEquivocation(uint256 jobId, bytes32 commitment, bytes calldata signature) external;

    /// @notice The current verifier missed its deadline: forfeit its stake to the treasury and queue a
    /// new draw for the same stage; anyone, in {State.Verifying}, after the result deadline.
    function timeoutVerifier(uint256 jobId) external;

    /// @notice The current verifier gives its assignment back, within the first quarter of its verify
    /// window: it pays `betaCv * declineFeeBps / 10_000` to the treasury, gets the rest of its stake
    /// credited, and the stage is queued for a new draw.
    function declineAssignment(uint256 jobId) external;

    /// @notice Advance the draw queue; anyone. Outside a draw epoch (and with a non-empty queue) it
    /// requests randomness and starts an epoch covering the queue as it is. Inside an epoch whose
    /// randomness is ready it draws up to `maxDraws` queued stages in queue order (each: up to
    /// {StakePool-DRAW_ATTEMPTS} stake-weighted picks among the verifiers of the job's model; a stage
    /// with no eligible pick is queued again), and ends the epoch after its last entry. Reverts with
    /// {StakePoolRandomnessPending} while the word does not exist yet; an expired word is requested again.
    /// @return drawn How many queue entries were processed.
    function drawVerifiers(uint256 maxDraws) external returns (uint256 drawn);

    /// @notice Settle a job whose stage found no verifier by the draw deadline; anyone, in
    /// {State.AwaitingVerifier}, after it: {State.Unverified} at stage 1 (generator paid, the user's
    /// alphaCv to the treasury), {State.Stalemate} later.
    function timeoutDraw(uint256 jobId) external;

    // ------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------

    /// @notice Put a new parameter set in force for jobs opened from now on (owner only).
    function setParams(Params calldata newParams) external;

    /// @notice Replace the randomness source used for draws (owner only); applies to epochs started
    /// from now on.
    function setRandomnessSource(IRandomnessSource source) external;

    /// @notice Set where forfeits, decline fees and stalemate deposits are credited (owner only).
    function setTreasury(address treasury) external;

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @notice The stake token (fixed at deployment).
    function stakeToken() external view returns (IERC20);

    /// @notice The randomness source used for draws.
    function randomnessSource() external view returns (IRandomnessSource);

    /// @notice Where forfeits, decline fees and stalemate deposits are credited.
    function treasury() external view returns (address);

    /// @notice The draw queue and the current epoch.
    function drawEpoch() external view returns (DrawEpochView memory);

    /// @notice The parameters in force for new jobs, and their id.
    function params() external view returns (Params memory current, uint16 paramsId);

    /// @notice The parameter set `paramsId` (jobs keep the set they were opened under).
    function paramsAt(uint16 paramsId) external view returns (Params memory);

    /// @notice The id the next {openJob} will return.
    function nextJobId() external view returns (uint256);

    /// @notice Job `jobId` (all zero with state {State.None} if it does not exist).
    function getJob(uint256 jobId) external view returns (JobView memory);

    /// @notice The tokens job `jobId` holds right now (deposits not yet paid out).
    function escrowOf(uint256 jobId) external view returns (uint256);

    /// @notice The current stage of job `jobId`, its verifier (zero if none is assigned) and the
    /// deadline of the job's current state.
    function currentStage(uint256 jobId) external view returns (uint8 stage, address verifier, uint64 deadline);

    /// @notice Stage `stage` of job `jobId`: its (latest) verifier, what became of it, and the hash of
    /// its result (zero unless submitted).
    /// @dev The stage views ({getStage}, {stageRound}, {answerOf}) describe a live dispute (the job in
    /// {State.AwaitingVerifier}, {State.Verifying} or {State.Answering}). A settled job's dispute
    /// record is reused by a later challenge, which saves each dispute its fresh storage writes
    /// (docs/PROTOCOL.md "Storage and gas"), so for it they return an empty record (no verifier,
    /// {StageStatus.None}); its history is in the events ({VerifierAssigned}, {ResultSubmitted},
    /// {JobSettled} with every verifier and payout).
    function getStage(uint256 jobId, uint8 stage)
        external
        view
        returns (address verifier, StageStatus status, bytes32 resultHash);

    /// @notice The fingerprint round of the current or last drawn verifier of `stage`.
    /// @return commitment Its result commitment (zero before {commitResult}, and zero again once revealed:
    /// the pool keeps one slot per stage, holding the commitment until the reveal and the result hash
    /// ({getStage}) after it; the commitment stays in {ResultCommitted}).
    /// @return fingerprintSeed The stage's seed (event {VerifierAssigned}).
    /// @return answered Bit i set: party i answered (0 = the generator, i = the verifier of stage i).
    function stageRound(uint256 jobId, uint8 stage)
        external
        view
        returns (bytes32 commitment, uint64 fingerprintSeed, uint32 answered);

    /// @notice Party `index`'s answer to stage `stage`'s seed (0 = the generator, i = the verifier of
    /// stage i); zero unless {stageRound}'s `answered` has bit `index` set. The pool keeps the answers
    /// of the job's current stage only (a later stage reuses their slots): for an earlier stage this
    /// returns zero and the answers are in {FingerprintAnswered}.
    function answerOf(uint256 jobId, uint8 stage, uint8 index) external view returns (bytes32);

    /// @notice The hash the generator's claim has for `numChecks` checks: keccak256 of
    /// `ceil(numChecks / 8)` bytes with the first `numChecks` bits set.
    function claimHash(uint32 numChecks) external pure returns (bytes32);

    /// @notice The verifier a draw word `r` picks from model `modelId`'s tree (before eligibility
    /// checks). A stage's attempt `a` uses `r = uint256(keccak256(abi.encode(word, jobId, stage, a)))`
    /// with the epoch's word; tools use this to show or reproduce draws.
    function drawAt(bytes32 modelId, uint256 r) external view returns (address);

    /// @notice The model id job `jobId` was opened for (zero if none).
    function modelOf(uint256 jobId) external view returns (bytes32);
}
