/**
 * Adaptive attacks on the sampled-token check (issue 9, findings 1 and 2), and the honest runs it must
 * keep accepting. Shared by test/verify/tokens-attacks.test.ts and the bench section "token-detection".
 *
 * The attacker has read offchain/sampling: at every position it decodes with the real model (KV cache,
 * as a generator does), computes on its own logits the set of tokens the check accepts
 * (`acceptedTokens`, the verifier's tolerance for the model's precision) and picks among them, or
 * insists on the token its goal needs. Its KV samples are true ones (one prefill of the real model over
 * its final tokens), so only the token checks can catch it. An attack **run** is one receipt built for
 * the attacker's goal; a **failure** is such a receipt that the verifier (2 threads) accepts.
 *
 * - `low-temperature-any-text`  T ∈ {0.001, 0.01}, no top-k/top-p: the receipt carries the attacker's own
 *   text at every position.
 * - `low-temperature-eos`       T ∈ {0.001, 0.01}, stopAtEos: the receipt answers `<eos>` at once.
 * - `steer-at-temperature`      T ∈ {0.01, 0.1, 0.3, 1} × {plain, top-k 40, top-p 0.9}: the receipt
 *   carries the attacker's text; besides, an adaptive attacker that steers wherever the check lets it
 *   (its text token when accepted, else any accepted token other than the honest draw) counts the
 *   positions it steered (`steering`), next to the proven bound Σ_p (E|A_p| − 1) (sampling/decode.ts).
 * - `early-eos`                 stopAtEos, T ∈ {0.1, 0.3, 1}: the attacker stops at the first position
 *   where `<eos>` is accepted and the honest draw is not `<eos>`; if there is none it stops where
 *   `<eos>` comes closest (smallest deficit).
 * - `masked-logit-delta`        the model's logits with one id masked to −1e4, or a padded vocabulary
 *   (the last 9 ids at −1e4), greedy and T = 0.001: the attacker's text (before the fix, δ scaled with
 *   the masked logit: 252 of 259 tokens passed per position).
 *
 * Honest runs (generate() at 1 thread; verify at 2 threads = `threads-1-2`, and with graph optimisation
 * disabled = `opt-all-vs-disabled`): greedy and T ∈ {0.01, 0.1, 0.7, 1.5} × {plain, top-k 40, top-p 0.9}.
 * A failure is a rejected honest receipt (a false alarm).
 *
 * **Separation** (the token-check counterpart of "smallest attack error over largest honest error"):
 * a check's statistic is z = deficit / 2δ (sampling/decode.ts: a token passes iff possibly kept and
 * z ≤ 1; z = ∞ when it cannot be kept). For an attack receipt, z_max = max over its token checks (the
 * strongest evidence against it; > 1 means caught) and minSeparation = min over runs of z_max. For an
 * honest receipt, minSeparation = min over runs of 1 / z_max (headroom below the threshold; ∞ when every
 * token is the verifier's own strict draw, z ≤ 0). Computed with the verifier's replayed logits.
 */
import { loadModel, type LoadedModel, type ForwardInput, type ForwardOutput } from "../model/index.js";
import { generate } from "../generate/index.js";
import {
  type DecodingConfig,
  type DecodingConfigInput,
  type SamplerConfig,
  type TokenTolerance,
  acceptanceBound,
  acceptedTokens,
  analyseToken,
  checkToken,
  drawToken,
  parseDecodingConfig,
  parseSamplerConfig,
  samplePlan,
} from "../sampling/index.js";
import { type Receipt, RECEIPT_VERSION, parseReceipt } from "../receipt/index.js";
import { verifyReceipt } from "./verify.js";
import { resolveTolerances } from "./metric.js";
import { samplesFromPrefill } from "./attacks.js";
import { VerifyOptionsError } from "./errors.js";

export interface RunStats {
  runs: number;
  failures: number;
  minSeparation: number;
}

export interface SteeringStats {
  /** Positions decoded by the adaptive attacker. */
  positions: number;
  /** Positions where it emitted an accepted token other than the honest draw. */
  steered: number;
  /** … of which its own text token. */
  targetSteered: number;
  /** Σ over positions of (acceptanceBound − 1): the proven bound on the expected number of steerable positions. */
  bound: number;
}

export interface VariantRecord extends RunStats {
  kind: "attack" | "honest";
  name: string;
  model: string;
  steering?: SteeringStats;
}

export interface TokenAttackReport {
  attacks: Record<string, RunStats>;
  honest: Record<string, RunStats>;
  /** Per variant (`name/model/config`). */
  variants: Record<string, VariantRecord>;
  attackRuns: number;
  missed: number;
  honestRuns: number;
  falseAlarms: number;
}

export interface TokenAttackOptions {
  /** Model directories (built by this project), by a short name used in the variant keys. */
  models: { name: string; dir: string }[];
  /** Output tokens per receipt (default 256). */
  tokens?: number;
  /** Prompt tokens (default 16). */
  promptLen?: number;
  /** Receipts per attack variant, each with another decoding seed (default 2; low-temperature-eos uses 4×). */
  runs?: number;
  /** Attack / honest names to run (default all). */
  only?: string[];
  log?: (line: string) => void;
}

export const TOKEN_ATTACKS = ["low-temperature-any-text", "low-temperature-eos", "steer-at-temperature", "early-eos", "masked-logit-delta"] as const;
export const TOKEN_HONEST = ["threads-1-2", "opt-all-vs-disabled"] as const;

const SAMPLER_SEED = "0x" + "6b".repeat(32);
const ATTACK_TEXT = "Pay the attacker, not the model. ";
const MASK = -1e4;

/** A model whose logits have `ids` set to −1e4 (a masked or padded vocabulary); shares the session. */
export function maskedModel(model: LoadedModel, ids: readonly number[]): LoadedModel {
  const V = model.config.vocabSize;
  const forward = async (input: ForwardInput): Promise<ForwardOutput> => {
    const out = await model.forward(input);
    if (out.logits) for (let r = 0; r < out.logits.length / V; r++) for (const i of ids) out.logits[r * V + i] = MASK;
    return out;
  };
  return Object.assign(Object.create(model) as LoadedModel, { forward });
}

const prompt = (n: number) => Array.from({ length: n }, (_, i) => 32 + ((i * 53 + 7) % 95));
const text = (n: number) => Array.from({ length: n }, (_, i) => ATTACK_TEXT.charCodeAt(i % ATTACK_TEXT.length));

interface Choice {
  token: number;
  stop?: boolean;
}
type Chooser = (j: number, logits: Float32Array, cfg: DecodingConfig, position: number) => Choice;

/** Decode with the KV cache, the chooser picking each output token from the logits. */
async function decodeWith(model: LoadedModel, promptTokens: number[], cfg: DecodingConfig, choose: Chooser): Promise<number[]> {
  const V = model.config.vocabSize;
  const P = promptTokens.length;
  let out = await model.forward({ tokens: promptTokens, past: null });
  let logits = out.logits!.subarray((P - 1) * V, P * V);
  const output: number[] = [];
  for (let j = 0; j < cfg.maxTokens; j++) {
    const c = choose(j, logits, cfg, P + j);
    output.push(c.token);
    if (c.stop || j === cfg.maxTokens - 1) break;
    out = await model.forward({ tokens: [c.token], past: out.present });
    logits = out.logits!;
  }
  return output;
}

/** max over the receipt's token checks of deficit / 2δ, on `verifier`'s replay. */
async function maxZ(verifier: LoadedModel, r: Receipt, tol: Partial<TokenTolerance>): Promise<number> {
  const V = verifier.config.vocabSize;
  const P = r.promptTokens.length;
  const tokens = [...r.promptTokens, ...r.outputTokens];
  const out = await verifier.forward({ tokens: tokens.slice(0, tokens.length - 1), past: null });
  let z = -Infinity;
  for (let j = 0; j < r.outputTokens.length; j++) {
    const row = out.logits!.subarray((P + j - 1) * V, (P + j) * V);
    const c = checkToken(row, r.decoding, P + j, r.outputTokens[j]!, tol);
    z = Math.max(z, c.deficit / (2 * c.delta));
  }
  return z;
}

/** Run the suite (module comment). */
export async function runTokenAttackSuite(options: TokenAttackOptions): Promise<TokenAttackReport> {
  const N = options.tokens ?? 256;
  const P = options.promptLen ?? 16;
  const R = options.runs ?? 2;
  if (!(Number.isInteger(N) && N >= 2 && Number.isInteger(P) && P >= 1 && Number.isInteger(R) && R >= 1)) {
    throw new VerifyOptionsError(`token attack suite: tokens ≥ 2, promptLen ≥ 1 and runs ≥ 1 must be integers (got ${N}, ${P}, ${R})`);
  }
  const log = options.log ?? (() => undefined);
  const want = (name: string) => !options.only || options.only.includes(name);
  const variants: Record<string, VariantRecord> = {};
  const promptTokens = prompt(P);
  const attackText = text(N);

  const record = (kind: "attack" | "honest", name: string, model: string, config: string, ok: boolean, sep: number, steering?: SteeringStats) => {
    const key = `${name}/${model}/${config}`;
    const v = (variants[key] ??= { kind, name, model, runs: 0, failures: 0, minSeparation: Infinity });
    v.runs++;
    if (!ok) v.failures++;
    v.minSeparation = Math.min(v.minSeparation, sep);
    if (steering) {
      const s = (v.steering ??= { positions: 0, steered: 0, targetSteered: 0, bound: 0 });
      s.positions += steering.positions;
      s.steered += steering.steered;
      s.targetSteered += steering.targetSteered;
      s.bound += steering.bound;
    }
    log(`${kind} ${key}: ${ok ? "ok" : kind === "attack" ? "ACCEPTED" : "FALSE ALARM"} (separation ${sep.toPrecision(3)})${steering ? ` steered ${steering.steered}/${steering.positions} (target ${steering.targetSteered}, bound ${steering.bound.toFixed(2)})` : ""}`);
  };

  for (const m of options.models) {
    const open: LoadedModel[] = [];
    const load = async (o: Parameters<typeof loadModel>[1]) => {
      const x = await loadModel(m.dir, o);
      open.push(x);
      return x;
    };
    try {
      const gen1 = await load({ threads: 1 });
      const ver2 = await load({ threads: 2 });
      const verNoOpt = await load({ threads: 2, graphOptimizationLevel: "disabled" });
      const dtype = gen1.config.dtype;
      const tol = resolveTolerances(dtype).token;
      const eos = gen1.config.eosIds[0];
      const sampler: SamplerConfig = parseSamplerConfig({ seed: SAMPLER_SEED, ratePpm: 125_000, layersPerToken: Math.min(2, gen1.config.layers), numLayers: gen1.config.layers });
      const cfgOf = (over: Partial<DecodingConfigInput>, seed: number): DecodingConfig =>
        parseDecodingConfig({ seed, temperature: 0, topK: 0, topP: 1, maxTokens: N, stopAtEos: false, ...over });

      /** A receipt for the attacker's tokens with true KV samples (a prefill of `truth`). */
      const receiptOf = async (truth: LoadedModel, decoding: DecodingConfig, output: number[]): Promise<Receipt> => {
        const tokens = [...promptTokens, ...output];
        const samples = await samplesFromPrefill(truth, tokens, samplePlan(sampler, tokens, P), "float32", sampler);
        return parseReceipt({
          version: RECEIPT_VERSION,
          modelId: gen1.modelId,
          promptTokens,
          outputTokens: output,
          decoding,
          sampler,
          kvDtype: "float32",
          vectorLength: gen1.config.kvHeads * gen1.config.headDim,
          samples,
        });
      };
      /** Verify an attack receipt; ok = detected. */
      const attack = async (name: string, config: string, verifier: LoadedModel, r: Receipt, steering?: SteeringStats) => {
        const v = await verifyReceipt(verifier, r);
        const z = await maxZ(verifier, r, tol);
        const caught = !v.agrees && v.firstMismatch?.kind === "token";
        if (!v.agrees && !caught) log(`attack ${name}/${m.name}/${config}: rejected by ${v.malformed ? `structure (${v.malformed.message})` : v.firstMismatch?.kind}, not by a token check`);
        record("attack", name, m.name, config, !v.agrees, z, steering);
      };
      /** The attacker's text, forced at every position; counts the positions where the check would let it. */
      const forcedText = (steer: SteeringStats): Chooser => (j, logits, cfg, pos) => {
        const a = analyseToken(logits, cfg, pos, tol);
        const acc = acceptedTokens(logits, cfg, pos, tol, a);
        steer.positions++;
        steer.bound += acceptanceBound(logits, a) - 1;
        if (attackText[j] !== a.drawn && acc.includes(attackText[j]!)) steer.targetSteered++;
        return { token: attackText[j]! };
      };
      /** Steers wherever it can: its text token when accepted, else any accepted token but the honest draw. */
      const adaptive = (steer: SteeringStats): Chooser => (j, logits, cfg, pos) => {
        const a = analyseToken(logits, cfg, pos, tol);
        const acc = acceptedTokens(logits, cfg, pos, tol, a);
        steer.positions++;
        steer.bound += acceptanceBound(logits, a) - 1;
        const honest = drawToken(logits, cfg, pos);
        if (attackText[j] !== honest && acc.includes(attackText[j]!)) {
          steer.steered++;
          steer.targetSteered++;
          return { token: attackText[j]! };
        }
        const other = acc.find((t) => t !== honest);
        if (other !== undefined) {
          steer.steered++;
          return { token: other };
        }
        return { token: honest };
      };
      const zero = (): SteeringStats => ({ positions: 0, steered: 0, targetSteered: 0, bound: 0 });

      // ---- attacks
      if (want("low-temperature-any-text")) {
        for (const T of [0.001, 0.01])
          for (let s = 1; s <= R; s++) {
            const cfg = cfgOf({ temperature: T }, s);
            const steer = zero();
            const out = await decodeWith(gen1, promptTokens, cfg, forcedText(steer));
            await attack("low-temperature-any-text", `T=${T}`, ver2, await receiptOf(gen1, cfg, out), steer);
          }
      }
      if (want("low-temperature-eos") && eos !== undefined) {
        for (const T of [0.001, 0.01])
          for (let s = 1; s <= 4 * R; s++) {
            const cfg = cfgOf({ temperature: T, stopAtEos: true }, s);
            await attack("low-temperature-eos", `T=${T}`, ver2, await receiptOf(gen1, cfg, [eos]));
          }
      }
      if (want("steer-at-temperature")) {
        for (const T of [0.01, 0.1, 0.3, 1])
          for (const [kp, over] of [["plain", {}], ["top-k 40", { topK: 40 }], ["top-p 0.9", { topP: 0.9 }]] as const)
            for (let s = 1; s <= R; s++) {
              const cfg = cfgOf({ temperature: T, ...over }, 100 + s);
              const steer = zero();
              await decodeWith(gen1, promptTokens, cfg, adaptive(steer));
              const out = await decodeWith(gen1, promptTokens, cfg, forcedText(zero()));
              await attack("steer-at-temperature", `T=${T} ${kp}`, ver2, await receiptOf(gen1, cfg, out), steer);
            }
      }
      if (want("early-eos") && eos !== undefined) {
        for (const T of [0.1, 0.3, 1])
          for (let s = 1; s <= R; s++) {
            const cfg = cfgOf({ temperature: T, stopAtEos: true }, 200 + s);
            let bestJ = -1;
            let bestZ = Infinity;
            let found = false;
            const honest = await decodeWith(gen1, promptTokens, cfg, (j, logits, c, pos) => {
              const h = drawToken(logits, c, pos);
              if (h === eos || j === c.maxTokens - 1) return { token: h, stop: h === eos };
              const k = checkToken(logits, c, pos, eos, tol);
              if (k.ok) {
                found = true;
                return { token: eos, stop: true };
              }
              const z = k.deficit / (2 * k.delta);
              if (z < bestZ) (bestZ = z), (bestJ = j);
              return { token: h };
            });
            const out = found ? honest : [...honest.slice(0, Math.max(0, bestJ)), eos];
            if (!found && bestJ < 0) continue; // the honest answer stopped at once: nothing to shorten
            await attack("early-eos", `T=${T}`, ver2, await receiptOf(gen1, cfg, out));
          }
      }
      if (want("masked-logit-delta")) {
        const V = gen1.config.vocabSize;
        for (const [mk, ids] of [["one-masked", [0]], ["padded-9", Array.from({ length: 9 }, (_, i) => V - 9 + i)]] as const) {
          const g = maskedModel(gen1, ids);
          const v = maskedModel(ver2, ids);
          for (const T of [0, 0.001])
            for (let s = 1; s <= R; s++) {
              const cfg = cfgOf({ temperature: T }, 300 + s);
              const steer = zero();
              const out = await decodeWith(g, promptTokens, cfg, forcedText(steer));
              await attack("masked-logit-delta", `${mk} T=${T}`, v, await receiptOf(g, cfg, out), steer);
            }
        }
      }

      // ---- honest
      if (want("threads-1-2") || want("opt-all-vs-disabled")) {
        const configs: [string, Partial<DecodingConfigInput>][] = [["greedy", {}]];
        for (const T of [0.01, 0.1, 0.7, 1.5])
          for (const [kp, over] of [["plain", {}], ["top-k 40", { topK: 40 }], ["top-p 0.9", { topP: 0.9 }]] as const) configs.push([`T=${T} ${kp}`, { temperature: T, ...over }]);
        let seed = 400;
        for (const [name, over] of configs) {
          const cfg = cfgOf(over, seed++);
          const g = await generate(gen1, { promptTokens, decoding: cfg, sampler });
          for (const [hn, verifier] of [["threads-1-2", ver2], ["opt-all-vs-disabled", verNoOpt]] as const) {
            if (!want(hn)) continue;
            const v = await verifyReceipt(verifier, g.receipt);
            const z = await maxZ(verifier, g.receipt, tol);
            if (!v.agrees) log(`honest ${hn}/${m.name}/${name}: ${v.firstMismatch?.detail}`);
            record("honest", hn, m.name, name, v.agrees, z > 0 ? 1 / z : Infinity);
          }
        }
      }
    } finally {
      for (const x of open) await x.release();
    }
  }

  const attacks: Record<string, RunStats> = {};
  const honest: Record<string, RunStats> = {};
  for (const v of Object.values(variants)) {
    const into = v.kind === "attack" ? attacks : honest;
    const a = (into[v.name] ??= { runs: 0, failures: 0, minSeparation: Infinity });
    a.runs += v.runs;
    a.failures += v.failures;
    a.minSeparation = Math.min(a.minSeparation, v.minSeparation);
  }
  const sum = (r: Record<string, RunStats>, k: "runs" | "failures") => Object.values(r).reduce((x, y) => x + y[k], 0);
  return {
    attacks,
    honest,
    variants,
    attackRuns: sum(attacks, "runs"),
    missed: sum(attacks, "failures"),
    honestRuns: sum(honest, "runs"),
    falseAlarms: sum(honest, "failures"),
  };
}
