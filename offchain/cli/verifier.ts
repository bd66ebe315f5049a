/**
 * `poc verifier bond|models|rebond|unbond|withdraw|sync|status`: a verifier's stake and the models it
 * replays, without Hardhat (the same as scripts/verifier-*.ts, over any JSON-RPC endpoint). Amounts
 * are whole tokens ("150", "0.5").
 *
 *   npx poc verifier bond 150 --account 1 --models ./models    bond 150 more and declare the models in ./models
 *   npx poc verifier models --account 1 --dir ./models         declare the models found in a directory
 *   npx poc verifier models 0xabc… 0xdef… --account 1          declare these model ids (replaces the list)
 *   npx poc verifier models --account 1                        show the declared models and their weights
 *   npx poc verifier rebond [tokens|all] --account 1           bond payouts (the credit) without a transfer
 *   npx poc verifier unbond 50 --account 1                     move 50 to unbonding ("all" for everything)
 *   npx poc verifier withdraw --account 1                      withdraw unbonded tokens whose delay passed, and the credit
 *   npx poc verifier sync [--address A] --account 1            apply pending changes to the draw weights (outside draw epochs)
 *   npx poc verifier status --account 1                        bond, weights per model, whether it can be drawn
 *
 * A verifier is drawn only for jobs of the models it declared, with probability its weight over the
 * model's total; its weight is its free bond at its last synchronisation (0 below minBond). Bonds made
 * during a draw epoch wait as `pendingBond` until the next synchronisation (sync, or anyone's syncPending).
 */
import { Command } from "commander";
import { z } from "zod";
import { ChainError, type PoolClient } from "../chain/index.js";
import { PocError } from "../errors.js";
import { ModelDirectory } from "../worker/models.js";
import { HEX32_RE } from "../sampling/index.js";
import { maxBetaCv } from "../chain/pool-params.js";
import { drawStatus } from "../chain/drawable.js";
import { addChainOptions, formatTokens, parseTokenAmount, withClient, type ChainCliOptions } from "./chain-options.js";

export class VerifierCliError extends PocError {
  override name = "VerifierCliError";
}

/** `withClient` (./chain-options.ts) that also hands `fn` the token's decimals. */
function withDecimals(o: ChainCliOptions, needSigner: boolean, fn: (c: PoolClient, decimals: number) => Promise<void>): Promise<void> {
  return withClient(o, needSigner, async (client) => fn(client, await client.tokenDecimals()));
}

const modelIdsSchema = z.array(z.string().regex(HEX32_RE, "a model id is 0x followed by 64 hex digits")).max(8, "at most 8 models per verifier");

/** The model ids to declare: explicit ids, or every model found in `dir` (VerifierCliError when none). */
export async function modelIdsToDeclare(o: { ids?: readonly string[]; dir?: string }): Promise<string[]> {
  if (o.ids && o.ids.length > 0) {
    const r = modelIdsSchema.safeParse([...o.ids]);
    if (!r.success) throw new VerifierCliError(r.error.issues.map((i) => i.message).join("; "));
    return [...new Set(r.data.map((m) => m.toLowerCase()))];
  }
  if (!o.dir) return [];
  const ids = [...(await new ModelDirectory(o.dir).index()).keys()];
  if (ids.length === 0) throw new VerifierCliError(`no model directories found in ${o.dir}`);
  if (ids.length > 8) throw new VerifierCliError(`${o.dir} holds ${ids.length} models; a verifier may declare at most 8 (give the ids)`);
  return ids.sort();
}

/** Whether two model lists are the same set. */
export function sameModels(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a.map((m) => m.toLowerCase()));
  return x.size === new Set(b.map((m) => m.toLowerCase())).size && b.every((m) => x.has(m.toLowerCase()));
}

/** The lines `status` prints for `account`: bond, unbonding, credit, wallet, each model's weight and whether it can be drawn. */
export async function verifierStatusLines(c: PoolClient, account: string, decimals: number): Promise<string[]> {
  const [b, credit, wallet, { params, paramsId }, epoch, pendingSyncs] = await Promise.all([
    c.bondOf(account),
    c.creditOf(account),
    c.tokenBalance(account),
    c.params(),
    c.drawEpoch(),
    c.pendingSyncs(),
  ]);
  const f = (v: bigint) => formatTokens(v, decimals);
  const maxStake = maxBetaCv(params);
  const lines = [
    `account     ${account}`,
    `bond        ${f(b.bond)} free${b.pendingBond > 0n ? ` + ${f(b.pendingBond)} pending (bonded during a draw epoch)` : ""}${
      b.bond > 0n && b.bond < params.minBond ? `  BELOW the minimum ${f(params.minBond)}: no draw weight` : ""
    }${b.needsSync ? "  (changes wait for a sync: `poc verifier sync`)" : ""}`,
    `unbonding   ${f(b.unbonding)}${b.unbonding > 0n ? `  (${f(b.unbondable)} withdrawable now)` : ""}`,
    `credit      ${f(credit)}${credit > 0n ? "  (`poc verifier rebond` bonds it, `poc verifier withdraw` pays it out)" : ""}`,
    `wallet      ${f(wallet)}`,
  ];
  if (b.models.length === 0) lines.push("models      none declared: this verifier is never drawn (`poc verifier models --dir DIR`)");
  for (const m of b.models) {
    const [w, stake] = await Promise.all([c.weightOf(m, account), c.modelStake(m)]);
    const share = stake.total > 0n ? Number((w * 10_000n) / stake.total) / 100 : 0;
    const st = drawStatus({ weight: w, bond: b.bond, needsSync: b.needsSync, largestBetaCv: maxStake });
    const drawable =
      st.kind === "awaitingSync"
        ? "not drawn until a sync"
        : st.kind === "noWeight"
          ? "NOT drawn (no weight: bond below the minimum)"
          : st.kind === "drawable"
            ? "can be drawn"
            : st.kind === "limited"
              ? `can be drawn only for jobs with βCv ≤ ${f(st.upTo)} (bond below the largest βCv ${f(maxStake)})`
              : "NOT drawn (no free bond)";
    lines.push(`model       ${m}: weight ${f(w)} of ${f(stake.total)} (${share}%, ${stake.verifiers} verifier(s)) — ${drawable}`);
  }
  lines.push(
    `pool        ${c.address} on chain ${c.chainId}; params #${paramsId}: minBond ${f(params.minBond)}, largest βCv ${f(maxStake)}, minModelStake ${f(
      params.minModelStake
    )} from ≥ ${params.maxStages + 2} verifiers, unbondDelay ${params.unbondDelay} s, verifyWindow ${params.verifyWindow} s`,
  );
  lines.push(
    `draws       ${epoch.frozen ? `epoch in progress (randomness request ${epoch.requestId}; weights frozen)` : "no epoch in progress"}; ${
      epoch.tail - epoch.head
    } stage(s) queued; ${pendingSyncs} verifier(s) wait for a sync`,
  );
  return lines;
}

async function declareIfChanged(c: PoolClient, ids: string[], print: (l: string) => void): Promise<void> {
  const me = await c.account();
  const b = await c.bondOf(me);
  if (sameModels(b.models, ids)) {
    print(`models ${ids.length ? ids.join(", ") : "(none)"} already declared`);
    return;
  }
  const r = await c.setModels(ids);
  print(`declared ${ids.length} model(s) (tx ${r.hash}, gas ${r.gasUsed}): ${ids.join(", ") || "none (left every model)"}`);
}

export function verifierCommand(): Command {
  const group = new Command("verifier").description("a verifier's stake and models: bond, models, rebond, unbond, withdraw, sync, status");

  group.addCommand(
    addChainOptions(
      new Command("bond")
        .description("bond more stake (approves the pool first when needed); default amount: up to the pool's minimum bond")
        .argument("[tokens]", "amount in whole tokens")
        .option("--models <dir>", "also declare the models found in this directory (each subdirectory one model)")
        .option("--model-id <hex32...>", "also declare these model ids")
        .option("--mint", "local TestToken only: mint the shortfall to the wallet first", false),
    ).action(async (tokens: string | undefined, o: ChainCliOptions & { mint: boolean; models?: string; modelId?: string[] }) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const ids = o.models || o.modelId ? await modelIdsToDeclare({ ...(o.modelId ? { ids: o.modelId } : {}), ...(o.models ? { dir: o.models } : {}) }) : undefined;
        if (ids) await declareIfChanged(c, ids, console.log);
        const [{ params }, b] = await Promise.all([c.params(), c.bondOf(me)]);
        const have = b.bond + b.pendingBond;
        const amount = tokens !== undefined ? parseTokenAmount(tokens, dec) : params.minBond > have ? params.minBond - have : 0n;
        // Checked against the pool's parameters before anything is minted, approved or sent.
        if (tokens !== undefined && amount === 0n) throw new ChainError(`verifier bond ${tokens}: give a positive amount (or no amount: up to the minimum bond ${formatTokens(params.minBond, dec)})`);
        if (amount > 0n && have + amount < params.minBond)
          throw new ChainError(
            `verifier bond ${tokens}: the bond would be ${formatTokens(have + amount, dec)}, below the pool's minimum ${formatTokens(params.minBond, dec)} (bond at least ${formatTokens(params.minBond - have, dec)})`,
          );
        if (amount === 0n) {
          console.log(`bond ${formatTokens(have, dec)} is already at least the minimum ${formatTokens(params.minBond, dec)}: nothing to bond (give an amount to bond more)`);
        } else {
          const wallet = await c.tokenBalance(me);
          if (wallet < amount) {
            if (!o.mint) throw new ChainError(`the wallet holds ${formatTokens(wallet, dec)}, bonding needs ${formatTokens(amount, dec)} (on a local chain, --mint mints test tokens)`);
            await c.mintTestTokens(me, amount - wallet);
            console.log(`minted ${formatTokens(amount - wallet, dec)} test tokens`);
          }
          const approved = await c.approveIfNeeded(amount);
          if (approved) console.log(`approved the pool for ${formatTokens(amount, dec)} (tx ${approved.hash})`);
          const r = await c.bond(amount);
          console.log(`bonded ${formatTokens(amount, dec)} (tx ${r.hash}, gas ${r.gasUsed})`);
        }
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("models")
        .description("declare the model ids this verifier replays (replaces the list; at most 8); without ids or --dir: show them")
        .argument("[ids...]", "model ids (0x + 64 hex digits)")
        .option("--dir <dir>", "declare every model found in this directory")
        .option("--none", "declare no model (leave every draw)", false),
    ).action(async (ids: string[], o: ChainCliOptions & { dir?: string; none: boolean }) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        if (o.none) await declareIfChanged(c, [], console.log);
        else if (ids.length > 0 || o.dir) await declareIfChanged(c, await modelIdsToDeclare({ ids, ...(o.dir ? { dir: o.dir } : {}) }), console.log);
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("rebond")
        .description("bond (part of) the credit — payouts of jobs — without a token transfer (bondFromCredit)")
        .argument("[tokens]", 'amount in whole tokens, or "all" (default: all)'),
    ).action(async (tokens: string | undefined, o: ChainCliOptions) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const credit = await c.creditOf(me);
        const amount = tokens === undefined || tokens === "all" ? credit : parseTokenAmount(tokens, dec);
        if (amount === 0n) throw new VerifierCliError(`${me} has no credit to bond`);
        if (amount > credit) throw new VerifierCliError(`the credit is ${formatTokens(credit, dec)}, less than ${formatTokens(amount, dec)}`);
        const r = await c.bondFromCredit(amount);
        const ev = r.events.find((e) => e.name === "Bonded");
        const pending = ev && ev.name === "Bonded" && ev.pendingBond > 0n ? ` (a draw epoch is in progress: ${formatTokens(ev.pendingBond, dec)} pending until the next sync)` : "";
        console.log(`bonded ${formatTokens(amount, dec)} of the credit (tx ${r.hash}, gas ${r.gasUsed})${pending}`);
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("unbond")
        .description("move part of the bond to unbonding (withdrawable after the pool's unbond delay); \"all\" for the whole free bond")
        .argument("<tokens>", 'amount in whole tokens, or "all"'),
    ).action(async (tokens: string, o: ChainCliOptions) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const b = await c.bondOf(me);
        const amount = tokens === "all" ? b.bond : parseTokenAmount(tokens, dec);
        const r = await c.requestUnbond(amount);
        const ev = r.events.find((e) => e.name === "UnbondRequested");
        const when = ev && ev.name === "UnbondRequested" ? ` withdrawable from ${new Date(ev.readyAt * 1000).toISOString()}` : "";
        console.log(`requested unbonding of ${formatTokens(amount, dec)} (tx ${r.hash});${when}`);
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(new Command("withdraw").description("withdraw unbonded tokens whose delay has passed, and the credit from jobs")).action(async (o: ChainCliOptions) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const b = await c.bondOf(me);
        let did = false;
        if (b.unbondable > 0n) {
          const r = await c.withdrawUnbonded();
          const ev = r.events.find((e) => e.name === "UnbondWithdrawn");
          console.log(`withdrew ${formatTokens(ev && ev.name === "UnbondWithdrawn" ? ev.amount : b.unbondable, dec)} unbonded tokens (tx ${r.hash})`);
          did = true;
        }
        if (b.unbonding > b.unbondable) console.log(`${formatTokens(b.unbonding - b.unbondable, dec)} still unbonding (its delay has not passed)`);
        const w = await c.withdraw();
        if (w.tx) {
          console.log(`withdrew the credit of ${formatTokens(w.amount, dec)} (tx ${w.tx.hash})`);
          did = true;
        }
        if (!did) console.log("nothing to withdraw now");
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("sync")
        .description("apply a verifier's pending bond and model changes to its draw weights (anyone; outside draw epochs)")
        .option("--address <address>", "sync this verifier (default: the account)"),
    ).action(async (o: ChainCliOptions & { address?: string }) =>
      withDecimals(o, true, async (c, dec) => {
        const who = o.address ?? (await c.account());
        const r = await c.sync(who);
        const ev = r.events.find((e) => e.name === "VerifierSynced");
        console.log(`synced ${who} (tx ${r.hash}, gas ${r.gasUsed}); weight now ${ev && ev.name === "VerifierSynced" ? formatTokens(ev.weight, dec) : "?"}`);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("status")
        .description("bond, unbonding, credit, wallet and, per declared model, the draw weight and whether the account can be drawn")
        .option("--address <address>", "show this address (no account needed)"),
    ).action(async (o: ChainCliOptions & { address?: string }) =>
      withDecimals(o, !o.address, async (c, dec) => {
        const who = o.address ?? (await c.account());
        for (const l of await verifierStatusLines(c, who, dec)) console.log(l);
      }),
    ),
  );
  return group;
}
