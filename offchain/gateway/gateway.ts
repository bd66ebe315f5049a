/**
 * A whole gateway from its parts (what `poc gateway` and a devnet start): the job runner over the
 * user's pool client, the HTTP server, and the settle loop when the policy asks for it.
 */
import type { PoolClient } from "../chain/index.js";
import type { ReceiptStore } from "../receipt/index.js";
import { Mutex } from "../worker/queue.js";
import type { CostPolicy } from "./amounts.js";
import type { GeneratorDirectory } from "./directory.js";
import { httpGeneratorLink, type GeneratorLink } from "./generator-link.js";
import { JobRunner, type SamplerSettings } from "./job-runner.js";
import { ModelCatalog, type GatewayModel } from "./models.js";
import { DEFAULT_POLICIES, type GatewayPolicies } from "./policies.js";
import { startGatewayServer, type GatewayServer } from "./server.js";
import { Settler } from "./settle.js";

export interface GatewayOptions {
  client: PoolClient;
  models: readonly GatewayModel[];
  directory: GeneratorDirectory;
  link?: GeneratorLink;
  policies?: Partial<GatewayPolicies>;
  costs?: CostPolicy & { maxPricePerToken?: bigint };
  sampler?: SamplerSettings;
  commitTimeoutMs?: number;
  store?: ReceiptStore;
  mint?: boolean;
  host?: string;
  port?: number;
  defaultMaxTokens?: number;
  apiKey?: string;
  allowOrigins?: readonly string[];
  /** Settle loop interval (default 15 s). */
  settleEveryMs?: number;
  log?: (event: string, message: string, fields?: Record<string, unknown>) => void;
}

export interface Gateway {
  url: string;
  port: number;
  server: GatewayServer;
  runner: JobRunner;
  settler: Settler | undefined;
  catalog: ModelCatalog;
  close(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const policies: GatewayPolicies = { ...DEFAULT_POLICIES, ...o.policies };
  const txMutex = new Mutex();
  const settler = policies.settle ? new Settler(o.client, txMutex, o.log) : undefined;
  const catalog = new ModelCatalog(o.models);
  const runner = new JobRunner({
    client: o.client,
    directory: o.directory,
    link: o.link ?? httpGeneratorLink,
    policies,
    costs: o.costs ?? {},
    txMutex,
    ...(o.sampler ? { sampler: o.sampler } : {}),
    ...(o.commitTimeoutMs !== undefined ? { commitTimeoutMs: o.commitTimeoutMs } : {}),
    ...(o.store ? { store: o.store } : {}),
    ...(o.mint !== undefined ? { mint: o.mint } : {}),
    ...(settler ? { settler } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  const server = await startGatewayServer({
    catalog,
    runner,
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.defaultMaxTokens !== undefined ? { defaultMaxTokens: o.defaultMaxTokens } : {}),
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
    ...(o.allowOrigins ? { allowOrigins: o.allowOrigins } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.store ? { receipts: { store: o.store, client: o.client } } : {}),
  });
  settler?.start(o.settleEveryMs ?? 15_000);
  return {
    url: server.url,
    port: server.port,
    server,
    runner,
    settler,
    catalog,
    close: async () => {
      await settler?.stop();
      await server.close();
      await catalog.close();
    },
  };
}
