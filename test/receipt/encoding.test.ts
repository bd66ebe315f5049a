import { expect } from "chai";
import {
  HEADER_FIXED_BYTES,
  ReceiptFormatError,
  decodeReceipt,
  decodeSample,
  encodeHeader,
  encodeReceipt,
  encodeSample,
  headerByteLength,
  parseReceipt,
  receiptByteLength,
  receiptRoot,
  roundToF16,
  checkSamplePlan,
  sampleByteLength,
} from "../../offchain/receipt/index.js";
import { mulberry32 } from "../sampling/prng.js";
import { makeReceipt, throwsWith } from "./helpers.js";

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

describe("receipt/encoding: canonical bytes", function () {
  this.timeout(60_000);
  it("round-trips a float32 receipt exactly and re-encodes byte-identically", () => {
    const r = makeReceipt();
    expect(r.samples.length).to.be.greaterThan(4);
    const bytes = encodeReceipt(r);
    const back = decodeReceipt(bytes);
    expect(back).to.deep.equal(r);
    expect(encodeReceipt(back)).to.deep.equal(bytes);
    expect(encodeReceipt(makeReceipt())).to.deep.equal(bytes); // same inputs → same bytes
  });

  it("stores float16 receipts rounded to nearest even, and is stable after the first encode", () => {
    const r = makeReceipt({ kvDtype: "float16" });
    const bytes = encodeReceipt(r);
    const back = decodeReceipt(bytes);
    back.samples.forEach((s, i) => {
      expect(Array.from(s.key)).to.deep.equal(Array.from(r.samples[i]!.key, roundToF16));
      expect(Array.from(s.value)).to.deep.equal(Array.from(r.samples[i]!.value, roundToF16));
    });
    expect(encodeReceipt(back)).to.deep.equal(bytes);
  });

  it("has the documented size and layout", () => {
    for (const kvDtype of ["float32", "float16"] as const) {
      const r = makeReceipt({ kvDtype, vectorLength: 64 });
      const bytes = encodeReceipt(r);
      const P = r.promptTokens.length;
      const O = r.outputTokens.length;
      const b = kvDtype === "float16" ? 2 : 4;
      expect(sampleByteLength(64, kvDtype)).to.equal(6 + 2 * 64 * b);
      expect(bytes.length).to.equal(132 + 4 * (P + O) + r.samples.length * (6 + 128 * b));
      expect(bytes.length).to.equal(receiptByteLength(r));
      const d = dv(bytes);
      expect(new TextDecoder().decode(bytes.subarray(0, 4))).to.equal("POCR");
      expect(d.getUint16(4, true)).to.equal(2);
      expect(d.getUint8(6)).to.equal(kvDtype === "float16" ? 1 : 0);
      expect(d.getUint8(7)).to.equal(0);
      expect(d.getBigUint64(40, true)).to.equal(987654321n);
      expect(d.getFloat64(48, true)).to.equal(0.7);
      expect(d.getFloat64(56, true)).to.equal(0.95);
      expect(d.getUint32(64, true)).to.equal(40);
      expect(d.getUint32(104, true)).to.equal(250_000);
      expect(d.getUint16(108, true)).to.equal(2);
      expect(d.getUint16(110, true)).to.equal(4);
      expect(d.getUint32(112, true)).to.equal(64);
      expect(d.getUint32(116, true)).to.equal(P);
      expect(d.getUint32(120, true)).to.equal(O);
      expect(d.getUint32(124, true)).to.equal(r.samples.length);
      expect(d.getUint16(128, true)).to.equal(r.sampler.projectionDim);
      expect(d.getUint16(130, true)).to.equal(r.sampler.minPositions);
      expect(HEADER_FIXED_BYTES).to.equal(132);
      expect(d.getUint32(HEADER_FIXED_BYTES, true)).to.equal(r.promptTokens[0]);
      const H = headerByteLength(P, O);
      expect(encodeHeader(r)).to.deep.equal(bytes.subarray(0, H));
      const s0 = r.samples[0]!;
      expect(d.getUint32(H, true)).to.equal(s0.position);
      expect(d.getUint16(H + 4, true)).to.equal(s0.layer);
      const enc = encodeSample(s0, 64, kvDtype);
      expect(enc).to.deep.equal(bytes.subarray(H, H + enc.length));
      expect(decodeSample(enc, 64, kvDtype).position).to.equal(s0.position);
    }
  });

  it("encodes the flags: stopAtEos (bit 0) and scope 'generated' (bit 1)", () => {
    const r = makeReceipt();
    const flagged = parseReceipt({ ...r, decoding: { ...r.decoding, stopAtEos: true }, sampler: { ...r.sampler, scope: "generated" }, samples: r.samples.filter((s) => s.position >= r.promptTokens.length) });
    const bytes = encodeReceipt(flagged);
    expect(bytes[7]).to.equal(3);
    expect(decodeReceipt(bytes)).to.deep.equal(flagged);
  });

  it("accepts receipts without samples or output tokens", () => {
    const r = makeReceipt();
    const empty = parseReceipt({ ...r, outputTokens: [], samples: [] });
    expect(decodeReceipt(encodeReceipt(empty))).to.deep.equal(empty);
  });
});

describe("receipt/encoding: validation on encode", function () {
  this.timeout(60_000);
  const r = makeReceipt();
  const s = r.samples;
  const bad: [string, unknown, RegExp][] = [
    ["unsorted samples", { ...r, samples: [s[1], s[0], ...s.slice(2)] }, /sorted/],
    ["duplicate samples", { ...r, samples: [s[0], s[0], ...s.slice(1)] }, /sorted by \(position, layer\) and unique/],
    ["short key", { ...r, samples: [{ ...s[0]!, key: new Float32Array(3) }, ...s.slice(1)] }, /vectorLength/],
    ["NaN value", { ...r, samples: [{ ...s[0]!, value: new Float32Array(16).fill(NaN) }, ...s.slice(1)] }, /finite/],
    ["float16 overflow", { ...r, kvDtype: "float16", samples: [{ ...s[0]!, value: new Float32Array(16).fill(1e6) }, ...s.slice(1)] }, /float16/],
    ["position past the sequence", { ...r, samples: [...s, { ...s[0]!, position: 32 }] }, /outside the sequence/],
    ["layer past the model", { ...r, samples: [...s.slice(0, -1), { ...s.at(-1)!, layer: 4 }] }, /outside the model/],
    ["bad model id", { ...r, modelId: "0x12" }, /modelId/],
    ["unknown field", { ...r, extra: 1 }, /extra/],
    ["version 1", { ...r, version: 1 }, /version/],
    ["version 3", { ...r, version: 3 }, /version/],
    ["empty prompt", { ...r, promptTokens: [] }, /prompt/],
    ["too many outputs", { ...r, decoding: { ...r.decoding, maxTokens: 3 } }, /maxTokens/],
    ["token not uint32", { ...r, outputTokens: [...r.outputTokens.slice(1), 2 ** 32] }, /outputTokens/],
    ["keys not Float32Array", { ...r, samples: [{ ...s[0]!, key: Array.from(s[0]!.key) }, ...s.slice(1)] }, /key/],
  ];
  for (const [name, input, re] of bad) {
    it(`rejects ${name}`, () => {
      let err: unknown;
      try {
        encodeReceipt(input);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ReceiptFormatError);
      expect((err as ReceiptFormatError).message).to.match(/invalid receipt/);
      expect((err as ReceiptFormatError).details).to.match(re);
    });
  }
});

describe("receipt/encoding: decode rejects malformed bytes", function () {
  this.timeout(60_000);
  const r = makeReceipt({ outputLen: 6, ratePpm: 500_000, vectorLength: 4 });
  const good = encodeReceipt(r);
  const H = headerByteLength(r.promptTokens.length, r.outputTokens.length);
  const B = sampleByteLength(4, "float32");
  const edit = (f: (b: Uint8Array, d: DataView) => void): Uint8Array => {
    const b = good.slice();
    f(b, dv(b));
    return b;
  };

  it("every truncation fails with a clear error", () => {
    for (let n = 0; n < good.length; n++) {
      throwsWith(() => decodeReceipt(good.subarray(0, n)), ReceiptFormatError, /truncated|magic/);
    }
  });

  it("rejects trailing bytes, bad magic, unknown version, dtype and flags", () => {
    throwsWith(() => decodeReceipt(new Uint8Array([...good, 0])), ReceiptFormatError, /1 trailing bytes/);
    throwsWith(() => decodeReceipt(edit((b) => (b[0] = 0x51))), ReceiptFormatError, /bad magic/);
    throwsWith(() => decodeReceipt(edit((_, d) => d.setUint16(4, 1, true))), ReceiptFormatError, /unsupported receipt version 1/);
    throwsWith(() => decodeReceipt(edit((b) => (b[6] = 2))), ReceiptFormatError, /kv dtype/);
    throwsWith(() => decodeReceipt(edit((b) => (b[7] = 0x10))), ReceiptFormatError, /flag bits/);
  });

  it("carries the declared replay graph optimisation level in flag bits 2–3 (absent = all), inside the committed header", () => {
    const base = decodeReceipt(good);
    expect(base.graphOptimizationLevel).to.equal(undefined);
    const roots = new Set([receiptRoot(good)]);
    for (const level of ["extended", "basic", "disabled"] as const) {
      const bytes = encodeReceipt({ ...base, graphOptimizationLevel: level });
      expect(bytes.length).to.equal(good.length);
      expect(decodeReceipt(bytes).graphOptimizationLevel).to.equal(level);
      expect(bytesEqual(encodeReceipt(decodeReceipt(bytes)), bytes)).to.equal(true);
      roots.add(receiptRoot(bytes));
    }
    expect(roots.size, "the level changes the header leaf, so the root commits to it").to.equal(4);
    // "all" is the default and is never stored: the same bytes as no level at all
    expect(bytesEqual(encodeReceipt(parseReceipt({ ...base, graphOptimizationLevel: "all" })), good)).to.equal(true);
  });

  it("rejects out-of-range header values", () => {
    const cases: [(b: Uint8Array, d: DataView) => void, RegExp][] = [
      [(_, d) => d.setFloat64(48, -0, true), /−0/],
      [(_, d) => d.setFloat64(48, NaN, true), /temperature/],
      [(_, d) => d.setFloat64(48, -1, true), /temperature/],
      [(_, d) => d.setFloat64(56, 0, true), /topP/],
      [(_, d) => d.setFloat64(56, 1.01, true), /topP/],
      [(_, d) => d.setUint32(68, 2, true), /maxTokens/],
      [(_, d) => d.setUint32(68, 0, true), /maxTokens/],
      [(_, d) => d.setUint32(104, 0, true), /ratePpm/],
      [(_, d) => d.setUint32(104, 1_000_001, true), /ratePpm/],
      [(_, d) => d.setUint16(108, 5, true), /layersPerToken/],
      [(_, d) => d.setUint16(110, 0, true), /numLayers/],
      [(_, d) => d.setUint32(112, 0, true), /vectorLength/],
    ];
    for (const [f, re] of cases) {
      let err: unknown;
      try {
        decodeReceipt(edit(f));
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).to.be.instanceOf(ReceiptFormatError);
      expect(`${(err as Error).message}`, String(re)).to.match(re);
    }
  });

  it("rejects unsorted, duplicate and out-of-range samples", () => {
    expect(r.samples.length).to.be.greaterThan(2);
    const swap = edit((b) => {
      const a = good.slice(H, H + B);
      b.set(good.subarray(H + B, H + 2 * B), H);
      b.set(a, H + B);
    });
    throwsWith(() => decodeReceipt(swap), ReceiptFormatError, /sorted/);
    const dup = edit((b) => b.set(good.subarray(H, H + B), H + B));
    throwsWith(() => decodeReceipt(dup), ReceiptFormatError, /unique/);
    const n = r.promptTokens.length + r.outputTokens.length;
    throwsWith(() => decodeReceipt(edit((_, d) => d.setUint32(H + (r.samples.length - 1) * B, n, true))), ReceiptFormatError, /outside the sequence/);
    throwsWith(() => decodeReceipt(edit((_, d) => d.setUint16(H + (r.samples.length - 1) * B + 4, 4, true))), ReceiptFormatError, /outside the model/);
    throwsWith(() => decodeReceipt(edit((_, d) => d.setFloat32(H + 6, NaN, true))), ReceiptFormatError, /not a finite float32/);
    throwsWith(() => decodeReceipt(edit((_, d) => d.setFloat32(H + 6, -Infinity, true))), ReceiptFormatError, /not a finite/);
    const f16 = encodeReceipt(makeReceipt({ kvDtype: "float16", vectorLength: 4 }));
    const H16 = headerByteLength(12, 20);
    const nan16 = f16.slice();
    dv(nan16).setUint16(H16 + 6, 0x7c00, true);
    throwsWith(() => decodeReceipt(nan16), ReceiptFormatError, /float16/);
  });

  it("random corruption never yields anything but a ReceiptFormatError or a valid receipt", () => {
    const rand = mulberry32(11);
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const b = good.slice();
      const k = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < k; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        const back = decodeReceipt(b);
        expect(encodeReceipt(back)).to.deep.equal(b); // whatever decodes is canonical
      } catch (e) {
        expect(e, String(e)).to.be.instanceOf(ReceiptFormatError);
        rejected++;
      }
    }
    expect(rejected).to.be.greaterThan(50);
    for (let i = 0; i < 50; i++) {
      const junk = Uint8Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256));
      throwsWith(() => decodeReceipt(junk), ReceiptFormatError, /./);
    }
  });
});

describe("receipt/plan: samples versus the sampler's plan", () => {
  it("accepts a receipt that follows samplePlan and names the first difference otherwise", () => {
    const r = makeReceipt();
    const ok = checkSamplePlan(r);
    expect(ok.ok).to.equal(true);
    expect(ok.plan.length).to.equal(r.samples.length);
    const missing = checkSamplePlan({ ...r, samples: r.samples.slice(1) });
    expect(missing.ok).to.equal(false);
    if (!missing.ok) expect(missing.index).to.equal(0);
    const short = checkSamplePlan({ ...r, samples: r.samples.slice(0, -1) });
    expect(!short.ok && short.reason).to.match(/missing/);
    const extra = checkSamplePlan({ ...r, samples: [...r.samples, { ...r.samples[0]!, position: 31 }] });
    expect(!extra.ok && extra.reason).to.match(/extra sample/);
    const other = checkSamplePlan({ ...r, outputTokens: r.outputTokens.map((t) => t + 1) });
    expect(other.ok).to.equal(false);
  });
});
