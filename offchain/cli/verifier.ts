/**
 * `poc verifier bond|unbond|withdraw|status`: a verifier's stake, without Hardhat (the same as
 * scripts/verifier-*.ts, over any JSON-RPC endpoint). Amounts are whole tokens ("150", "0.5").
 *
 *   npx poc verifier bond 150 --account 1          bond 150 more (approves first; default: up to the pool's minimum)
 *   npx poc verifier unbond 50 --account 1         move 50 to unbonding ("all" to leave the verifier set)
 *   npx poc verifier withdraw --account 1          withdraw unbonded tokens once the delay has passed, and the credit
 *   npx poc verifier status --account 1 [--all]    bond, unbonding, credit, wallet; --all lists the verifier set
 */
import { Command } from "commander";
import { ChainError, type PoolClient } from "../chain/index.js";
import { addChainOptions, formatTokens, parseTokenAmount, withClient, type ChainCliOptions } from "./chain-options.js";

/** `withClient` (./chain-options.ts) that also hands `fn` the token's decimals. */
function withDecimals(o: ChainCliOptions, needSigner: boolean, fn: (c: PoolClient, decimals: number) => Promise<void>): Promise<void> {
  return withClient(o, needSigner, async (client) => fn(client, await client.tokenDecimals()));
}

/** The lines `status` prints for `account`. */
export async function verifierStatusLines(c: PoolClient, account: string, decimals: number): Promise<string[]> {
  const [b, credit, wallet, count, { params, paramsId }, head] = await Promise.all([
    c.bondOf(account),
    c.creditOf(account),
    c.tokenBalance(account),
    c.verifierCount(),
    c.params(),
    c.latestBlock(),
  ]);
  const f = (v: bigint) => formatTokens(v, decimals);
  const ready =
    b.unbonding === 0n
      ? ""
      : b.unbondReadyAt <= head.timestamp
        ? "  (withdrawable now)"
        : `  (withdrawable at ${new Date(b.unbondReadyAt * 1000).toISOString()}, in ${b.unbondReadyAt - head.timestamp} s)`;
  return [
    `account     ${account}`,
    `bond        ${f(b.bond)}${b.listed ? "  (in the verifier set)" : "  (NOT in the verifier set)"}${b.bond > 0n && b.bond < params.minBond ? `  below the minimum ${f(params.minBond)}` : ""}`,
    `unbonding   ${f(b.unbonding)}${ready}`,
    `credit      ${f(credit)}`,
    `wallet      ${f(wallet)}`,
    `pool        ${c.address} on chain ${c.chainId}; ${count} verifier(s); params #${paramsId}: minBond ${f(params.minBond)}, unbondDelay ${params.unbondDelay} s, verifyWindow ${params.verifyWindow} s`,
  ];
}

export function verifierCommand(): Command {
  const group = new Command("verifier").description("a verifier's stake: bond, unbond, withdraw, status");

  group.addCommand(
    addChainOptions(
      new Command("bond")
        .description("bond more stake (approves the pool first when needed); default amount: up to the pool's minimum bond")
        .argument("[tokens]", "amount in whole tokens")
        .option("--mint", "local TestToken only: mint the shortfall to the wallet first", false),
    ).action(async (tokens: string | undefined, o: ChainCliOptions & { mint: boolean }) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const [{ params }, b] = await Promise.all([c.params(), c.bondOf(me)]);
        const amount = tokens !== undefined ? parseTokenAmount(tokens, dec) : params.minBond > b.bond ? params.minBond - b.bond : 0n;
        if (amount === 0n) {
          console.log(`bond ${formatTokens(b.bond, dec)} is already at least the minimum ${formatTokens(params.minBond, dec)}: nothing to do (give an amount to bond more)`);
          return;
        }
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
        for (const l of await verifierStatusLines(c, me, dec)) console.log(l);
      }),
    ),
  );

  group.addCommand(
    addChainOptions(
      new Command("unbond")
        .description("move part of the bond to unbonding (withdrawable after the pool's unbond delay); \"all\" leaves the verifier set")
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
    addChainOptions(
      new Command("withdraw").description("withdraw unbonded tokens (once the delay has passed) and the credit from jobs"),
    ).action(async (o: ChainCliOptions) =>
      withDecimals(o, true, async (c, dec) => {
        const me = await c.account();
        const [b, head] = await Promise.all([c.bondOf(me), c.latestBlock()]);
        let did = false;
        if (b.unbonding > 0n) {
          if (b.unbondReadyAt <= head.timestamp) {
            const r = await c.withdrawUnbonded();
            console.log(`withdrew ${formatTokens(b.unbonding, dec)} unbonded tokens (tx ${r.hash})`);
            did = true;
          } else console.log(`${formatTokens(b.unbonding, dec)} unbonding, withdrawable at ${new Date(b.unbondReadyAt * 1000).toISOString()}`);
        }
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
      new Command("status")
        .description("bond, unbonding, credit and wallet of the account (or --address); --all lists the verifier set")
        .option("--address <address>", "show this address (no account needed)")
        .option("--all", "list every verifier in the set", false),
    ).action(async (o: ChainCliOptions & { address?: string; all: boolean }) =>
      withDecimals(o, !o.address, async (c, dec) => {
        const who = o.address ?? (await c.account());
        for (const l of await verifierStatusLines(c, who, dec)) console.log(l);
        if (o.all) {
          for (const [i, v] of (await c.verifiers()).entries()) {
            const b = await c.bondOf(v);
            console.log(`  #${i}  ${v}  bond ${formatTokens(b.bond, dec)}  unbonding ${formatTokens(b.unbonding, dec)}`);
          }
        }
      }),
    ),
  );
  return group;
}
