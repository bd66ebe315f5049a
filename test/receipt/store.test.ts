import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ReceiptFetchError,
  ReceiptFormatError,
  ReceiptMismatchError,
  ReceiptNotFoundError,
  ReceiptStore,
  ReceiptStoreError,
  type ReceiptServer,
  encodeReceipt,
  fetchReceipt,
  receiptRoot,
  serveReceipts,
} from "../../offchain/receipt/index.js";
import { makeReceipt } from "./helpers.js";

async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(cls);
    expect((e as Error).message).to.match(re);
    return e as Error;
  }
  throw new Error(`expected ${cls.name}`);
}

describe("receipt/store: directory store, HTTP serve and fetch", function () {
  this.timeout(20_000);
  const a = encodeReceipt(makeReceipt({ seed: 1 }));
  const b = encodeReceipt(makeReceipt({ seed: 2 }));
  const rootA = receiptRoot(a);
  const rootB = receiptRoot(b);
  let dir: string;
  let store: ReceiptStore;
  let srv: ReceiptServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "poc-store-"));
    store = new ReceiptStore(join(dir, "store"));
    srv = await serveReceipts(store);
  });
  after(async () => {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("puts (atomically, idempotently) and gets verified bytes by root", async () => {
    expect(await store.put(a)).to.equal(rootA);
    expect(await store.put(a)).to.equal(rootA);
    expect(await store.put(b)).to.equal(rootB);
    expect(await store.get(rootA)).to.deep.equal(a);
    expect(await store.get(rootA.toUpperCase().replace("0X", "0x"))).to.deep.equal(a);
    expect(await store.has(rootB)).to.equal(true);
    expect(await store.list()).to.deep.equal([rootA, rootB].sort());
    expect((await readdir(store.dir)).sort()).to.deep.equal([`${rootA}.pocr`, `${rootB}.pocr`].sort()); // no temp files
  });

  it("rejects invalid bytes on put and unknown or malformed roots on get", async () => {
    await rejects(store.put(a.subarray(0, 50)), ReceiptFormatError, /truncated/);
    await rejects(store.get("0x" + "00".repeat(32)), ReceiptNotFoundError, /no receipt/);
    await rejects(store.get("0x1234"), ReceiptStoreError, /malformed receipt root/);
    expect((await readdir(store.dir)).length).to.equal(2);
  });

  it("detects a corrupted or misnamed file in the store", async () => {
    const s2 = new ReceiptStore(join(dir, "corrupt"));
    await s2.put(a);
    await writeFile(s2.pathFor(rootA), b);
    await rejects(s2.get(rootA), ReceiptMismatchError, /does not match its root/);
    await writeFile(s2.pathFor(rootA), a.subarray(0, 200));
    await rejects(s2.get(rootA), ReceiptFormatError, /truncated/);
    expect(await s2.put(a)).to.equal(rootA); // a put repairs it
    expect(await s2.get(rootA)).to.deep.equal(a);
  });

  it("serves GET /receipts/<root>: 200, 404, 400, 405", async () => {
    const ok = await fetch(`${srv.url}/receipts/${rootA}`);
    expect(ok.status).to.equal(200);
    expect(ok.headers.get("content-type")).to.equal("application/octet-stream");
    expect(new Uint8Array(await ok.arrayBuffer())).to.deep.equal(a);
    expect((await fetch(`${srv.url}/receipts/${rootA}.pocr`)).status).to.equal(200);
    expect((await fetch(`${srv.url}/receipts/0x${"00".repeat(32)}`)).status).to.equal(404);
    expect((await fetch(`${srv.url}/receipts/0x1234`)).status).to.equal(400);
    expect((await fetch(`${srv.url}/receipts/..%2Fetc`)).status).to.equal(400);
    expect((await fetch(`${srv.url}/elsewhere`)).status).to.equal(404);
    expect((await fetch(`${srv.url}/receipts/${rootA}`, { method: "POST", body: "x" })).status).to.equal(405);
    const head = await fetch(`${srv.url}/receipts/${rootA}`, { method: "HEAD" });
    expect(head.status).to.equal(200);
    expect(Number(head.headers.get("content-length"))).to.equal(a.length);
  });

  it("fetches over HTTP by full URL or base URL and checks the root", async () => {
    const got = await fetchReceipt(`${srv.url}/receipts/${rootA}`, rootA);
    expect(got.bytes).to.deep.equal(a);
    expect(got.root).to.equal(rootA);
    expect(got.receipt.samples.length).to.be.greaterThan(0);
    expect((await fetchReceipt(`${srv.url}/`, rootB)).bytes).to.deep.equal(b);
    expect((await fetchReceipt(`${srv.url}`, rootB)).bytes).to.deep.equal(b);
    expect((await fetchReceipt(`${srv.url}/receipts/`, rootB)).bytes).to.deep.equal(b);
  });

  it("rejects content whose root differs, HTTP errors, size limits, timeouts and bad URIs", async () => {
    const e = await rejects(fetchReceipt(`${srv.url}/receipts/${rootA}`, rootB), ReceiptMismatchError, /does not match the expected root/);
    expect((e as ReceiptMismatchError).details).to.include(rootA).and.include(rootB);
    await rejects(fetchReceipt(`${srv.url}/receipts/0x${"00".repeat(32)}`, "0x" + "00".repeat(32)), ReceiptFetchError, /HTTP 404/);
    await rejects(fetchReceipt(`${srv.url}/receipts/${rootA}`, rootA, { maxBytes: 100 }), ReceiptFetchError, /limit/);
    await rejects(fetchReceipt(`${srv.url}/receipts/${rootA}`, "nope"), ReceiptStoreError, /malformed receipt root/);
    await rejects(fetchReceipt(`ipfs://${rootA}`, rootA), ReceiptFetchError, /unsupported receipt URI scheme/);

    // a server that accepts and never answers; a server that sends garbage
    const hang = createServer(() => {});
    const junk = createServer((_, res) => res.end("this is not a receipt"));
    await new Promise<void>((ok) => hang.listen(0, "127.0.0.1", ok));
    await new Promise<void>((ok) => junk.listen(0, "127.0.0.1", ok));
    try {
      const hp = (hang.address() as AddressInfo).port;
      await rejects(fetchReceipt(`http://127.0.0.1:${hp}/receipts/${rootA}`, rootA, { timeoutMs: 300 }), ReceiptFetchError, /timed out after 300 ms/);
      const jp = (junk.address() as AddressInfo).port;
      await rejects(fetchReceipt(`http://127.0.0.1:${jp}/r`, rootA), ReceiptFormatError, /malformed: not a receipt: bad magic/);
    } finally {
      hang.closeAllConnections();
      await new Promise((ok) => hang.close(ok));
      await new Promise((ok) => junk.close(ok));
    }
    // nothing listening
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const cp = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    await rejects(fetchReceipt(`http://127.0.0.1:${cp}/receipts/${rootA}`, rootA, { timeoutMs: 2000 }), ReceiptFetchError, /cannot fetch/);
  });

  it("fetches from local paths, file:// URLs and store directories", async () => {
    const path = store.pathFor(rootA);
    expect((await fetchReceipt(path, rootA)).bytes).to.deep.equal(a);
    expect((await fetchReceipt(pathToFileURL(path).href, rootA)).bytes).to.deep.equal(a);
    expect((await fetchReceipt(store.dir, rootB)).bytes).to.deep.equal(b);
    await rejects(fetchReceipt(path, rootB), ReceiptMismatchError, /expected root/);
    await rejects(fetchReceipt(join(dir, "missing.pocr"), rootA), ReceiptFetchError, /cannot read receipt/);
    await rejects(fetchReceipt(path, rootA, { maxBytes: 10 }), ReceiptFetchError, /limit/);
  });

  it("CLI: poc receipts inspect prints the root and sizes; errors exit non-zero", async () => {
    const node = process.execPath;
    const main = join(process.cwd(), "offchain", "cli", "main.ts");
    const ok = spawnSync(node, ["--import", "tsx", main, "receipts", "inspect", store.pathFor(rootA), "--json"], { encoding: "utf8" });
    expect(ok.status, ok.stderr).to.equal(0);
    const info = JSON.parse(ok.stdout);
    expect(info.root).to.equal(rootA);
    expect(info.bytes).to.equal(a.length);
    expect(info.bytesPerGeneratedToken).to.equal(a.length / 20);
    const bad = join(dir, "bad.pocr");
    await writeFile(bad, a.subarray(0, 140));
    const err = spawnSync(node, ["--import", "tsx", main, "receipts", "inspect", bad], { encoding: "utf8" });
    expect(err.status).to.equal(1);
    expect(err.stderr).to.match(/^error: receipt truncated/);
  });
});
