/**
 * `poc devnet`: the whole network on one machine (issue 13). Hardhat's in-process chain served over
 * JSON-RPC (default 127.0.0.1:8545), the stake token, the pool (devnet parameters: short windows, two
 * stages so that four verifiers can serve a model) and the GeneratorRegistry deployed, a seeded model
 * built, one generator worker (with the keeper; it lists itself in the registry and takes private
 * requests) and four verifier workers, the user's OpenAI-compatible gateway (default :8000, account 1,
 * generators from the registry) and the dashboard (default :8001), all in this process, and the
 * deployment record written where every `poc` command finds it.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { network } from "hardhat";
import { PoolClient } from "../../offchain/chain/index.js";
import { PRESETS, buildModel, loadModel, modelIdOf, type LoadedModel, type PresetName } from "../../offchain/model/index.js";
import { ReceiptStore, serveReceipts, type ReceiptServer } from "../../offchain/receipt/store.js";
import { startGeneratorWorker } from "../../offchain/worker/generator.js";
import { receiptAuthorizer } from "../../offchain/transport/receipt-access.js";
import { LoadedModels } from "../../offchain/worker/models.js";
import { startVerifierWorker } from "../../offchain/worker/verifier.js";
import { createLogger, type Logger } from "../../offchain/worker/log.js";
import { keeperHook } from "../../offchain/cli/supervise.js";
import { startDashboard } from "../../offchain/dashboard/server.js";
import { deployPoolWithRegistry } from "../lib/pool-deploy.js";
import { GeneratorRegistryClient, listings as chainListings } from "../../offchain/chain/index.js";
import { GeneratorRoutes, routeContextFor } from "../../offchain/transport/generator-routes.js";
import { RequestIntake } from "../../offchain/transport/intake.js";
import { JobEventLog } from "../../offchain/transport/job-events.js";
import { startGateway } from "../../offchain/gateway/gateway.js";
import { openGatewayModel } from "../../offchain/gateway/models.js";
import { RegistryDirectory } from "../../offchain/gateway/directory.js";
import { DEFAULT_POOL_PARAMS, paramsStruct, type PoolParams } from "../lib/params.js";
import { deploymentFile, type PocDeployment } from "../lib/deployment.js";
import { serveJsonRpc, type RpcServer } from "../lib/rpc-server.js";

export type Connection = Awaited<ReturnType<typeof network.create>>;

const E18 = 10n ** 18n;

/** Devnet parameters: the defaults with windows a person can wait for, and two stages (four verifiers serve a model). */
export const DEVNET_PARAMS: PoolParams = {
  ...DEFAULT_POOL_PARAMS,
  commitWindow: 300,
  challengeWindow: 120,
  verifyWindow: 120,
  drawWindow: 600,
  maxStages: 2,
  unbondDelay: 600,
  minModelStake: 400n * E18,
};

export interface DevnetOptions {
  connection: Connection;
  preset?: PresetName;
  /** Where models, worker state and logs live (default .poc/devnet). */
  dir?: string;
  rpcHost?: string;
  /** JSON-RPC port (default 8545; 0 = any). Not served when the connection is already an HTTP node. */
  rpcPort?: number;
  /** Generator's receipt server port (default 8546; 0 = any). */
  generatorPort?: number;
  /** The dashboard's port (default 8001; 0 = any). */
  dashboardPort?: number;
  /** The gateway's port (default 8000; 0 = any). */
  gatewayPort?: number;
  verifiers?: number;
  /** Write the deployment record to the default path (ignition/deployments/chain-<id>/), default true. */
  writeRecord?: boolean;
  print?: (line: string) => void;
}

export interface DevnetAccount {
  role: string;
  address: string;
}

export interface Devnet {
  rpcUrl: string;
  chainId: bigint;
  pool: string;
  token: string;
  deployBlock: number;
  modelId: string;
  modelDir: string;
  generator: { address: string; url: string };
  dashboardUrl: string;
  /** The OpenAI-compatible API's base (…/v1 under it). */
  gatewayUrl: string;
  /** The gateway's model name (the model directory's name). */
  modelName: string;
  registry: string;
  accounts: DevnetAccount[];
  /** The user's client (account 1), for the gateway. */
  userClient: PoolClient;
  /** A read client (no signer needed). */
  client: PoolClient;
  logFile: string;
  deploymentFile: string | undefined;
  stop(): Promise<void>;
}

export async function startDevnet(o: DevnetOptions): Promise<Devnet> {
  const { ethers } = o.connection;
  const print = o.print ?? ((l: string) => console.log(l));
  const dir = resolve(o.dir ?? join(".poc", "devnet"));
  const preset: PresetName = o.preset ?? "tiny";
  const nVerifiers = o.verifiers ?? 4;
  if (!(preset in PRESETS)) throw new Error(`unknown preset "${preset}": one of ${Object.keys(PRESETS).join(", ")}`);
  if (!Number.isInteger(nVerifiers) || nVerifiers < DEVNET_PARAMS.maxStages + 2 || nVerifiers > 8) {
    throw new Error(`--verifiers must be an integer in ${DEVNET_PARAMS.maxStages + 2}..8`);
  }
  const stops: (() => Promise<void>)[] = [];
  let log: WriteStream | undefined;
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
    await new Promise<void>((ok) => (log ? log.end(() => ok()) : ok()));
  };
  try {
    await mkdir(dir, { recursive: true });
    const logFile = join(dir, "workers.log");
    log = createWriteStream(logFile, { flags: "a" });
    const logger = (name: string): Logger => createLogger({ format: "plain", stream: log!, name, minLevel: "info" });

    // The chain, served over JSON-RPC unless it already is an HTTP node.
    let rpc: RpcServer | undefined;
    let rpcUrl: string;
    if (o.connection.networkConfig.type === "http") {
      rpcUrl = String((o.connection.networkConfig as { url?: unknown }).url ?? "");
    } else {
      rpc = await serveJsonRpc(o.connection.provider, { host: o.rpcHost ?? "127.0.0.1", port: o.rpcPort ?? 8545 });
      rpcUrl = rpc.url;
      stops.push(() => rpc!.close());
      // Blocks keep coming (FutureBlockRandomness draws from the block after a request; clocks move).
      await o.connection.provider.request({ method: "evm_setIntervalMining", params: [2000] }).catch(() => {});
    }
    const chainId = (await ethers.provider.getNetwork()).chainId;

    // Contracts.
    const signers = await ethers.getSigners();
    if (signers.length < 3 + nVerifiers + 1) throw new Error(`the network has ${signers.length} accounts; the devnet needs ${3 + nVerifiers + 1}`);
    const owner = signers[9]!;
    const user = signers[1]!;
    const gen = signers[2]!;
    const verifiers = signers.slice(3, 3 + nVerifiers);
    const token = await ethers.deployContract("TestToken", [], owner);
    const rnd = await ethers.deployContract("FutureBlockRandomness", [], owner);
    const { pool: poolC, registry: registryC } = await deployPoolWithRegistry(
      ethers,
      [await token.getAddress(), owner.address, paramsStruct(DEVNET_PARAMS), await rnd.getAddress(), owner.address],
      { signer: owner }
    );
    const registryAddress = await registryC.getAddress();
    const deployBlock = (await poolC.deploymentTransaction()!.wait())!.blockNumber;
    const pool = await poolC.getAddress();
    const client = await PoolClient.create({ runner: owner, pool, deployBlock, pollMs: 200 });
    const as = (s: (typeof signers)[number]) => client.connect(s);
    let recordPath: string | undefined;
    if (o.writeRecord !== false) {
      const record: PocDeployment = {
        chainId: Number(chainId),
        network: "devnet",
        stakePool: pool,
        token: await token.getAddress(),
        randomness: await rnd.getAddress(),
        generatorRegistry: registryAddress,
        deployBlock,
        deployedAt: new Date().toISOString(),
        params: Object.fromEntries(Object.entries(DEVNET_PARAMS).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v])),
      };
      recordPath = deploymentFile(chainId);
      await mkdir(join(recordPath, ".."), { recursive: true });
      await writeFile(recordPath, JSON.stringify(record, null, 2) + "\n");
    }

    // The model.
    const modelDir = join(dir, "models", `${preset}-seed0`);
    let modelId: string;
    try {
      modelId = await modelIdOf(modelDir);
    } catch {
      await buildModel(modelDir, { preset, weightSeed: 0 }, { force: true });
      modelId = await modelIdOf(modelDir);
    }
    const model: LoadedModel = await loadModel(modelDir);
    stops.push(() => model.release());

    // Funds and bonds.
    for (const s of [user, gen, ...verifiers]) await client.mintTestTokens(s.address, 10_000n * E18);
    for (const v of verifiers) await as(v).bond(DEVNET_PARAMS.minBond, { approve: true });

    // Workers.
    const stateDir = join(dir, "state");
    const store = new ReceiptStore(join(dir, "receipts-generator"));
    // Receipts only for the job's user and its drawn verifiers (docs/NETWORK.md).
    // Private requests in, token streams out (docs/NETWORK.md "The generator's server").
    const routes = new GeneratorRoutes({ intake: new RequestIntake(), events: new JobEventLog() });
    const server: ReceiptServer = await serveReceipts(store, {
      host: "127.0.0.1",
      port: o.generatorPort ?? 8546,
      authorize: receiptAuthorizer(client),
      extraRoutes: routes.handle,
    });
    stops.push(() => server.close());
    routes.context = await routeContextFor(as(gen));
    const g = await startGeneratorWorker({
      intake: routes.intake,
      events: routes.events,
      client: as(gen),
      models: new LoadedModels([model]),
      store,
      receiptBaseUrl: server.url,
      stateDir,
      pollMs: 500,
      mintTestTokens: true,
      log: logger("generator"),
      afterPoll: keeperHook(as(gen), logger("keeper")),
    });
    routes.answerer = g.answerStage;
    stops.push(() => g.stop());
    for (const [i, v] of verifiers.entries()) {
      const w = await startVerifierWorker({
        client: as(v),
        models: new LoadedModels([model]),
        stateDir,
        pollMs: 500,
        autoBond: true,
        devMine: true,
        logger: logger(`verifier-${i + 1}`),
      });
      stops.push(() => w.stop());
    }
    // Wait until the verifiers have declared the model (the pool refuses jobs for an underserved model).
    for (let i = 0; ; i++) {
      const s = await client.modelStake(modelId);
      if (s.verifiers >= DEVNET_PARAMS.maxStages + 2 && s.total >= DEVNET_PARAMS.minModelStake) break;
      if (i > 600) throw new Error(`the verifier workers did not declare model ${modelId} (weight ${s.total}, ${s.verifiers} verifiers)`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // The generator lists itself; the user's gateway finds it there.
    const genRegistry = await GeneratorRegistryClient.create(as(gen), registryAddress);
    await genRegistry.register({ models: [modelId], pricePerToken: E18 / 100n, endpoint: server.url, approve: true });
    const registry = await GeneratorRegistryClient.create(client, registryAddress); // reads: the dashboard and the gateway
    const dashboard = await startDashboard({ client, host: "127.0.0.1", port: o.dashboardPort ?? 8001, pollMs: 1000, listings: () => chainListings(registry, client) });
    stops.push(() => dashboard.close());

    const userClient = as(user);
    const gatewayModel = await openGatewayModel(modelDir, { load: false });
    const gateway = await startGateway({
      client: userClient,
      models: [gatewayModel],
      directory: new RegistryDirectory(registry, userClient),
      store: new ReceiptStore(join(dir, "gateway-receipts")),
      mint: true,
      host: "127.0.0.1",
      port: o.gatewayPort ?? 8000,
      policies: { settle: true },
      settleEveryMs: 10_000,
      log: (event, message) => log!.write(`${new Date().toISOString()} gateway ${event}: ${message}\n`),
    });
    stops.push(() => gateway.close());

    const accounts: DevnetAccount[] = [
      { role: "user (the gateway's key)", address: user.address },
      { role: "generator", address: gen.address },
      ...verifiers.map((v, i) => ({ role: `verifier ${i + 1}`, address: v.address })),
      { role: "deployer, pool owner and treasury", address: owner.address },
    ];
    print(`chain ${chainId} at ${rpcUrl}; StakePool ${pool} (block ${deployBlock}), token ${await token.getAddress()}`);
    if (recordPath) print(`deployment record ${recordPath} (every poc command on this chain finds the pool there)`);
    print(`model ${modelId} (preset ${preset}) in ${modelDir}`);
    print(`gateway ${gateway.url}/v1 (OpenAI-compatible; model "${gatewayModel.name}"), dashboard ${dashboard.url}`);
    print(`GeneratorRegistry ${registryAddress}: the generator listed the model at 0.01 tokens per token`);
    print(`generator ${gen.address} serving at ${server.url}; ${nVerifiers} verifier workers bonded ${Number(DEVNET_PARAMS.minBond / E18)} tokens each; worker logs ${logFile}`);
    return {
      rpcUrl,
      chainId,
      pool,
      token: await token.getAddress(),
      deployBlock,
      modelId,
      modelDir,
      generator: { address: gen.address, url: server.url },
      dashboardUrl: dashboard.url,
      gatewayUrl: gateway.url,
      modelName: gatewayModel.name,
      registry: registryAddress,
      accounts,
      userClient,
      client,
      logFile,
      deploymentFile: recordPath,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
