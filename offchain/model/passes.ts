/**
 * Which tokens share a forward pass (issue 11, int8 exports). For most graphs a prefill over many
 * positions gives the numbers decode gave one token at a time, up to float noise, so the verifier
 * replays in large chunks. A graph that quantises its activations dynamically
 * (`DynamicQuantizeLinear`, what `onnxruntime.quantization.quantize_dynamic` writes into the
 * int8/quantized files of transformers.js and Optimum repositories) computes one scale per pass
 * over all of the pass's tokens: the same token gets other numbers in another batch (a static
 * QuantizeLinear is listed too: PASS_DEPENDENT_OPS). Measured on
 * the tiny preset: a prefill replay of an honest int8 receipt is off by 8e-3–1.1e-2 (relative L2)
 * at layer 0, ten times the fp32 threshold. Such a model is "stepwise": generator and verifier run
 * the same passes — the prompt in chunks of STEPWISE_PROMPT_CHUNK, then one token per pass — and
 * the replay is as exact as a fp32 one, at about the cost of generation.
 */
import { open } from "node:fs/promises";
import { ModelFileError } from "./errors.js";

/** The prompt chunk of a stepwise model's passes (generate.ts's default prefill chunk). */
export const STEPWISE_PROMPT_CHUNK = 256;

/**
 * Ops on activations that make a pass's numbers depend on the pass: DynamicQuantizeLinear (and its
 * fused form) takes one scale over all of a pass's tokens; QuantizeLinear rounds activations to a
 * static grid, so the float noise between a decode pass and a prefill (≈1e-7) flips a rounding now
 * and then — measured on a static-QDQ tiny model: an honest receipt replayed at optimisation
 * "disabled" had a top-sample error of 1.84e-2. In the same passes both are bit-identical.
 */
export const PASS_DEPENDENT_OPS: readonly string[] = ["DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QuantizeLinear"];

/**
 * The passes over `length` positions: [start, end) pairs. Stepwise: positions below
 * `promptLength` in chunks of STEPWISE_PROMPT_CHUNK from 0, then one position per pass; else chunks
 * of `chunk`.
 */
export function passPlan(stepwise: boolean, length: number, promptLength: number, chunk: number): [number, number][] {
  const plan: [number, number][] = [];
  if (!stepwise) {
    for (let s = 0; s < length; s += chunk) plan.push([s, Math.min(length, s + chunk)]);
    return plan;
  }
  const P = Math.min(promptLength, length);
  for (let s = 0; s < P; s += STEPWISE_PROMPT_CHUNK) plan.push([s, Math.min(P, s + STEPWISE_PROMPT_CHUNK)]);
  for (let p = P; p < length; p++) plan.push([p, p + 1]);
  return plan;
}

/**
 * The pass-dependent ops a graph file holds, found by their NodeProto `op_type` field (tag 0x22,
 * length, name) in the file's bytes without decoding it (the file may hold gigabytes of weights).
 * The file's bytes are the model id's, so every party of a job finds the same.
 */
export async function passDependentOps(path: string): Promise<string[]> {
  const needles = PASS_DEPENDENT_OPS.map((op) => ({ op, bytes: Buffer.concat([Buffer.from([0x22, op.length]), Buffer.from(op, "latin1")]) }));
  const overlap = Math.max(...needles.map((n) => n.bytes.length)) - 1;
  const found = new Set<string>();
  let fh;
  try {
    fh = await open(path, "r");
  } catch (cause) {
    throw new ModelFileError(path, "Cannot read ONNX model", { cause });
  }
  try {
    const size = 8 << 20;
    const buf = Buffer.alloc(size + overlap);
    let carry = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, carry, size, null);
      if (bytesRead === 0) break;
      const view = buf.subarray(0, carry + bytesRead);
      for (const n of needles) if (!found.has(n.op) && view.indexOf(n.bytes) >= 0) found.add(n.op);
      if (found.size === needles.length) break;
      carry = Math.min(overlap, view.length);
      view.copy(buf, 0, view.length - carry);
    }
  } finally {
    await fh.close();
  }
  return [...found];
}
