import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";

const require = createRequire(import.meta.url);

/** The solc version below is pinned in package.json: the npm `solc` package is the compiler (wasm). */
export const SOLC_VERSION = "0.8.28";

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    profiles: {
      default: {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: {
          evmVersion: "cancun",
          optimizer: { enabled: true, runs: 200 },
        },
      },
    },
  },
  paths: {
    tests: { mocha: "test", solidity: "test/solidity" },
  },
  test: {
    solidity: {
      fuzz: { runs: 200 },
      // Invariant campaigns (test/solidity/StakePoolInvariant.t.sol): runs × depth calls. A deep one:
      // POC_INVARIANT_RUNS=1000 POC_INVARIANT_DEPTH=200 npx hardhat test solidity test/solidity/StakePoolInvariant.t.sol
      invariant: {
        runs: Number(process.env.POC_INVARIANT_RUNS ?? 64),
        depth: Number(process.env.POC_INVARIANT_DEPTH ?? 64),
        failOnRevert: false,
      },
      // POC_INVARIANT_STATS=1: each invariant run appends its handler counters here (afterInvariant).
      fsPermissions: { writeFile: ["./cache/invariant-stats.csv"] },
    },
  },
  networks: {
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.POC_RPC_URL ?? "http://127.0.0.1:8545",
    },
    // Any EVM JSON-RPC endpoint: `--network rpc`. Both values are configuration variables, read from
    // the environment first, else from Hardhat's keystore (`npx hardhat keystore set POC_PRIVATE_KEY`);
    // `poc … --keystore` resolves the key through this same entry (offchain/chain/keystore.ts).
    rpc: {
      type: "http",
      chainType: "l1",
      url: configVariable("POC_RPC_URL"),
      accounts: [configVariable("POC_PRIVATE_KEY")],
    },
  },
});
