/**
 * The signer's private key from Hardhat's keystore (the hardhat-keystore plugin of the toolbox), for
 * `poc … --keystore`. The key is the configuration variable POC_PRIVATE_KEY of the `rpc` network in
 * hardhat.config.ts, resolved exactly as `npx hardhat run … --network rpc` resolves it: the
 * environment variable first, then the development keystore, then the encrypted keystore (which asks
 * for its password on the terminal). Store it with `npx hardhat keystore set POC_PRIVATE_KEY`.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ChainConfigError, describeError } from "./errors.js";

export const KEYSTORE_KEY_NAME = "POC_PRIVATE_KEY";
const KEYSTORE_NETWORK = "rpc";

/** The private key named POC_PRIVATE_KEY, from the environment or Hardhat's keystore (module comment). */
export async function privateKeyFromKeystore(): Promise<string> {
  const configPath = fileURLToPath(new URL("../../hardhat.config.ts", import.meta.url));
  let key: string;
  try {
    const { createHardhatRuntimeEnvironment, importUserConfig } = await import("hardhat/hre");
    const hre = await createHardhatRuntimeEnvironment(await importUserConfig(configPath), { config: configPath }, dirname(configPath));
    const net = hre.config.networks[KEYSTORE_NETWORK];
    if (net?.type !== "http" || !Array.isArray(net.accounts) || net.accounts.length === 0)
      throw new ChainConfigError(`hardhat.config.ts has no "${KEYSTORE_NETWORK}" network with an account`);
    key = await net.accounts[0]!.get();
  } catch (cause) {
    if (cause instanceof ChainConfigError) throw cause;
    throw new ChainConfigError(`cannot read ${KEYSTORE_KEY_NAME} from Hardhat's keystore`, {
      details: `${describeError(cause)}; store it with \`npx hardhat keystore set ${KEYSTORE_KEY_NAME}\` (add --dev for the unencrypted development keystore)`,
      cause,
    });
  }
  return key;
}
