// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IStakePool} from "../IStakePool.sol";
import {Credits} from "./Credits.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title Settlement
/// @notice The payouts of a challenged job (Table 1, rows 2 to 4, and this project's own outcomes), as
/// an external library over the pool's storage.
/// @dev External so that its code is deployed once beside the pool instead of inside it (the pool
/// would otherwise pass the 24 KiB code limit); it runs by delegatecall on the pool's storage and
/// its events are the pool's ({IStakePool-JobSettled}). Every function credits exactly what the job
/// holds (see {StakePool} "Exactness") and ends the job.
library Settlement {
    /// @dev Job storage, three slots. Field order is the packing order.
    struct Job {
        // slot 0
        address user;
        uint80 alphaCg;
        uint16 modelIndex;
        // slot 1
        address generator;
        uint80 alphaCv;
        uint16 paramsId;
        // slot 2: everything a transition changes lives here
        uint80 betaCg;
        uint80 betaCv;
        /// The job's dispute record (stages, results, answers), recycled across jobs once settled; 0:
        /// the job's own record (none was free). See {StakePool} "Storage".
        uint16 dispute;
        uint40 deadline;
        IStakePool.State state;
        uint8 stage;
        uint24 numChecks;
    }


    /// @dev The verifier of a stage and its fingerprint round, one slot.
    struct StageSlot {
        address verifier;
        uint64 seed;
        uint32 answered;
    }

    /// @notice A revealed fingerprint matches an answer when they differ in at most this many of their
    /// 256 bits (docs/PROTOCOL.md "Replay fingerprints": honest replays differ in a few bits, a guess
    /// in about 128).
    uint256 internal constant FINGERPRINT_TOLERANCE = 16;

    /// @dev A revealed result of stage `stage` (kept in memory to keep the stack shallow).
    struct Reveal {
        uint256 jobId;
        uint256 stage;
        uint256 answered;
        bytes32 resultHash;
        bytes32 fingerprint;
        uint256 answerDeadline;
        uint256 maxStages;
        address treasury;
        /// {IStakePool-submitResult}: the commitment the arguments hash to, and the generator's signed
        /// answer for it (`signature` empty for {IStakePool-revealResult}).
        bytes32 commitment;
        bytes32 signedAnswer;
        bytes signature;
    }

    /// @dev What {IStakePool-revealResult} / {IStakePool-submitResult} pass besides the bitmap and the
    /// signature: `signed` for a one-transaction stage, with the generator's signed `answer`.
    struct Submission {
        uint256 jobId;
        address treasury;
        bytes32 fingerprint;
        bytes32 salt;
        bool signed;
        bytes32 answer;
        bytes signature;
    }

    /// @notice Domain tags of the two signed statements of {IStakePool-submitResult} and
    /// {IStakePool-reportEquivocation} (docs/PROTOCOL.md "One-transaction stages").
    bytes32 internal constant ANSWER_TAG = keccak256("poc.answer.v1");
    bytes32 internal constant COMMITMENT_TAG = keccak256("poc.commitment.v1");

    /// @notice The EIP-191 message hash a party signs: `keccak256(abi.encode(tag, chainid, pool, jobId,
    /// stage, commitment, answer))` (`answer` zero for {COMMITMENT_TAG}), all 32-byte words.
    function statementHash(bytes32 tag, uint256 jobId, uint256 stage, bytes32 commitment, bytes32 answer) internal view returns (bytes32) {
        return MessageHashUtils.toEthSignedMessageHash(keccak256(abi.encode(tag, block.chainid, address(this), jobId, stage, commitment, answer)));
    }

    /// @dev Parameter bounds (the pool exposes them as its constants).
    uint256 internal constant BPS_UNIT = 10_000;
    uint8 internal constant MAX_STAGES = 16;
    uint256 internal constant MAX_ALPHA_BPS = 100_000;
    uint256 internal constant MAX_BETA_BPS = 1_000_000;
    uint256 internal constant MIN_WINDOW = 1 minutes;
    uint256 internal constant MAX_WINDOW = 30 days;
    uint256 internal constant MAX_UNBOND_DELAY = 365 days;

    /// @notice Revert unless `p` is within the pool's bounds (see {StakePool}'s constants). Here rather
    /// than in the pool to keep the pool's code under the 24 KiB limit (called only by the
    /// constructor and {IStakePool-setParams}).
    function validateParams(IStakePool.Params memory p) public pure {
        _checkRange("alphaBps", p.alphaBps, 1, MAX_ALPHA_BPS);
        _checkRange("betaBps", p.betaBps, 1, MAX_BETA_BPS);
        if (p.betaBps < p.alphaBps) revert IStakePool.StakePoolBetaBelowAlpha(p.alphaBps, p.betaBps);
        _checkRange("commitWindow", p.commitWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("challengeWindow", p.challengeWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("verifyWindow", p.verifyWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("drawWindow", p.drawWindow, MIN_WINDOW, MAX_WINDOW);
        _checkRange("maxStages", p.maxStages, 1, MAX_STAGES);
        _checkRange("unbondDelay", p.unbondDelay, 0, MAX_UNBOND_DELAY);
        _checkRange("minBond", p.minBond, 1, type(uint96).max);
        _checkRange("minModelStake", p.minModelStake, 1, type(uint96).max);
        _checkRange("maxStakeBps", p.maxStakeBps, 1, BPS_UNIT);
        _checkRange("declineFeeBps", p.declineFeeBps, 0, BPS_UNIT);
    }

    /// @notice Check `p` ({validateParams}) and store it as parameter set `id`; emits
    /// {IStakePool-ParamsUpdated}. Here rather than in the pool to keep the pool's code under the 24 KiB
    /// limit (called only by the constructor and {IStakePool-setParams}).
    function storeParams(mapping(uint16 => IStakePool.Params) storage params, uint16 id, IStakePool.Params memory p) external {
        validateParams(p);
        params[id] = p;
        emit IStakePool.ParamsUpdated(id, p);
    }

    function _checkRange(string memory name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert IStakePool.StakePoolParamOutOfRange(name, value, min, max);
    }

    /// @notice {IStakePool-revealResult} (`sub.signed` false: the arguments must hash to the stage's
    /// commitment) and {IStakePool-submitResult} (`sub.signed`: in {IStakePool.State.Verifying}, judged
    /// as a stage whose generator answered `sub.answer` for the commitment the arguments hash to, under
    /// its signature). Judges ({judge}) and emits {IStakePool-ResultSubmitted}. Returns true when the
    /// job goes on to the next stage (the pool queues it); only then is the result hash recorded, for
    /// the later stages. Here rather than in the pool to keep the pool's code under the 24 KiB limit.
    function reveal(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(uint256 => bytes32) storage answers,
        mapping(uint256 => bytes32) storage results,
        mapping(address => uint256) storage credits,
        IStakePool.Params storage p,
        bytes calldata matchBitmap,
        Submission memory sub
    ) external returns (bool next) {
        Reveal memory r;
        r.jobId = sub.jobId;
        {
            IStakePool.State s = j.state;
            if (s != (sub.signed ? IStakePool.State.Verifying : IStakePool.State.Answering)) revert IStakePool.StakePoolWrongState(r.jobId, s);
        }
        r.stage = j.stage;
        {
            StageSlot memory st = stages[r.stage];
            if (msg.sender != st.verifier) revert IStakePool.StakePoolNotAssignedVerifier(r.jobId, msg.sender);
            r.answered = st.answered;
        }
        {
            uint40 deadline = j.deadline;
            if (block.timestamp > deadline) revert IStakePool.StakePoolDeadlinePassed(r.jobId, deadline);
            r.answerDeadline = deadline - p.verifyWindow;
        }
        checkBitmap(r.jobId, matchBitmap, j.numChecks);
        r.resultHash = keccak256(matchBitmap);
        r.fingerprint = sub.fingerprint;
        bytes32 revealed = keccak256(abi.encode(r.jobId, uint8(r.stage), msg.sender, r.resultHash, sub.fingerprint, sub.salt));
        if (sub.signed) {
            // judged as an answered stage
            j.state = IStakePool.State.Answering;
            r.commitment = revealed;
            r.signedAnswer = sub.answer;
            r.signature = sub.signature;
        } else {
            bytes32 committed = results[r.stage];
            // INVARIANT: a result counts only as it was committed before any answer was public (H-2).
            if (revealed != committed) revert IStakePool.StakePoolCommitmentMismatch(r.jobId, committed, revealed);
        }
        r.maxStages = p.maxStages;
        r.treasury = sub.treasury;
        uint256 dG = judge(j, stages, answers, results, credits, r);
        emit IStakePool.ResultSubmitted(r.jobId, uint8(r.stage), msg.sender, r.resultHash, matchBitmap, r.fingerprint, uint16(dG));
        next = j.state == IStakePool.State.Answering;
        // Only a later stage compares results with this one's: a settled job's record is freed, its
        // stage views read empty, so the hash is written only when the game goes on.
        if (next) results[r.stage] = r.resultHash;
    }

    /// @notice Revert unless `bitmap` has ceil(n / 8) bytes and no bit set beyond n.
    function checkBitmap(uint256 jobId, bytes calldata bitmap, uint256 n) internal pure {
        uint256 expected = (n + 7) >> 3;
        if (bitmap.length != expected) revert IStakePool.StakePoolBadBitmapLength(jobId, bitmap.length, expected);
        uint256 unused = (8 - (n & 7)) & 7;
        if (unused != 0 && (uint8(bitmap[expected - 1]) & ((1 << unused) - 1)) != 0) {
            revert IStakePool.StakePoolBitmapTrailingBits(jobId);
        }
    }

    /// @notice Judge a revealed result: settle the job, or leave it in {IStakePool.State.Answering}
    /// for the caller to queue the next stage. Returns the revealed fingerprint's distance from the
    /// generator's answer (`type(uint16).max` without one).
    /// @dev The rules (H-2; the reasons are in {StakePool}'s notes):
    /// - no answer from the generator: it concedes ({generatorForfeited});
    /// - the claim with a fingerprint within tolerance of the generator's: Table 1, rows 2-3;
    /// - an earlier verifier's bitmap with a fingerprint within tolerance of that verifier's answer or
    ///   of the generator's (both given after this result was committed): Table 1, row 4. An earlier
    ///   verifier therefore needs to answer only when the generator's answer is far from its own replay
    ///   (a generator that answers falsely to block a confirmation); an honest generator's answer
    ///   serves for everyone, which saves a transaction per earlier verifier and stage;
    /// - a reveal before the answer deadline needs every answer, or a generator's answer within
    ///   tolerance of the revealed fingerprint (no later answer could change the outcome then);
    /// - else the next stage, or a stalemate at the last one.
    function judge(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(uint256 => bytes32) storage answers,
        mapping(uint256 => bytes32) storage results,
        mapping(address => uint256) storage credits,
        Reveal memory r
    ) internal returns (uint256 dG) {
        uint256 k = r.stage;
        bool generatorAnswered;
        // (set by {reveal} for {IStakePool-submitResult} only: an empty signature then fails to recover)
        if (r.commitment != 0) {
            // One-transaction stage: the generator's answer is a statement it signed over this very
            // commitment, so it was given after the result was fixed, as an on-chain answer is.
            address signer = ECDSA.recover(statementHash(ANSWER_TAG, r.jobId, k, r.commitment, r.signedAnswer), r.signature);
            if (signer != j.generator) revert IStakePool.StakePoolBadAnswerSignature(r.jobId, signer);
            dG = distance(r.fingerprint, r.signedAnswer);
            // INVARIANT: a stage settles in one transaction only when the generator's answer matches,
            // so no earlier verifier's answer could change the judgement (otherwise commit and reveal).
            if (dG > FINGERPRINT_TOLERANCE) revert IStakePool.StakePoolAnswerFar(r.jobId, dG);
            generatorAnswered = true;
        } else {
            generatorAnswered = r.answered & 1 != 0;
            // (a slot of an answerer that has not answered this stage still holds an earlier stage's answer)
            dG = generatorAnswered ? distance(r.fingerprint, answers[0]) : type(uint16).max;
        }
        bool nearGenerator = dG <= FINGERPRINT_TOLERANCE;
        // INVARIANT: before the answer deadline a reveal waits for every answer, unless the generator's
        // answer already matches it: then no earlier verifier's answer can change the judgement below.
        if (r.answered != (1 << k) - 1 && block.timestamp <= r.answerDeadline && !nearGenerator) {
            revert IStakePool.StakePoolRevealTooEarly(r.jobId, uint64(r.answerDeadline));
        }
        if (!generatorAnswered) {
            generatorForfeited(j, stages, credits, r.treasury, r.jobId, k);
            return dG;
        }
        // INVARIANT: an agreement settles only with a fingerprint of a real replay (H-2, lazy agreement).
        if (nearGenerator && r.resultHash == claimHash(j.numChecks)) {
            generatorUpheld(j, stages, credits, r.jobId, k);
            return dG;
        }
        for (uint256 i = 1; i < k; ++i) {
            // INVARIANT: a confirmation counts only if this fingerprint matches a replay answered after
            // this commitment: the earlier verifier's own, or the generator's (H-2, copied dissent).
            if (
                results[i] == r.resultHash
                    && (nearGenerator || (r.answered & (1 << i) != 0 && distance(r.fingerprint, answers[i]) <= FINGERPRINT_TOLERANCE))
            ) {
                verifierUpheld(j, stages, credits, r.jobId, k, i);
                return dG;
            }
        }
        if (k >= r.maxStages) stalemate(j, stages, credits, r.treasury, r.jobId, k, true);
    }

    /// @notice {IStakePool-timeoutVerifier}: anyone, after the deadline of {IStakePool.State.Verifying}
    /// or {IStakePool.State.Answering}; the current stage's verifier forfeits its stake to the treasury.
    /// The pool queues the stage again. Here rather than in the pool to keep the pool's code under the
    /// 24 KiB limit (a rare path), as is {declineVerifier}.
    function timeoutVerifier(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => IStakePool.StageStatus) storage dropped,
        mapping(address => uint256) storage credits,
        address treasury,
        uint256 jobId
    ) external {
        IStakePool.State s = j.state;
        if (s != IStakePool.State.Answering && s != IStakePool.State.Verifying) revert IStakePool.StakePoolWrongState(jobId, s);
        uint40 deadline = j.deadline;
        if (block.timestamp <= deadline) revert IStakePool.StakePoolDeadlineNotReached(jobId, deadline);
        uint256 k = j.stage;
        address verifier = stages[k].verifier;
        uint256 stake = j.betaCv;
        dropped[verifier] = IStakePool.StageStatus.NoShow;
        // INVARIANT: a forfeit never goes to a party of the job (C-1).
        Credits.add(credits, treasury, stake);
        emit IStakePool.VerifierTimedOut(jobId, uint8(k), verifier, stake);
    }

    /// @notice {IStakePool-reportEquivocation}: anyone, in {IStakePool.State.Answering}, with a
    /// commitment statement the current stage's verifier signed for a one-transaction stage that
    /// differs from the commitment it then made on-chain. The verifier is dropped as a no-show; the
    /// reporter gets the decline fee's share of its stake (`declineFeeBps`), the treasury the rest. The
    /// pool queues the stage again.
    /// @dev Only the verifier's own signature over another commitment of this stage can be reported, so
    /// no other party can farm it. The reward is what makes someone (usually the generator, which holds
    /// the statement) report it; it is only the decline fee's share because the verifier could report
    /// itself from another address: then it pays stake - fee, more than a decline costs.
    function equivocation(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(uint256 => bytes32) storage results,
        mapping(address => IStakePool.StageStatus) storage dropped,
        mapping(address => uint256) storage credits,
        IStakePool.Params storage p,
        address treasury,
        uint256 jobId,
        bytes32 commitment,
        bytes calldata signature
    ) external {
        IStakePool.State s = j.state;
        if (s != IStakePool.State.Answering) revert IStakePool.StakePoolWrongState(jobId, s);
        uint256 k = j.stage;
        address verifier = stages[k].verifier;
        {
            address signer = ECDSA.recover(statementHash(COMMITMENT_TAG, jobId, k, commitment, 0), signature);
            // INVARIANT: only the stage verifier's own statement of another commitment is an equivocation.
            if (signer != verifier || commitment == results[k]) revert IStakePool.StakePoolNoEquivocation(jobId, signer);
        }
        dropped[verifier] = IStakePool.StageStatus.NoShow;
        uint256 stake = j.betaCv;
        // INVARIANT: a verifier reporting itself (through any address) gets back at most the decline
        // fee's share of its stake and at most stake - fee, so leaving this way never costs less than
        // declining would.
        uint256 fee = stake * p.declineFeeBps / BPS_UNIT;
        uint256 reward = fee <= stake - fee ? fee : stake - fee;
        Credits.add(credits, msg.sender, reward);
        Credits.add(credits, treasury, stake - reward);
        emit IStakePool.VerifierEquivocated(jobId, uint8(k), verifier, commitment, msg.sender, stake, reward);
    }

    /// @notice {IStakePool-declineAssignment}: the current stage's verifier itself, in the first quarter
    /// of its verify window; the decline fee (`p.declineFeeBps` of its stake) to the treasury, the rest
    /// of the stake back. The pool queues the stage again.
    function declineVerifier(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => IStakePool.StageStatus) storage dropped,
        mapping(address => uint256) storage credits,
        address treasury,
        uint256 jobId,
        IStakePool.Params storage p
    ) external {
        IStakePool.State s = j.state;
        if (s != IStakePool.State.Verifying) revert IStakePool.StakePoolWrongState(jobId, s);
        uint256 k = j.stage;
        address verifier = stages[k].verifier;
        if (msg.sender != verifier) revert IStakePool.StakePoolNotAssignedVerifier(jobId, msg.sender);
        uint256 window = p.verifyWindow;
        uint64 until = uint64(j.deadline - window + window / 4);
        if (block.timestamp > until) revert IStakePool.StakePoolDeclineTooLate(jobId, until);
        dropped[verifier] = IStakePool.StageStatus.Declined;
        uint256 stake = j.betaCv;
        uint256 fee = stake * p.declineFeeBps / BPS_UNIT;
        uint256 refund = stake - fee;
        if (fee != 0) Credits.add(credits, treasury, fee);
        if (refund != 0) Credits.add(credits, verifier, refund);
        emit IStakePool.VerifierDeclined(jobId, uint8(k), verifier, fee, refund);
    }

    /// @notice The pool's {IStakePool-getJob}: the job's fields and what it holds now. Here rather than
    /// in the pool to keep the pool's code under the 24 KiB limit.
    function jobView(Job storage j) external view returns (IStakePool.JobView memory v) {
        v.user = j.user;
        v.generator = j.generator;
        IStakePool.State s = j.state;
        v.state = s;
        v.stage = j.stage;
        v.deadline = j.deadline;
        v.alphaCg = j.alphaCg;
        v.alphaCv = j.alphaCv;
        v.betaCg = j.betaCg;
        v.betaCv = j.betaCv;
        v.numChecks = j.numChecks;
        v.paramsId = j.paramsId;
        // the escrow: the deposits of the state (see {StakePool} "Exactness")
        if (s == IStakePool.State.Open) {
            v.escrow = v.alphaCg + v.alphaCv;
        } else if (s == IStakePool.State.Committed || s == IStakePool.State.Verifying || s == IStakePool.State.Answering || s == IStakePool.State.AwaitingVerifier) {
            uint256 stakes = s == IStakePool.State.Committed ? 0 : s == IStakePool.State.AwaitingVerifier ? v.stage - 1 : v.stage;
            v.escrow = v.alphaCg + v.alphaCv + v.betaCg + stakes * v.betaCv;
        }
    }

    /// @dev What the pool's stage views return ({IStakePool-getStage}, {IStakePool-stageRound},
    /// {IStakePool-answerOf}).
    struct StageView {
        address verifier;
        IStakePool.StageStatus status;
        bytes32 resultHash;
        bytes32 commitment;
        uint64 seed;
        uint32 answered;
        bytes32 answer;
    }

    /// @notice Stage `stage` of job `j`'s dispute record, and answer `index` of it when it is the current
    /// stage. Here rather than in the pool to keep the pool's code under the 24 KiB limit.
    function stageView(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(uint256 => bytes32) storage results,
        mapping(uint256 => bytes32) storage answers,
        mapping(address => IStakePool.StageStatus) storage dropped,
        uint256 stage,
        uint256 index
    ) external view returns (StageView memory v) {
        StageSlot memory st = stages[stage];
        // A recycled record holds an earlier dispute's later stages: only stages 1..j.stage are this
        // job's, and while stage j.stage waits for a draw its slot is this job's only if it holds the
        // verifier this job dropped (a no-show or a decline); else nothing was drawn for it yet.
        if (stage == 0 || stage > j.stage) return v;
        if (stage == j.stage && j.state == IStakePool.State.AwaitingVerifier && dropped[st.verifier] == IStakePool.StageStatus.None) return v;
        v.verifier = st.verifier;
        v.seed = st.seed;
        v.answered = st.answered;
        v.status = stageStatus(j, dropped, stage, st.verifier);
        // one slot holds the commitment until the reveal, the result hash after it
        if (v.status == IStakePool.StageStatus.Submitted) v.resultHash = results[stage];
        else v.commitment = results[stage];
        if (stage == j.stage && index < 32 && st.answered & (1 << index) != 0) v.answer = answers[index];
    }

    /// @notice What became of `verifier`, the latest verifier of `stage` of job `j` (the pool's
    /// {IStakePool-getStage}). A replaced one is recorded in `dropped`. Otherwise a stage before the
    /// job's current one was revealed (the game moves on only after a reveal), and at the current
    /// stage the job's state says it: Verifying = Pending, Answering = Committed, and a settled job
    /// whose current stage has a verifier that was not replaced settled on that verifier's reveal.
    function stageStatus(
        Job storage j,
        mapping(address => IStakePool.StageStatus) storage dropped,
        uint256 stage,
        address verifier
    ) internal view returns (IStakePool.StageStatus) {
        if (verifier == address(0)) return IStakePool.StageStatus.None;
        IStakePool.StageStatus d = dropped[verifier];
        if (d != IStakePool.StageStatus.None) return d;
        if (stage == j.stage) {
            IStakePool.State s = j.state;
            if (s == IStakePool.State.Verifying) return IStakePool.StageStatus.Pending;
            if (s == IStakePool.State.Answering) return IStakePool.StageStatus.Committed;
        }
        return IStakePool.StageStatus.Submitted;
    }

    /// @notice keccak256 of ceil(n / 8) bytes whose first n bits (MSB first) are set: the generator's
    /// claim.
    function claimHash(uint256 n) internal pure returns (bytes32 h) {
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

    /// @dev Hamming distance of two fingerprints (popcount of the xor, SWAR).
    function distance(bytes32 a, bytes32 b) internal pure returns (uint256 x) {
        x = uint256(a ^ b);
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x + (x >> 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
            // 16 lanes of at most 16 each: their sum (≤ 256) fits the top 16-bit lane.
            x = (x * 0x0001000100010001000100010001000100010001000100010001000100010001) >> 240;
        }
    }

    /// @dev Table 1, rows 2 and 3: verifier k agrees with the generator.
    function generatorUpheld(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => uint256) storage credits,
        uint256 jobId,
        uint256 k
    ) private {
        j.state = IStakePool.State.GeneratorUpheld;
        j.deadline = 0;
        uint256 bV = j.betaCv;
        uint256 generatorPayout = uint256(j.alphaCg) + j.betaCg;
        uint256 verifierPayout = uint256(j.alphaCv) + k * bV;
        Credits.add(credits, j.generator, generatorPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(stages, k);
        payouts[k - 1] = verifierPayout;
        Credits.add(credits, verifiers[k - 1], verifierPayout);
        emit IStakePool.JobSettled(jobId, IStakePool.State.GeneratorUpheld, uint8(k), 0, generatorPayout, verifiers, payouts, 0);
    }

    /// @dev Table 1, row 4: verifier k agrees with the earlier verifier `agreed`.
    function verifierUpheld(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => uint256) storage credits,
        uint256 jobId,
        uint256 k,
        uint256 agreed
    ) private {
        j.state = IStakePool.State.VerifierUpheld;
        j.deadline = 0;
        uint256 aV = j.alphaCv;
        uint256 bV = j.betaCv;
        uint256 userPayout = uint256(j.alphaCg) + aV;
        uint256 agreedPayout = aV + bV;
        // k >= 2 and bV >= aV (beta >= alpha), so this cannot underflow.
        uint256 lastPayout = uint256(j.betaCg) + (k - 1) * bV - aV;
        Credits.add(credits, j.user, userPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(stages, k);
        payouts[agreed - 1] = agreedPayout;
        payouts[k - 1] = lastPayout;
        Credits.add(credits, verifiers[agreed - 1], agreedPayout);
        Credits.add(credits, verifiers[k - 1], lastPayout);
        emit IStakePool.JobSettled(jobId, IStakePool.State.VerifierUpheld, uint8(k), userPayout, 0, verifiers, payouts, 0);
    }

    /// @dev The generator did not answer stage k's fingerprint seed: it concedes. The user gets alphaCg
    /// back, verifier k alphaCv + betaCv, the earlier verifiers their betaCv, the treasury betaCg.
    function generatorForfeited(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => uint256) storage credits,
        address treasury,
        uint256 jobId,
        uint256 k
    ) private {
        j.state = IStakePool.State.GeneratorForfeited;
        j.deadline = 0;
        uint256 bV = j.betaCv;
        uint256 userPayout = j.alphaCg;
        uint256 toTreasury = j.betaCg;
        Credits.add(credits, j.user, userPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(stages, k);
        for (uint256 i; i < k; ++i) {
            payouts[i] = bV;
            Credits.add(credits, verifiers[i], bV);
        }
        payouts[k - 1] = uint256(j.alphaCv) + bV;
        Credits.add(credits, verifiers[k - 1], j.alphaCv);
        // INVARIANT: a generator that does not answer gets nothing (as if it had not committed).
        Credits.add(credits, treasury, toTreasury);
        emit IStakePool.JobSettled(jobId, IStakePool.State.GeneratorForfeited, uint8(k), userPayout, 0, verifiers, payouts, toTreasury);
    }

    /// @dev No agreement: the user gets alphaCv back, the generator's deposits go to the treasury.
    /// After `maxStages` results (`slashVerifiers`) every verifier stake goes to the treasury too;
    /// when stage k found no verifier in time, the k - 1 verifiers get their stakes back.
    function stalemate(
        Job storage j,
        mapping(uint256 => StageSlot) storage stages,
        mapping(address => uint256) storage credits,
        address treasury,
        uint256 jobId,
        uint256 k,
        bool slashVerifiers
    ) public {
        j.state = IStakePool.State.Stalemate;
        j.deadline = 0;
        uint256 bV = j.betaCv;
        uint256 staked = slashVerifiers ? k : k - 1;
        uint256 userPayout = j.alphaCv;
        uint256 toTreasury = uint256(j.alphaCg) + j.betaCg;
        Credits.add(credits, j.user, userPayout);
        (address[] memory verifiers, uint256[] memory payouts) = _stageVerifiers(stages, staked);
        if (slashVerifiers) {
            toTreasury += staked * bV;
        } else {
            for (uint256 i; i < staked; ++i) {
                payouts[i] = bV;
                Credits.add(credits, verifiers[i], bV);
            }
        }
        // INVARIANT: a stalemate pays neither the user (beyond its alphaCv) nor the generator.
        Credits.add(credits, treasury, toTreasury);
        emit IStakePool.JobSettled(jobId, IStakePool.State.Stalemate, uint8(k), userPayout, 0, verifiers, payouts, toTreasury);
    }

    /// @dev The verifiers of stages 1..count and a zeroed payout array of the same length.
    function _stageVerifiers(mapping(uint256 => StageSlot) storage stages, uint256 count)
        private
        view
        returns (address[] memory verifiers, uint256[] memory payouts)
    {
        verifiers = new address[](count);
        payouts = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            verifiers[i] = stages[i + 1].verifier;
        }
    }
}
