// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {StakePool} from "../../../contracts/StakePool.sol";
import {IStakePool} from "../../../contracts/IStakePool.sol";
import {IVerifierRegistry} from "../../../contracts/IVerifierRegistry.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {MockRandomness} from "../../../contracts/mocks/MockRandomness.sol";

/// @notice Drives random life cycles of the v2 pool (used by StakePoolInvariant.t.sol): two users, two
/// generators, ten bonded verifiers over two models (one user and one generator among them: the draw
/// must skip them for their own jobs), a keeper for the permissionless calls and the treasury; the
/// handler owns the pool and changes its parameters mid-run. Every action picks its inputs so that
/// the call should succeed, makes it in a try/catch and counts it (calls, successes, skips for
/// "nothing to do", expected reverts, unexpected reverts).
///
/// Ghost model. The handler keeps its own account of what the pool should hold, computed from the
/// paper's Table 1 and the v2 rules: each job's four amounts, state, stage, deadlines, deposits and
/// payouts; every address's expected credit; every verifier's bond (bonded + pending), unbond
/// requests and declared models; tokens in and out. It reads the pool only to choose inputs (which
/// verifier a draw picked, and checks that pick against the rules; the stage's fingerprint seed; a
/// verifier's free bond), never for an expected result. Before each reveal it predicts the outcome
/// from the answers it gave (the judge of docs/PROTOCOL.md: no generator answer = forfeit; the claim
/// within 16 bits of the generator's answer = upheld; an earlier verifier's bitmap within 16 bits of
/// its answer or of the generator's = confirmed; else the next stage or a stalemate) and records a violation if the pool
/// does otherwise. Half the results whose generator answer matches go in one transaction
/// (`submitResult`, the generators sign with known keys), judged by the same model, and a third of
/// the lazy verifiers are reported for equivocation (`reportEquivocation`). The invariants
/// compare the pool with this model.
contract StakePoolHandler is Test {
    uint256 internal constant BPS = 10_000;
    // The first parameter set (id 0); {setParams} puts others in force for jobs opened later.
    uint256 internal constant ALPHA = 7_000; // α = 0.7 and β = 2.3: amounts round down
    uint256 internal constant BETA = 23_000;
    uint256 internal constant WINDOW = 1 hours; // commit, challenge, verify
    uint256 internal constant DRAW_WINDOW = 4 hours;
    uint256 internal constant MAX_STAGES = 3;
    uint256 internal constant UNBOND_DELAY = 1 days;
    uint256 public constant MIN_BOND = 1000;
    uint256 internal constant MIN_MODEL_STAKE = 3000;
    uint256 internal constant MAX_STAKE_BPS = 2500; // betaCv ≤ 250
    uint256 internal constant DECLINE_FEE_BPS = 1000;
    uint256 internal constant TOLERANCE = 16;
    /// The generators' private keys are GENERATOR_KEY + i (they sign one-transaction answers); the
    /// users' USER_KEY + i and the verifiers' VERIFIER_KEY + i (a verifier's signed statement of a
    /// commitment is what an equivocation report carries).
    uint256 internal constant GENERATOR_KEY = 0xA11CE;
    uint256 internal constant USER_KEY = 0xB0B;
    uint256 internal constant VERIFIER_KEY = 0xC0DE;

    bytes32 public constant MODEL_A = keccak256("model A");
    bytes32 public constant MODEL_B = keccak256("model B");

    // --- actions (index into the counters) ---
    uint256 public constant A_OPEN = 0;
    uint256 public constant A_COMMIT = 1;
    uint256 public constant A_CANCEL = 2;
    uint256 public constant A_FINALIZE = 3;
    uint256 public constant A_CHALLENGE = 4;
    uint256 public constant A_DRAW = 5;
    uint256 public constant A_COMMIT_RESULT = 6;
    uint256 public constant A_ANSWER = 7;
    uint256 public constant A_REVEAL = 8;
    uint256 public constant A_DECLINE = 9;
    uint256 public constant A_TIMEOUT_VERIFIER = 10;
    uint256 public constant A_TIMEOUT_DRAW = 11;
    uint256 public constant A_BOND = 12;
    uint256 public constant A_BOND_FROM_CREDIT = 13;
    uint256 public constant A_REQUEST_UNBOND = 14;
    uint256 public constant A_WITHDRAW_UNBONDED = 15;
    uint256 public constant A_SYNC = 16;
    uint256 public constant A_SET_MODELS = 17;
    uint256 public constant A_WITHDRAW = 18;
    uint256 public constant A_WARP = 19;
    uint256 public constant A_SET_PARAMS = 20;
    uint256 public constant N_ACTIONS = 21;

    // --- verifier behaviours at commitResult ---
    uint8 public constant B_HONEST = 0; // the true bitmap (the claim, or the cheat's missing check) + own replay fp
    uint8 public constant B_LAZY = 1; // the claim without a replay: a guessed fp
    uint8 public constant B_COPIED = 2; // an earlier stage's revealed bitmap and fp (that stage's seed)
    uint8 public constant B_MALICIOUS = 3; // replays (true fp) but reveals a wrong bitmap

    StakePool public pool;
    TestToken public token;
    MockRandomness public rnd;
    address public constant TREASURY = address(0x7EA5);
    address public constant KEEPER = address(0xBEEF);

    address[] public users;
    address[] public generators;
    /// Addresses that bond: the eight verifiers, users[0] and generators[0].
    address[] public bonders;
    /// Every address the pool may credit.
    address[] public known;

    struct GJob {
        address user;
        address generator;
        bytes32 model;
        uint256 aG;
        uint256 aV;
        uint256 bG;
        uint256 bV;
        bool cheat; // the generator ran another model: the true bitmap misses check `missing`
        uint256 missing;
        uint256 numChecks;
        IStakePool.State state;
        uint8 stage;
        uint64 deadline;
        uint64 answerDeadline;
        uint64 assignedAt;
        uint256 deposits;
        uint256 paid;
        uint16 pid; // the parameter set it was opened under
    }

    struct GStage {
        address verifier; // the latest verifier drawn for the stage
        uint8 behaviour;
        bytes bitmap;
        bytes32 fp;
        bytes32 salt;
        bytes32 trueFp; // what an honest replay of this stage's seed gives
        bool revealed;
        uint32 answered; // bit i: party i answered (0 = generator)
    }

    /// The parameter sets, by id (the last one is in force).
    IStakePool.Params[] internal gParams;

    uint256[] public jobIds;
    mapping(uint256 => GJob) internal gjob;
    mapping(uint256 => mapping(uint256 => GStage)) internal gstage;
    mapping(uint256 => mapping(uint256 => mapping(uint256 => bytes32))) internal gAnswer;
    mapping(uint256 => mapping(address => bool)) public everDrawn;

    mapping(address => uint256) public expCredit;
    mapping(address => uint256) public gBond; // bond + pendingBond
    mapping(address => uint8) public gModels; // bit 0: MODEL_A, bit 1: MODEL_B
    mapping(address => uint256[]) internal unbondAmount;
    mapping(address => uint256[]) internal unbondReady;
    mapping(address => uint256) internal unbondHead;

    /// Whether a parameter change moved minBond (weights then follow at each verifier's next sync).
    bool public minBondChanged;

    uint256 public ghostIn;
    uint256 public ghostOut;

    // --- counters ---
    uint256[21] public calls;
    uint256[21] public oks;
    uint256[21] public skips;
    uint256[21] public expectedReverts;
    uint256[21] public unexpectedReverts;
    bytes public lastUnexpected;
    uint256 public lastUnexpectedAction;
    mapping(uint256 => uint256) public finals; // final state => jobs
    uint256 public stalemateByDraw;
    uint256 public stalemateAtMax;
    uint256 public verifierDraws;
    /// @notice Draws made by a pick's own commitResult (the workers' flow).
    uint256 public selfDraws;
    /// @notice Stages settled in one transaction (submitResult with the generator's signed answer).
    uint256 public oneTxStages;
    /// @notice Lazy verifiers reported for equivocation (reportEquivocation).
    uint256 public equivocations;
    mapping(address => uint256) internal keyOf;
    uint256 public violations;
    string public firstViolation;
    /// Per behaviour: reveals, and what the revealing verifier was credited by them in total.
    uint256[4] public reveals;
    uint256[4] public revealPaid;
    uint256[4] public revealStaked;

    constructor() {
        token = new TestToken();
        rnd = new MockRandomness();
        gParams.push(
            IStakePool.Params({
                alphaBps: uint32(ALPHA),
                betaBps: uint32(BETA),
                commitWindow: uint32(WINDOW),
                challengeWindow: uint32(WINDOW),
                verifyWindow: uint32(WINDOW),
                drawWindow: uint32(DRAW_WINDOW),
                maxStages: uint8(MAX_STAGES),
                unbondDelay: uint32(UNBOND_DELAY),
                minBond: uint96(MIN_BOND),
                minModelStake: uint96(MIN_MODEL_STAKE),
                maxStakeBps: uint16(MAX_STAKE_BPS),
                declineFeeBps: uint16(DECLINE_FEE_BPS)
            })
        );
        pool = new StakePool(token, address(this), gParams[0], rnd, TREASURY);
        rnd.set(uint256(keccak256("first word")));
        for (uint256 i; i < 2; ++i) {
            users.push(vm.addr(USER_KEY + i));
            generators.push(vm.addr(GENERATOR_KEY + i));
            keyOf[users[i]] = USER_KEY + i;
            keyOf[generators[i]] = GENERATOR_KEY + i;
        }
        for (uint256 i; i < 8; ++i) {
            bonders.push(vm.addr(VERIFIER_KEY + i));
            keyOf[bonders[i]] = VERIFIER_KEY + i;
        }
        bonders.push(users[0]);
        bonders.push(generators[0]);
        for (uint256 i; i < 2; ++i) known.push(users[i]);
        for (uint256 i; i < 2; ++i) known.push(generators[i]);
        for (uint256 i; i < 8; ++i) known.push(bonders[i]);
        known.push(TREASURY);
        known.push(KEEPER);
        for (uint256 i; i < known.length; ++i) {
            vm.prank(known[i]);
            token.approve(address(pool), type(uint256).max);
        }
        // Verifiers 0-5 serve both models, 6-7 only B, the user and the generator only A.
        for (uint256 i; i < bonders.length; ++i) {
            address v = bonders[i];
            uint256 amount = MIN_BOND + 500 * i;
            token.mint(v, amount);
            vm.prank(v);
            pool.bond(amount);
            ghostIn += amount;
            gBond[v] = amount;
            uint8 mask = i < 6 ? 3 : (i < 8 ? 2 : 1);
            _setModels(v, mask);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Views for the invariants
    // ------------------------------------------------------------------------------------------------

    function ghost(uint256 id) external view returns (GJob memory) {
        return gjob[id];
    }

    /// @notice The minimum bond in force.
    function minBondNow() external view returns (uint256) {
        return _cur().minBond;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function knownCount() external view returns (uint256) {
        return known.length;
    }

    function bonderCount() external view returns (uint256) {
        return bonders.length;
    }

    function stageOf(uint256 id, uint256 k) external view returns (address verifier, uint8 behaviour, bool revealed) {
        GStage storage s = gstage[id][k];
        return (s.verifier, s.behaviour, s.revealed);
    }

    /// @notice The unbond requests the ghost still holds for `v` (sum).
    function gUnbonding(address v) external view returns (uint256 sum) {
        uint256[] storage a = unbondAmount[v];
        for (uint256 i = unbondHead[v]; i < a.length; ++i) sum += a[i];
    }

    function isFinal(IStakePool.State s) public pure returns (bool) {
        return s != IStakePool.State.None && uint8(s) >= uint8(IStakePool.State.Finalized)
            && s != IStakePool.State.Answering;
    }

    // ------------------------------------------------------------------------------------------------
    // Bookkeeping helpers
    // ------------------------------------------------------------------------------------------------

    function _cur() internal view returns (IStakePool.Params storage) {
        return gParams[gParams.length - 1];
    }

    /// @dev The parameter set of job `id`.
    function _p(uint256 id) internal view returns (IStakePool.Params storage) {
        return gParams[gjob[id].pid];
    }

    function _violation(string memory what) internal {
        if (violations == 0) firstViolation = what;
        ++violations;
    }

    function _bad(uint256 a, bytes memory reason) internal {
        ++unexpectedReverts[a];
        lastUnexpected = reason;
        lastUnexpectedAction = a;
    }

    function _pay(uint256 id, address to, uint256 amount) internal {
        expCredit[to] += amount;
        gjob[id].paid += amount;
    }

    function _final(uint256 id, IStakePool.State s) internal {
        GJob storage j = gjob[id];
        if (j.deposits != j.paid) _violation("settlement payouts != deposits");
        j.state = s;
        j.deadline = 0;
        ++finals[uint8(s)];
    }

    function _enqueue(uint256 id, uint8 stage) internal {
        GJob storage j = gjob[id];
        j.state = IStakePool.State.AwaitingVerifier;
        j.stage = stage;
        j.deadline = uint64(block.timestamp + _p(id).drawWindow);
    }

    function _mint(address to, uint256 amount) internal {
        token.mint(to, amount);
    }

    /// @dev The first job (from `seed` on, wrapping) whose ghost state is `s`, or 0.
    function _find(uint256 seed, IStakePool.State s) internal view returns (uint256) {
        uint256 n = jobIds.length;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[(start + i) % n];
            if (gjob[id].state == s) return id;
        }
        return 0;
    }

    /// @dev Like {_find}, among the jobs still in time for the action: `kind` 0 = by the state's
    /// deadline, 1 = by the answer deadline, 2 = in the first quarter of the verify window.
    function _findLive(uint256 seed, IStakePool.State s, uint256 kind) internal view returns (uint256) {
        uint256 n = jobIds.length;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[(start + i) % n];
            GJob storage j = gjob[id];
            if (j.state != s) continue;
            uint256 until = kind == 0 ? j.deadline : (kind == 1 ? j.answerDeadline : j.assignedAt + _p(id).verifyWindow / 4);
            if (block.timestamp <= until) return id;
        }
        return 0;
    }

    function _warpPast(uint256 deadline) internal {
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
    }

    function _claim(uint256 n) internal pure returns (bytes memory b) {
        return _bitmap(n, type(uint256).max, type(uint256).max);
    }

    /// @dev n bits set except `miss1` and `miss2`.
    function _bitmap(uint256 n, uint256 miss1, uint256 miss2) internal pure returns (bytes memory b) {
        b = new bytes((n + 7) / 8);
        for (uint256 i; i < n; ++i) {
            if (i != miss1 && i != miss2) b[i / 8] |= bytes1(uint8(0x80) >> (i % 8));
        }
    }

    function _trueBitmap(GJob storage j) internal view returns (bytes memory) {
        return j.cheat ? _bitmap(j.numChecks, j.missing, type(uint256).max) : _claim(j.numChecks);
    }

    /// @dev An honest replay's fingerprint: the true one with at most 3 bits flipped (two honest ones
    /// differ in at most 6 bits, well within the 16-bit tolerance).
    function _near(bytes32 fp, uint256 seed) internal pure returns (bytes32) {
        uint256 flips = seed % 4;
        uint256 x = uint256(fp);
        for (uint256 i; i < flips; ++i) x ^= 1 << ((seed >> (8 + 8 * i)) & 0xff);
        return bytes32(x);
    }

    /// @dev A guess by `who`: the true fingerprint xor a random word (~128 bits away). Guesses of
    /// different parties never coincide (a lazy verifier that used the generator's own guess would be
    /// colluding with it: the "still open" collusion of docs/PROTOCOL.md, not modelled here).
    function _far(bytes32 fp, address who, uint256 seed) internal pure returns (bytes32) {
        return fp ^ keccak256(abi.encode("guess", who, seed));
    }

    function _distance(bytes32 a, bytes32 b) internal pure returns (uint256 d) {
        uint256 x = uint256(a ^ b);
        while (x != 0) {
            d += x & 1;
            x >>= 1;
        }
    }

    function _setModels(address v, uint8 mask) internal {
        uint256 n = (mask & 1) + ((mask >> 1) & 1);
        bytes32[] memory ms = new bytes32[](n);
        uint256 i;
        if (mask & 1 != 0) ms[i++] = MODEL_A;
        if (mask & 2 != 0) ms[i++] = MODEL_B;
        vm.prank(v);
        pool.setModels(ms);
        gModels[v] = mask;
    }

    function _modelBit(bytes32 m) internal pure returns (uint8) {
        return m == MODEL_A ? 1 : 2;
    }

    // ------------------------------------------------------------------------------------------------
    // Job actions
    // ------------------------------------------------------------------------------------------------

    function openJob(uint256 who, uint256 gen, uint256 model, uint256 cgSeed, uint256 cvSeed) public {
        ++calls[A_OPEN];
        GJob memory j;
        j.user = users[who % 2];
        j.generator = generators[gen % 2];
        j.model = model % 2 == 0 ? MODEL_A : MODEL_B;
        IStakePool.Params storage p = _cur();
        j.pid = uint16(gParams.length - 1);
        uint256 alpha = p.alphaBps;
        uint256 beta = p.betaBps;
        // alphaCv ≥ 1 and betaCv ≤ minBond * maxStakeBps / BPS
        uint256 cv = bound(cvSeed, (BPS + alpha - 1) / alpha, uint256(p.minBond) * p.maxStakeBps / beta);
        j.aV = cv * alpha / BPS;
        j.bV = cv * beta / BPS;
        uint256 cgLo = ((2 * j.aV + j.bV + 1) * BPS + beta - 1) / beta; // betaCg > 2 alphaCv + betaCv
        uint256 cg = bound(cgSeed, cgLo, cgLo + 5000);
        j.aG = cg * alpha / BPS;
        j.bG = cg * beta / BPS;
        j.cheat = (cgSeed >> 128) % 3 == 1; // (not 0: the fuzzer's dictionary is full of zeros)
        j.state = IStakePool.State.Open;
        j.deadline = uint64(block.timestamp + p.commitWindow);
        j.deposits = j.aG + j.aV;
        (uint256 total, uint256 active) = pool.modelStake(j.model);
        _mint(j.user, j.aG + j.aV);
        vm.prank(j.user);
        if (total < p.minModelStake || active < uint256(p.maxStages) + 2) {
            try pool.openJob(j.generator, j.model, cg, cv, bytes32(0), "") {
                _violation("openJob for an underserved model");
            } catch (bytes memory r) {
                if (bytes4(r) == IStakePool.StakePoolModelUnderserved.selector) ++expectedReverts[A_OPEN];
                else _bad(A_OPEN, r);
            }
            return;
        }
        try pool.openJob(j.generator, j.model, cg, cv, bytes32(0), "") returns (uint256 id) {
            ++oks[A_OPEN];
            jobIds.push(id);
            gjob[id] = j;
            ghostIn += j.aG + j.aV;
        } catch (bytes memory r) {
            _bad(A_OPEN, r);
        }
    }

    function commit(uint256 jobSeed, uint256 checks) public {
        _commit(_findLive(jobSeed, IStakePool.State.Open, 0), checks);
    }

    function _commit(uint256 id, uint256 checks) internal {
        ++calls[A_COMMIT];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.deadline) return _skip(A_COMMIT);
        uint256 n = bound(checks, 1, 40);
        _mint(j.generator, j.bG);
        vm.prank(j.generator);
        try pool.commit(id, keccak256(abi.encode(id)), uint32(n), "uri") {
            ++oks[A_COMMIT];
            j.numChecks = n;
            j.missing = (checks >> 64) % n;
            j.state = IStakePool.State.Committed;
            j.deadline = uint64(block.timestamp + _p(id).challengeWindow);
            j.deposits += j.bG;
            ghostIn += j.bG;
        } catch (bytes memory r) {
            _bad(A_COMMIT, r);
        }
    }

    function _skip(uint256 a) internal {
        ++skips[a];
    }

    function cancel(uint256 jobSeed) public {
        ++calls[A_CANCEL];
        uint256 id = _find(jobSeed, IStakePool.State.Open);
        if (id == 0) return _skip(A_CANCEL);
        GJob storage j = gjob[id];
        _warpPast(j.deadline);
        vm.prank(KEEPER);
        try pool.cancel(id) {
            ++oks[A_CANCEL];
            _pay(id, j.user, j.aG + j.aV);
            _final(id, IStakePool.State.Cancelled);
        } catch (bytes memory r) {
            _bad(A_CANCEL, r);
        }
    }

    function finalize(uint256 jobSeed) public {
        _finalize(_find(jobSeed, IStakePool.State.Committed));
    }

    function _finalize(uint256 id) internal {
        ++calls[A_FINALIZE];
        if (id == 0) return _skip(A_FINALIZE);
        GJob storage j = gjob[id];
        _warpPast(j.deadline);
        vm.prank(KEEPER);
        try pool.finalize(id) {
            ++oks[A_FINALIZE];
            _pay(id, j.generator, j.aG + j.bG);
            _pay(id, j.user, j.aV);
            _final(id, IStakePool.State.Finalized);
        } catch (bytes memory r) {
            _bad(A_FINALIZE, r);
        }
    }

    function challenge(uint256 jobSeed) public {
        _challenge(_findLive(jobSeed, IStakePool.State.Committed, 0));
    }

    function _challenge(uint256 id) internal {
        ++calls[A_CHALLENGE];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.deadline) return _skip(A_CHALLENGE);
        vm.prank(j.user);
        try pool.challenge(id) {
            ++oks[A_CHALLENGE];
            _enqueue(id, 1);
        } catch (bytes memory r) {
            _bad(A_CHALLENGE, r);
        }
    }

    /// @notice Advance the draw queue with a fresh word: start an epoch, or draw up to `maxDraws` stages.
    function drawVerifiers(uint256 word, uint256 maxDraws) public {
        ++calls[A_DRAW];
        IStakePool.DrawEpochView memory e = pool.drawEpoch();
        if (!e.frozen && e.head == e.tail) {
            vm.prank(KEEPER);
            try pool.drawVerifiers(1) {
                _violation("drawVerifiers on an empty queue");
            } catch (bytes memory r) {
                if (bytes4(r) == IStakePool.StakePoolNothingToDraw.selector) ++expectedReverts[A_DRAW];
                else _bad(A_DRAW, r);
            }
            return;
        }
        rnd.set(uint256(keccak256(abi.encode(word))));
        // One draw in eight finds the word not there yet (Pending: a revert, nothing changes), one in
        // eight finds it expired (the epoch asks again, nothing is drawn).
        uint256 hiccup = e.frozen ? (maxDraws >> 128) % 8 : 0;
        if (hiccup == 1 || hiccup == 2) {
            rnd.setMode(hiccup == 1 ? MockRandomness.Mode.Pending : MockRandomness.Mode.Expired);
            vm.prank(KEEPER);
            try pool.drawVerifiers(bound(maxDraws, 1, 6)) returns (uint256 drawn) {
                if (hiccup == 1 || drawn != 0) _violation("drawVerifiers without a word");
                ++expectedReverts[A_DRAW]; // counted with the reverts: a call that moved nothing
                if (!pool.drawEpoch().frozen) _violation("an expired word ended the epoch");
            } catch (bytes memory r) {
                if (hiccup == 1 && bytes4(r) == IStakePool.StakePoolRandomnessPending.selector) ++expectedReverts[A_DRAW];
                else _bad(A_DRAW, r);
            }
            rnd.setMode(MockRandomness.Mode.Value);
            return;
        }
        // One draw in four is a pick's own: its commitResult draws the queue up to its job.
        if (e.frozen && (maxDraws >> 64) % 4 == 0 && _selfDraw(maxDraws >> 96)) return;
        vm.prank(KEEPER);
        try pool.drawVerifiers(bound(maxDraws, 1, 6)) {
            ++oks[A_DRAW];
        } catch (bytes memory r) {
            return _bad(A_DRAW, r);
        }
        _recordDraws();
    }

    /// @dev The pick of an awaiting stage of the running epoch (found by drawing on a snapshot) commits
    /// an honest result at once, which draws the queue up to its job. False when no awaiting stage of
    /// this epoch gets a verifier.
    function _selfDraw(uint256 seed) internal returns (bool) {
        uint256 n = jobIds.length;
        uint256 id;
        address pick;
        uint64 fpSeed;
        uint256 snap = vm.snapshotState();
        vm.prank(KEEPER);
        try pool.drawVerifiers(64) {} catch {}
        for (uint256 i; i < n && pick == address(0); ++i) {
            uint256 c = jobIds[(i + seed) % n];
            if (gjob[c].state != IStakePool.State.AwaitingVerifier) continue;
            (uint8 stage, address v,) = pool.currentStage(c);
            if (v == address(0)) continue;
            (id, pick) = (c, v);
            (, fpSeed,) = pool.stageRound(c, stage);
        }
        vm.revertToState(snap);
        if (pick == address(0)) return false;
        GJob storage j = gjob[id];
        bytes memory bitmap = _trueBitmap(j);
        bytes32 fp = _near(keccak256(abi.encode("replay", id, j.stage, fpSeed)), seed);
        bytes32 salt = keccak256(abi.encode(seed, "self"));
        bytes32 commitment = keccak256(abi.encode(id, j.stage, pick, keccak256(bitmap), fp, salt));
        ++selfDraws;
        vm.prank(pick);
        try pool.commitResult(id, commitment) returns (uint64 returned) {
            ++oks[A_DRAW];
            if (returned != fpSeed) _violation("self draw: the seed differs from the draw's");
        } catch (bytes memory r) {
            _bad(A_DRAW, r);
            return true;
        }
        _recordDraws();
        if (gstage[id][j.stage].verifier != pick) _violation("self draw: another verifier than the simulated pick");
        _committed(id, B_HONEST, bitmap, fp, salt);
        return true;
    }

    /// @dev Which awaiting stages got a verifier: check the pick against the rules and take its stake.
    function _recordDraws() internal {
        uint256 n = jobIds.length;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[i];
            GJob storage j = gjob[id];
            if (j.state != IStakePool.State.AwaitingVerifier) continue;
            (uint8 stage, address v,) = pool.currentStage(id);
            if (v == address(0)) continue;
            ++verifierDraws;
            if (stage != j.stage) _violation("draw: wrong stage");
            if (v == j.user || v == j.generator) _violation("draw: a party of the job drawn");
            if (everDrawn[id][v]) _violation("draw: a verifier drawn twice for one job");
            if (gModels[v] & _modelBit(j.model) == 0) _violation("draw: a verifier that does not serve the model");
            if (gBond[v] < j.bV) _violation("draw: a verifier without the stake");
            everDrawn[id][v] = true;
            gBond[v] -= j.bV;
            j.deposits += j.bV;
            j.state = IStakePool.State.Verifying;
            j.assignedAt = uint64(block.timestamp);
            j.deadline = uint64(block.timestamp + _p(id).verifyWindow);
            GStage storage s = gstage[id][stage];
            s.verifier = v;
            s.revealed = false;
            s.answered = 0;
            s.bitmap = "";
            (, uint64 seed,) = pool.stageRound(id, stage);
            s.trueFp = keccak256(abi.encode("replay", id, stage, seed));
        }
    }

    function commitResult(uint256 jobSeed, uint256 behaviour, uint256 salt) public {
        _commitResult(_findLive(jobSeed, IStakePool.State.Verifying, 0), behaviour, salt);
    }

    function _commitResult(uint256 id, uint256 behaviour, uint256 saltSeed) internal {
        ++calls[A_COMMIT_RESULT];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.deadline) return _skip(A_COMMIT_RESULT);
        uint8 k = j.stage;
        GStage storage s = gstage[id][k];
        // Half honest; lazy, copied and malicious a sixth each.
        uint256 pick = behaviour % 6;
        uint8 b = pick < 3 ? B_HONEST : uint8(pick - 2);
        uint256 copyFrom = k > 1 ? 1 + (behaviour >> 8) % (k - 1) : 0;
        if (b == B_COPIED && copyFrom == 0) b = B_LAZY;
        bytes memory bitmap;
        bytes32 fp;
        if (b == B_HONEST) {
            bitmap = _trueBitmap(j);
            fp = _near(s.trueFp, behaviour >> 16);
        } else if (b == B_LAZY) {
            bitmap = _claim(j.numChecks);
            fp = _far(s.trueFp, s.verifier, behaviour >> 16);
        } else if (b == B_COPIED) {
            GStage storage src = gstage[id][copyFrom];
            bitmap = src.bitmap;
            fp = src.fp;
        } else {
            // replayed, lies: a check the truth has is reported missing (or the cheat's one reported set)
            uint256 other = (behaviour >> 16) % j.numChecks;
            bitmap = j.cheat ? _claim(j.numChecks) : _bitmap(j.numChecks, other, type(uint256).max);
            if (j.cheat && j.numChecks > 1 && other != j.missing) bitmap = _bitmap(j.numChecks, j.missing, other);
            fp = _near(s.trueFp, behaviour >> 24);
        }
        bytes32 salt = keccak256(abi.encode(saltSeed));
        // Half the time the generator answers the commitment off-chain with its own replay; when
        // that answer matches, the stage goes in one transaction (submitResult), else as below.
        if (uint256(salt) % 2 == 0 && _oneTx(id, b, bitmap, fp, salt)) return;
        bytes32 commitment = keccak256(abi.encode(id, k, s.verifier, keccak256(bitmap), fp, salt));
        vm.prank(s.verifier);
        try pool.commitResult(id, commitment) {
            ++oks[A_COMMIT_RESULT];
            _committed(id, b, bitmap, fp, salt);
            // A third of the lazy verifiers had first sent the generator a made-up commitment for its
            // off-chain answer: the generator reports the signed statement.
            if (b == B_LAZY && uint256(salt) % 3 == 1) _equivocate(id);
        } catch (bytes memory r) {
            _bad(A_COMMIT_RESULT, r);
        }
    }

    /// @dev The generator's off-chain answer (its own replay) to `commitment`; when it matches `fp`, the
    /// stage in one transaction (the ghost records the commitment and the answer, then {_reveal} with
    /// the signature). False: the answer is far, commit and reveal instead.
    function _oneTx(uint256 id, uint8 b, bytes memory bitmap, bytes32 fp, bytes32 salt) internal returns (bool) {
        uint8 k = gjob[id].stage;
        bytes32 answer = _near(gstage[id][k].trueFp, uint256(keccak256(abi.encode(salt, "answer"))));
        if (_distance(answer, fp) > TOLERANCE) return false;
        bytes32 commitment = keccak256(abi.encode(id, k, gstage[id][k].verifier, keccak256(bitmap), fp, salt));
        ++oks[A_COMMIT_RESULT];
        _committed(id, b, bitmap, fp, salt);
        gstage[id][k].answered = 1;
        gAnswer[id][k][0] = answer;
        _reveal(id, _signAnswer(id, k, commitment, answer));
        return true;
    }

    /// @dev The generator reports the current verifier's signed statement of another commitment: the
    /// verifier is dropped, the decline fee's share of its stake (at most stake − fee) to the generator,
    /// the rest to the treasury, the stage queued again.
    function _equivocate(uint256 id) internal {
        GJob storage j = gjob[id];
        uint8 k = j.stage;
        address v = gstage[id][k].verifier;
        bytes32 other = keccak256(abi.encode(id, k, "made-up"));
        bytes32 statement = keccak256(abi.encode(keccak256("poc.commitment.v1"), block.chainid, address(pool), id, uint256(k), other, bytes32(0)));
        (uint8 sv, bytes32 r, bytes32 sg) = vm.sign(keyOf[v], keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", statement)));
        vm.prank(j.generator);
        try pool.reportEquivocation(id, other, abi.encodePacked(r, sg, sv)) {
            ++equivocations;
            uint256 fee = j.bV * _p(id).declineFeeBps / BPS;
            uint256 reward = fee <= j.bV - fee ? fee : j.bV - fee;
            _pay(id, j.generator, reward);
            _pay(id, TREASURY, j.bV - reward);
            _enqueue(id, k);
        } catch (bytes memory rr) {
            _bad(A_COMMIT_RESULT, rr);
        }
    }

    /// @dev The job's generator's EIP-191 signature of its answer to `commitment` (IStakePool submitResult).
    function _signAnswer(uint256 id, uint8 k, bytes32 commitment, bytes32 answer) internal view returns (bytes memory) {
        bytes32 statement = keccak256(abi.encode(keccak256("poc.answer.v1"), block.chainid, address(pool), id, uint256(k), commitment, answer));
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", statement));
        (uint8 v, bytes32 r, bytes32 sg) = vm.sign(keyOf[gjob[id].generator], digest);
        return abi.encodePacked(r, sg, v);
    }

    /// @dev The ghost of a committed result.
    function _committed(uint256 id, uint8 b, bytes memory bitmap, bytes32 fp, bytes32 salt) internal {
        GJob storage j = gjob[id];
        GStage storage s = gstage[id][j.stage];
        s.behaviour = b;
        s.bitmap = bitmap;
        s.fp = fp;
        s.salt = salt;
        j.state = IStakePool.State.Answering;
        j.answerDeadline = uint64(block.timestamp + _p(id).verifyWindow);
        j.deadline = uint64(block.timestamp + 2 * uint256(_p(id).verifyWindow));
    }

    /// @notice The generator or an earlier stage's verifier answers the current stage's seed; one in
    /// four lies (a guess far from the true fingerprint).
    function answerFingerprint(uint256 jobSeed, uint256 party, uint256 lie) public {
        _answer(_findLive(jobSeed, IStakePool.State.Answering, 1), party, lie);
    }

    function _answer(uint256 id, uint256 party, uint256 lie) internal {
        ++calls[A_ANSWER];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.answerDeadline) return _skip(A_ANSWER);
        uint8 k = j.stage;
        GStage storage s = gstage[id][k];
        uint256 index = type(uint256).max;
        for (uint256 t; t < k; ++t) {
            uint256 i = (party + t) % k;
            if (s.answered & (1 << i) == 0) {
                index = i;
                break;
            }
        }
        if (index == type(uint256).max) return _skip(A_ANSWER);
        address who = index == 0 ? j.generator : gstage[id][index].verifier;
        bytes32 fp = lie % 4 == 1 ? _far(s.trueFp, who, lie >> 8) : _near(s.trueFp, lie >> 8);
        vm.prank(who);
        try pool.answerFingerprint(id, fp) {
            ++oks[A_ANSWER];
            s.answered |= uint32(1 << index);
            gAnswer[id][k][index] = fp;
        } catch (bytes memory r) {
            _bad(A_ANSWER, r);
        }
    }

    /// @notice The current verifier reveals. Half the time every party that has not answered yet
    /// answers first (honestly, as parties that follow the protocol do), a quarter of the time only the
    /// generator does (earlier verifiers leave the answer to it, as the worker does when the generator's
    /// answer matches its own replay); else the reveal waits for the end of the answer phase.
    function revealResult(uint256 jobSeed, uint256 patience) public {
        uint256 id = _findLive(jobSeed, IStakePool.State.Answering, 0);
        if (id != 0 && patience % 4 != 1 && block.timestamp <= gjob[id].answerDeadline) {
            uint8 k = gjob[id].stage;
            uint256 parties = patience % 4 == 2 ? 1 : k;
            for (uint256 i; i < parties; ++i) {
                if (gstage[id][k].answered & (1 << i) == 0) _answer(id, i, (patience >> 8) & ~uint256(3));
            }
        }
        _reveal(id, "");
    }

    enum Verdict {
        NextStage,
        Forfeited,
        GeneratorUpheld,
        VerifierUpheld,
        Stalemate
    }

    /// @dev The judge of docs/PROTOCOL.md, from the ghost's own record of answers and results.
    function _predict(uint256 id) internal view returns (Verdict, uint256 agreed) {
        GJob storage j = gjob[id];
        uint256 k = j.stage;
        GStage storage s = gstage[id][k];
        if (s.answered & 1 == 0) return (Verdict.Forfeited, 0);
        bytes32 h = keccak256(s.bitmap);
        bool nearGenerator = _distance(s.fp, gAnswer[id][k][0]) <= TOLERANCE;
        if (h == keccak256(_claim(j.numChecks)) && nearGenerator) {
            return (Verdict.GeneratorUpheld, 0);
        }
        for (uint256 i = 1; i < k; ++i) {
            if (
                keccak256(gstage[id][i].bitmap) == h
                    && (nearGenerator || (s.answered & (1 << i) != 0 && _distance(s.fp, gAnswer[id][k][i]) <= TOLERANCE))
            ) return (Verdict.VerifierUpheld, i);
        }
        if (k >= _p(id).maxStages) return (Verdict.Stalemate, 0);
        return (Verdict.NextStage, 0);
    }

    /// @dev The generator answered this stage within tolerance of the verifier's fingerprint.
    function _mayRevealEarly(uint256 id, uint256 k) internal view returns (bool) {
        GStage storage s = gstage[id][k];
        return s.answered & 1 != 0 && _distance(s.fp, gAnswer[id][k][0]) <= TOLERANCE;
    }

    /// @dev revealResult, or with `signature` (the generator's answer, already in the ghost as its
    /// answer) submitResult: the stage in one transaction.
    function _reveal(uint256 id, bytes memory signature) internal {
        ++calls[A_REVEAL];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.deadline) return _skip(A_REVEAL);
        uint8 k = j.stage;
        GStage storage s = gstage[id][k];
        // Reveal once everyone answered or the generator's answer is within tolerance of the revealed
        // fingerprint (the pool must accept both before the answer deadline), else after the answer phase.
        if (s.answered != uint32((1 << k) - 1) && !_mayRevealEarly(id, k)) _warpPast(j.answerDeadline);
        (Verdict verdict, uint256 agreed) = _predict(id);
        uint256 before = pool.creditOf(s.verifier);
        vm.prank(s.verifier);
        if (signature.length == 0) {
            try pool.revealResult(id, s.bitmap, s.fp, s.salt) {
                ++oks[A_REVEAL];
            } catch (bytes memory r) {
                return _bad(A_REVEAL, r);
            }
        } else {
            try pool.submitResult(id, s.bitmap, s.fp, s.salt, gAnswer[id][k][0], signature) {
                ++oks[A_REVEAL];
                ++oneTxStages;
            } catch (bytes memory r) {
                return _bad(A_REVEAL, r);
            }
        }
        s.revealed = true;
        _afterReveal(id, verdict, agreed, before);
    }

    /// @dev The ghost's payouts of a reveal the pool accepted, and the checks of its outcome.
    function _afterReveal(uint256 id, Verdict verdict, uint256 agreed, uint256 before) internal {
        GJob storage j = gjob[id];
        uint8 k = j.stage;
        GStage storage s = gstage[id][k];
        uint256 aG = j.aG;
        uint256 aV = j.aV;
        uint256 bG = j.bG;
        uint256 bV = j.bV;
        if (verdict == Verdict.Forfeited) {
            _pay(id, j.user, aG);
            for (uint256 i = 1; i < k; ++i) _pay(id, gstage[id][i].verifier, bV);
            _pay(id, s.verifier, aV + bV);
            _pay(id, TREASURY, bG);
            _final(id, IStakePool.State.GeneratorForfeited);
        } else if (verdict == Verdict.GeneratorUpheld) {
            _pay(id, j.generator, aG + bG);
            _pay(id, s.verifier, aV + k * bV);
            _final(id, IStakePool.State.GeneratorUpheld);
        } else if (verdict == Verdict.VerifierUpheld) {
            _pay(id, j.user, aG + aV);
            _pay(id, gstage[id][agreed].verifier, aV + bV);
            _pay(id, s.verifier, bG + (k - 1) * bV - aV);
            _final(id, IStakePool.State.VerifierUpheld);
        } else if (verdict == Verdict.Stalemate) {
            _pay(id, j.user, aV);
            _pay(id, TREASURY, aG + bG + k * bV);
            _final(id, IStakePool.State.Stalemate);
            ++stalemateAtMax;
        } else {
            _enqueue(id, k + 1);
        }
        IStakePool.State got = pool.getJob(id).state;
        if (got != j.state) _violation("reveal: the pool's outcome differs from the judge's rules");
        // A verifier's payout from its own reveal, per behaviour.
        uint256 gained = pool.creditOf(s.verifier) - before;
        ++reveals[s.behaviour];
        revealPaid[s.behaviour] += gained;
        revealStaked[s.behaviour] += bV;
        // H-2: a result without a real replay (lazy) or copied from calldata never settles in its
        // revealer's favour: at most its stake and alphaCv back when the generator forfeited.
        if (s.behaviour == B_LAZY || s.behaviour == B_COPIED) {
            if (verdict == Verdict.GeneratorUpheld || verdict == Verdict.VerifierUpheld) {
                _violation("H-2: a lazy or copied result settled the job");
            }
            if (gained > aV + bV) _violation("H-2: a lazy or copied result paid more than a forfeit");
        }
    }

    function declineAssignment(uint256 jobSeed) public {
        _decline(_findLive(jobSeed, IStakePool.State.Verifying, 2));
    }

    function _decline(uint256 id) internal {
        ++calls[A_DECLINE];
        GJob storage j = gjob[id];
        if (id == 0 || block.timestamp > j.assignedAt + _p(id).verifyWindow / 4) return _skip(A_DECLINE);
        address v = gstage[id][j.stage].verifier;
        vm.prank(v);
        try pool.declineAssignment(id) {
            ++oks[A_DECLINE];
            uint256 fee = j.bV * _p(id).declineFeeBps / BPS;
            _pay(id, TREASURY, fee);
            _pay(id, v, j.bV - fee);
            _enqueue(id, j.stage);
        } catch (bytes memory r) {
            _bad(A_DECLINE, r);
        }
    }

    function timeoutVerifier(uint256 jobSeed, bool answering) public {
        ++calls[A_TIMEOUT_VERIFIER];
        uint256 id = _find(jobSeed, answering ? IStakePool.State.Answering : IStakePool.State.Verifying);
        if (id == 0) id = _find(jobSeed, answering ? IStakePool.State.Verifying : IStakePool.State.Answering);
        if (id == 0) return _skip(A_TIMEOUT_VERIFIER);
        GJob storage j = gjob[id];
        _warpPast(j.deadline);
        vm.prank(KEEPER);
        try pool.timeoutVerifier(id) {
            ++oks[A_TIMEOUT_VERIFIER];
            _pay(id, TREASURY, j.bV);
            _enqueue(id, j.stage);
        } catch (bytes memory r) {
            _bad(A_TIMEOUT_VERIFIER, r);
        }
    }

    function timeoutDraw(uint256 jobSeed) public {
        ++calls[A_TIMEOUT_DRAW];
        uint256 id = _find(jobSeed, IStakePool.State.AwaitingVerifier);
        if (id == 0) return _skip(A_TIMEOUT_DRAW);
        GJob storage j = gjob[id];
        _warpPast(j.deadline);
        vm.prank(KEEPER);
        try pool.timeoutDraw(id) {
            ++oks[A_TIMEOUT_DRAW];
        } catch (bytes memory r) {
            return _bad(A_TIMEOUT_DRAW, r);
        }
        uint256 k = j.stage;
        if (k == 1) {
            _pay(id, j.generator, j.aG + j.bG);
            _pay(id, TREASURY, j.aV);
            _final(id, IStakePool.State.Unverified);
        } else {
            _pay(id, j.user, j.aV);
            _pay(id, TREASURY, j.aG + j.bG);
            for (uint256 i = 1; i < k; ++i) _pay(id, gstage[id][i].verifier, j.bV);
            _final(id, IStakePool.State.Stalemate);
            ++stalemateByDraw;
        }
    }

    /// @notice Move one live job a step along its way (the actions above, with the seeds given), so
    /// that random sequences reach deep states often.
    /// Half the time it starts from the challenged job with the highest stage, so that later stages
    /// (confirmations, stalemates at maxStages) are reached too.
    function advance(uint256 jobSeed, uint256 s1, uint256 s2) public {
        uint256 n = jobIds.length;
        uint256 start = n == 0 ? 0 : jobSeed % n;
        if (jobSeed % 2 == 1) {
            uint256 best;
            for (uint256 i; i < n; ++i) {
                GJob storage c = gjob[jobIds[i]];
                if (!isFinal(c.state) && c.stage > best && block.timestamp <= c.deadline) {
                    best = c.stage;
                    start = i;
                }
            }
        }
        for (uint256 t; t < n; ++t) {
            uint256 id = jobIds[(start + t) % n];
            GJob storage j = gjob[id];
            IStakePool.State st = j.state;
            if (st == IStakePool.State.Open) {
                if (block.timestamp > j.deadline) continue;
                return _commit(id, s1);
            }
            if (st == IStakePool.State.Committed) {
                if (s1 % 5 == 1) return _finalize(id);
                if (block.timestamp > j.deadline) continue;
                return _challenge(id);
            }
            if (st == IStakePool.State.AwaitingVerifier) return drawVerifiers(s1, s2);
            if (st == IStakePool.State.Verifying) {
                if (block.timestamp > j.deadline) continue;
                if (s1 % 8 == 1) return _decline(id);
                return _commitResult(id, s1, s2);
            }
            if (st == IStakePool.State.Answering) {
                if (block.timestamp > j.deadline) continue;
                GStage storage s = gstage[id][j.stage];
                bool all = s.answered == uint32((1 << j.stage) - 1);
                // Usually every party answers; sometimes one stays silent (the reveal then waits).
                if (!all && block.timestamp <= j.answerDeadline && s2 % 6 != 1) return _answer(id, s1, s2 >> 8);
                return _reveal(id, "");
            }
        }
        openJob(s1, s1 >> 8, s1 >> 16, s2, s2 >> 64);
    }

    // ------------------------------------------------------------------------------------------------
    // Verifier and money actions
    // ------------------------------------------------------------------------------------------------

    function bond(uint256 who, uint256 amount) public {
        ++calls[A_BOND];
        address v = bonders[who % bonders.length];
        amount = bound(amount, 1, 3000);
        uint256 minBond = _cur().minBond;
        if (gBond[v] + amount < minBond) amount = minBond - gBond[v];
        _mint(v, amount);
        vm.prank(v);
        try pool.bond(amount) {
            ++oks[A_BOND];
            gBond[v] += amount;
            ghostIn += amount;
        } catch (bytes memory r) {
            _bad(A_BOND, r);
        }
    }

    function bondFromCredit(uint256 who, uint256 amount) public {
        ++calls[A_BOND_FROM_CREDIT];
        address v = bonders[who % bonders.length];
        for (uint256 t; t < bonders.length && expCredit[v] == 0; ++t) v = bonders[(who + t) % bonders.length];
        uint256 credit = expCredit[v];
        if (credit == 0) return _skip(A_BOND_FROM_CREDIT);
        amount = bound(amount, 1, credit);
        uint256 minBond = _cur().minBond;
        if (gBond[v] + amount < minBond) {
            if (gBond[v] + credit < minBond) return _skip(A_BOND_FROM_CREDIT);
            amount = minBond - gBond[v];
        }
        vm.prank(v);
        try pool.bondFromCredit(amount) {
            ++oks[A_BOND_FROM_CREDIT];
            expCredit[v] -= amount;
            gBond[v] += amount;
        } catch (bytes memory r) {
            _bad(A_BOND_FROM_CREDIT, r);
        }
    }

    function requestUnbond(uint256 who, uint256 amount) public {
        ++calls[A_REQUEST_UNBOND];
        address v = bonders[who % bonders.length];
        uint256 free = pool.bondOf(v).bond; // the free bond (pending bonds cannot be unbonded)
        uint256 open = unbondAmount[v].length - unbondHead[v];
        if (free == 0 || open >= 16) return _skip(A_REQUEST_UNBOND);
        amount = bound(amount, 1, free);
        if (free - amount != 0 && free - amount < _cur().minBond) amount = free;
        vm.prank(v);
        try pool.requestUnbond(amount) {
            ++oks[A_REQUEST_UNBOND];
            gBond[v] -= amount;
            unbondAmount[v].push(amount);
            unbondReady[v].push(block.timestamp + _cur().unbondDelay);
        } catch (bytes memory r) {
            _bad(A_REQUEST_UNBOND, r);
        }
    }

    /// @notice Withdraw the ready unbond requests; one call in four first waits for the oldest one.
    /// Since setParams changes unbondDelay, requests can become ready out of order.
    function withdrawUnbonded(uint256 who, uint256 wait) public {
        ++calls[A_WITHDRAW_UNBONDED];
        address v = bonders[who % bonders.length];
        uint256 head = unbondHead[v];
        uint256 len = unbondAmount[v].length;
        if (head == len) return _skip(A_WITHDRAW_UNBONDED);
        if (wait % 4 == 1) _warpPast(unbondReady[v][head] - 1);
        // Every ready request, each on its own time (a taken one is a hole, amount 0, until the head
        // passes it).
        uint256 amount;
        for (uint256 i = head; i < len; ++i) {
            if (unbondReady[v][i] <= block.timestamp) amount += unbondAmount[v][i];
        }
        vm.prank(v);
        try pool.withdrawUnbonded() returns (uint256 got) {
            ++oks[A_WITHDRAW_UNBONDED];
            if (got != amount) _violation("withdrawUnbonded: amount");
            for (uint256 i = head; i < len; ++i) {
                if (unbondReady[v][i] <= block.timestamp) unbondAmount[v][i] = 0;
            }
            uint256 h = head;
            while (h < len && unbondAmount[v][h] == 0) ++h;
            unbondHead[v] = h;
            ghostOut += got;
        } catch (bytes memory r) {
            if (amount == 0 && bytes4(r) == IVerifierRegistry.StakePoolUnbondNotReady.selector) {
                ++expectedReverts[A_WITHDRAW_UNBONDED];
            } else {
                _bad(A_WITHDRAW_UNBONDED, r);
            }
        }
    }

    function sync(uint256 who, bool all) public {
        ++calls[A_SYNC];
        if (pool.drawEpoch().frozen) {
            vm.prank(KEEPER);
            try pool.sync(bonders[who % bonders.length]) {
                _violation("sync during a draw epoch");
            } catch (bytes memory r) {
                if (bytes4(r) == IVerifierRegistry.StakePoolDrawEpochInProgress.selector) ++expectedReverts[A_SYNC];
                else _bad(A_SYNC, r);
            }
            return;
        }
        vm.prank(KEEPER);
        if (all) {
            try pool.syncPending(type(uint256).max) {
                ++oks[A_SYNC];
            } catch (bytes memory r) {
                _bad(A_SYNC, r);
            }
        } else {
            try pool.sync(bonders[who % bonders.length]) {
                ++oks[A_SYNC];
            } catch (bytes memory r) {
                _bad(A_SYNC, r);
            }
        }
    }

    /// @notice A verifier re-declares its models: none, A or B (1 in 8 each), or both.
    function setModels(uint256 who, uint256 choice) public {
        ++calls[A_SET_MODELS];
        address v = bonders[who % bonders.length];
        uint256 c = choice % 8;
        uint8 mask = c == 1 ? 0 : (c == 2 ? 1 : (c == 3 ? 2 : 3));
        uint256 n = (mask & 1) + ((mask >> 1) & 1);
        bytes32[] memory ms = new bytes32[](n);
        uint256 i;
        if (mask & 1 != 0) ms[i++] = MODEL_A;
        if (mask & 2 != 0) ms[i++] = MODEL_B;
        vm.prank(v);
        try pool.setModels(ms) {
            ++oks[A_SET_MODELS];
            gModels[v] = mask;
        } catch (bytes memory r) {
            _bad(A_SET_MODELS, r);
        }
    }

    function withdraw(uint256 who) public {
        ++calls[A_WITHDRAW];
        // The first address with a credit from `who` on (the seeded one if nobody has any).
        address a = known[who % known.length];
        for (uint256 t; t < known.length; ++t) {
            address c = known[(who + t) % known.length];
            if (expCredit[c] != 0) {
                a = c;
                break;
            }
        }
        uint256 credit = expCredit[a];
        vm.prank(a);
        try pool.withdraw() returns (uint256 got) {
            ++oks[A_WITHDRAW];
            if (got != credit) _violation("withdraw: amount");
            expCredit[a] = 0;
            ghostOut += got;
        } catch (bytes memory r) {
            if (credit == 0 && bytes4(r) == IVerifierRegistry.StakePoolNothingToWithdraw.selector) {
                ++expectedReverts[A_WITHDRAW];
            } else {
                _bad(A_WITHDRAW, r);
            }
        }
    }

    /// @notice The owner puts a new parameter set in force (live jobs keep theirs): α 0.5..1.5, β
    /// α..3, windows 1 min..2 h (draw 1 min..4 h), maxStages 1..4, unbond delay 0..1 day, minBond
    /// 500..1500, minModelStake 1000..4000, maxStakeBps 10..50 %, decline fee 0..100 %.
    function setParams(uint256 seed, uint256 seed2) public {
        ++calls[A_SET_PARAMS];
        IStakePool.Params memory p;
        p.alphaBps = uint32(bound(seed, 5_000, 15_000));
        p.betaBps = uint32(bound(seed >> 16, p.alphaBps, 30_000));
        p.commitWindow = uint32(bound(seed >> 32, 1 minutes, 2 hours));
        p.challengeWindow = uint32(bound(seed >> 64, 1 minutes, 2 hours));
        p.verifyWindow = uint32(bound(seed >> 96, 1 minutes, 2 hours));
        p.drawWindow = uint32(bound(seed >> 128, 1 minutes, 4 hours));
        p.maxStages = uint8(bound(seed >> 160, 1, 4));
        p.unbondDelay = uint32(bound(seed >> 168, 0, 1 days));
        p.minBond = uint96(bound(seed2, 500, 1500));
        p.minModelStake = uint96(bound(seed2 >> 32, 1000, 4000));
        p.maxStakeBps = uint16(bound(seed2 >> 64, 1000, 5000));
        p.declineFeeBps = uint16(bound(seed2 >> 96, 0, 10_000));
        try pool.setParams(p) {
            ++oks[A_SET_PARAMS];
            if (p.minBond != _cur().minBond) minBondChanged = true;
            gParams.push(p);
        } catch (bytes memory r) {
            _bad(A_SET_PARAMS, r);
        }
    }

    function warp(uint256 secs) public {
        ++calls[A_WARP];
        ++oks[A_WARP];
        vm.warp(block.timestamp + bound(secs, 1, 30 minutes));
    }

    /// @notice The selectors the invariant runner calls (repeats weight them).
    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](32);
        s[0] = this.openJob.selector;
        s[1] = this.commit.selector;
        s[2] = this.cancel.selector;
        s[3] = this.finalize.selector;
        s[4] = this.challenge.selector;
        s[5] = this.drawVerifiers.selector;
        s[6] = this.commitResult.selector;
        s[7] = this.answerFingerprint.selector;
        s[8] = this.revealResult.selector;
        s[9] = this.declineAssignment.selector;
        s[10] = this.timeoutVerifier.selector;
        s[11] = this.timeoutDraw.selector;
        s[12] = this.bond.selector;
        s[13] = this.bondFromCredit.selector;
        s[14] = this.requestUnbond.selector;
        s[15] = this.withdrawUnbonded.selector;
        s[16] = this.sync.selector;
        s[17] = this.setModels.selector;
        s[18] = this.withdraw.selector;
        s[19] = this.warp.selector;
        s[20] = this.setParams.selector;
        for (uint256 i = 21; i < 32; ++i) s[i] = this.advance.selector;
    }

    /// @notice One step of the self-driven campaign: action `which` % 32 (0..20 the actions in the
    /// order of {selectors}, 21..31 advance: the same weights as the invariant runner's) with seeds.
    function step(uint256 which, uint256 a, uint256 b, uint256 c) external {
        which %= 32;
        if (which == 0) openJob(a, a >> 8, a >> 16, b, c);
        else if (which == 1) commit(a, b);
        else if (which == 2) cancel(a);
        else if (which == 3) finalize(a);
        else if (which == 4) challenge(a);
        else if (which == 5) drawVerifiers(a, b);
        else if (which == 6) commitResult(a, b, c);
        else if (which == 7) answerFingerprint(a, b, c);
        else if (which == 8) revealResult(a, b);
        else if (which == 9) declineAssignment(a);
        else if (which == 10) timeoutVerifier(a, b % 2 == 0);
        else if (which == 11) timeoutDraw(a);
        else if (which == 12) bond(a, b);
        else if (which == 13) bondFromCredit(a, b);
        else if (which == 14) requestUnbond(a, b);
        else if (which == 15) withdrawUnbonded(a, b);
        else if (which == 16) sync(a, b % 2 == 0);
        else if (which == 17) setModels(a, b);
        else if (which == 18) withdraw(a);
        else if (which == 19) warp(a);
        else if (which == 20) setParams(b, c);
        else advance(a, b, c);
    }
}
