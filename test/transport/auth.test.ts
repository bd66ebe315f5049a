import { expect } from "chai";
import { Wallet, ZeroAddress } from "ethers";
import { AccessError, accessMessage, MAX_ACCESS_LIFETIME_S, parseAuthorization, signAccess, verifyAccess, type JobParties } from "../../offchain/transport/auth.js";

describe("party authentication (docs/NETWORK.md)", () => {
  const user = Wallet.createRandom();
  const verifier = Wallet.createRandom();
  const stranger = Wallet.createRandom();
  const scope = { chainId: 31337n, pool: "0x5FbDB2315678afecb367f032d93F642f64180aa3", jobId: 7n };
  const now = 1_800_000_000;
  const parties: JobParties = {
    getJob: async () => ({ user: user.address, stage: 2, state: 3 }),
    getStage: async (_j, s) => ({ verifier: s === 2 ? verifier.address : ZeroAddress }),
  };
  const status = async (p: Promise<unknown>): Promise<number> => {
    try {
      await p;
      return 200;
    } catch (e) {
      if (e instanceof AccessError) return e.status;
      throw e;
    }
  };

  it("the message is the documented text, pool lowercased", () => {
    expect(accessMessage(scope, 5)).to.equal(`Proof of Cache access v1\nchain: 31337\npool: ${scope.pool.toLowerCase()}\njob: 7\nexpires: 5`);
  });

  it("accepts the job's user and a drawn verifier, with their roles", async () => {
    const u = await verifyAccess(await signAccess(user, scope, { nowS: now }), scope, parties, { nowS: now });
    expect(u).to.include({ address: user.address, role: "user" });
    const v = await verifyAccess(await signAccess(verifier, scope, { nowS: now }), scope, parties, { nowS: now });
    expect(v).to.include({ address: verifier.address, role: "verifier", stage: 2 });
  });

  it("accepts the pick of the job's pending draw (it replays before it draws itself), and nobody else then", async () => {
    const pick = Wallet.createRandom();
    const waiting: JobParties = {
      getJob: async () => ({ user: user.address, stage: 2, state: 4 }), // AwaitingVerifier
      getStage: async (_j, s) => ({ verifier: s === 1 ? verifier.address : ZeroAddress }),
      drawPick: async (_j, who) => (who === pick.address ? { seed: 5n } : null),
    };
    const p = await verifyAccess(await signAccess(pick, scope, { nowS: now }), scope, waiting, { nowS: now });
    expect(p).to.include({ address: pick.address, role: "verifier", stage: 2 });
    expect(await status(verifyAccess(await signAccess(stranger, scope, { nowS: now }), scope, waiting, { nowS: now }))).to.equal(403);
    // once the stage is drawn (Verifying) the pending-draw check is not consulted
    const drawn: JobParties = { ...waiting, getJob: async () => ({ user: user.address, stage: 2, state: 3 }) };
    expect(await status(verifyAccess(await signAccess(pick, scope, { nowS: now }), scope, drawn, { nowS: now }))).to.equal(403);
  });

  it("refuses a stranger with 403 and a verifier where only the user is allowed", async () => {
    expect(await status(verifyAccess(await signAccess(stranger, scope, { nowS: now }), scope, parties, { nowS: now }))).to.equal(403);
    expect(await status(verifyAccess(await signAccess(verifier, scope, { nowS: now }), scope, parties, { nowS: now, allow: ["user"] }))).to.equal(403);
  });

  it("a signature for another job, pool or chain, an expired or too-long one, or a forged address is 401", async () => {
    const h = await signAccess(user, { ...scope, jobId: 8n }, { nowS: now });
    expect(await status(verifyAccess(h, scope, parties, { nowS: now }))).to.equal(401);
    expect(await status(verifyAccess(await signAccess(user, { ...scope, chainId: 1n }, { nowS: now }), scope, parties, { nowS: now }))).to.equal(401);
    const ok = await signAccess(user, scope, { nowS: now, lifetimeS: 60 });
    expect(await status(verifyAccess(ok, scope, parties, { nowS: now + 61 }))).to.equal(401);
    const far = `PoC ${user.address}:${now + MAX_ACCESS_LIFETIME_S + 10}:${await user.signMessage(accessMessage(scope, now + MAX_ACCESS_LIFETIME_S + 10))}`;
    expect(await status(verifyAccess(far, scope, parties, { nowS: now }))).to.equal(401);
    const forged = ok.replace(user.address, stranger.address);
    expect(await status(verifyAccess(forged, scope, parties, { nowS: now }))).to.equal(401);
  });

  it("a missing or malformed header is 401 with the expected form in the message", async () => {
    expect(() => parseAuthorization(undefined)).to.throw(AccessError, /Authorization: PoC/);
    expect(() => parseAuthorization("Bearer abc")).to.throw(AccessError, /malformed/);
  });
});
