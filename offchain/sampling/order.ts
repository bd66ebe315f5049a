/**
 * The canonical order of the decoding draw (decode.ts): logit descending, then id ascending.
 *
 * For Float32Array logits it is a stable LSD radix sort (three passes of 11/11/10 bits, O(V)) of the
 * 32-bit order-preserving key of each logit (−0 ties with +0), over the ids in ascending order; a
 * stable sort of ascending ids by key is exactly the canonical order (equal logits keep id order).
 * Other array types use a comparator sort. Both give the same permutation (test/sampling/decode.test.ts).
 */
/** Logits for one position: fp32 values, one per vocabulary entry (a view into a larger tensor is fine). */
export type Logits = ArrayLike<number>;

/** Canonical comparison: logit descending, then id ascending. */
export function canonicalCompare(logits: Logits, a: number, b: number): number {
  const la = logits[a]!;
  const lb = logits[b]!;
  return la > lb ? -1 : la < lb ? 1 : a - b;
}

const R0 = 2048; // digit 0: bits 0–10
const R1 = 2048; // digit 1: bits 11–21
const R2 = 1024; // digit 2: bits 22–31
/** Scratch buffers, reused across calls (everything here is synchronous; nothing escapes). */
let keyA = new Uint32Array(0);
let keyB = new Uint32Array(0);
let idA = new Uint32Array(0);
let idB = new Uint32Array(0);
const h0 = new Uint32Array(R0);
const h1 = new Uint32Array(R1);
const h2 = new Uint32Array(R2);

function ensureScratch(n: number): void {
  if (keyA.length >= n) return;
  const m = Math.max(n, 2 * keyA.length);
  keyA = new Uint32Array(m);
  keyB = new Uint32Array(m);
  idA = new Uint32Array(m);
  idB = new Uint32Array(m);
}

function isAscending(ids: ArrayLike<number>): boolean {
  for (let j = 1; j < ids.length; j++) if (!(ids[j - 1]! < ids[j]!)) return false;
  return true;
}

/** Descending key: ascending key order = logit descending (−0 as +0); the same map as before (bits of f32). */
function radixOrder(logits: Float32Array, ids?: ArrayLike<number>): Uint32Array {
  const n = ids ? ids.length : logits.length;
  ensureScratch(n);
  const bits = new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
  const kA = keyA;
  const kB = keyB;
  const iA = idA;
  const iB = idB;
  h0.fill(0);
  h1.fill(0);
  h2.fill(0);
  for (let j = 0; j < n; j++) {
    let b = bits[ids ? ids[j]! : j]!;
    if (b === 0x8000_0000) b = 0; // −0 ties with +0
    const d = b & 0x8000_0000 ? b : (0x7fff_ffff - b) >>> 0; // = 0xffffffff − (order-preserving bits)
    kA[j] = d;
    h0[d & 0x7ff]!++;
    h1[(d >>> 11) & 0x7ff]!++;
    h2[d >>> 22]!++;
  }
  let s0 = 0;
  for (let r = 0; r < R0; r++) {
    const c = h0[r]!;
    h0[r] = s0;
    s0 += c;
  }
  let s1 = 0;
  for (let r = 0; r < R1; r++) {
    const c = h1[r]!;
    h1[r] = s1;
    s1 += c;
  }
  let s2 = 0;
  for (let r = 0; r < R2; r++) {
    const c = h2[r]!;
    h2[r] = s2;
    s2 += c;
  }
  // pass 0: (kA, ids in ascending order) → (kB, iB)
  for (let j = 0; j < n; j++) {
    const d = kA[j]!;
    const p = h0[d & 0x7ff]!++;
    kB[p] = d;
    iB[p] = ids ? ids[j]! : j;
  }
  // pass 1: (kB, iB) → (kA, iA)
  for (let j = 0; j < n; j++) {
    const d = kB[j]!;
    const p = h1[(d >>> 11) & 0x7ff]!++;
    kA[p] = d;
    iA[p] = iB[j]!;
  }
  // pass 2: (kA, iA) → out
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[h2[kA[j]! >>> 22]!++] = iA[j]!;
  return out;
}

/**
 * Token ids in canonical order (logit descending, id ascending); `ids` restricts it to a subset.
 * Float32Array logits: radix sort (module comment); otherwise, or for a subset not in ascending id
 * order, a comparator sort.
 */
export function canonicalOrder(logits: Logits, ids?: ArrayLike<number>): Uint32Array {
  const n = ids ? ids.length : logits.length;
  if (logits instanceof Float32Array && (!ids || isAscending(ids))) return radixOrder(logits, ids);
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[j] = ids ? ids[j]! : j;
  return out.sort((a, b) => canonicalCompare(logits, a, b));
}

/** The first k token ids of the canonical order (O(V log k) with a bounded heap). */
export function topKCanonical(logits: Logits, k: number): Uint32Array {
  const V = logits.length;
  if (k >= V) return canonicalOrder(logits);
  // Max-heap by canonical position: the root is the "worst" kept token (last in canonical order).
  const heap = new Uint32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => canonicalCompare(logits, a, b) > 0;
  const siftUp = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heap[l]!, heap[m]!)) m = l;
      if (r < size && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  let rootLogit = 0;
  for (let i = 0; i < V; i++) {
    if (size < k) {
      heap[size++] = i;
      siftUp(size - 1);
      if (size === k) rootLogit = logits[heap[0]!]!;
    } else {
      // worse(root, i) ⟺ l_root < l_i, or equal logits and root > i — never, as every id in the heap is < i
      const l = logits[i]!;
      if (l > rootLogit) {
        heap[0] = i;
        siftDown(0);
        rootLogit = logits[heap[0]!]!;
      }
    }
  }
  return heap.sort((a, b) => canonicalCompare(logits, a, b));
}
