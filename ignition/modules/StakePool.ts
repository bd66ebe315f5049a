/**
 * Ignition modules for the StakePool.
 *
 * - `StakePoolModule` (default export, id "StakePool"): the pool for an existing ERC-20 given as the
 *   `token` parameter, plus the default randomness source (FutureBlockRandomness: the hash of the
 *   block after each request) and the pool's external libraries RegistryLogic and Settlement (linked).
 *   Both deploy the GeneratorRegistry bound to the pool (`generatorRegistry`; parameter
 *   `listingDeposit`: stake-token base units each listing holds until it leaves, default 0).
 * - `LocalStakePoolModule` (id "LocalStakePool"): the same with a freshly deployed TestToken (anyone
 *   can mint it) as the stake token, for local networks, demos and tests.
 *
 * Parameters (all optional except `token` for StakePoolModule; defaults in scripts/lib/params.ts):
 * alphaBps, betaBps, commitWindow, challengeWindow, verifyWindow, drawWindow, maxStages, unbondDelay,
 * minBond and minModelStake (token units, as a decimal string or number), maxStakeBps, declineFeeBps.
 * The treasury (where forfeits, decline fees and stalemate deposits are credited) starts as the
 * deploying account; the owner moves it with setTreasury. The owner is the deploying account; hand ownership over later with
 * transferOwnership + acceptOwnership (two steps).
 *
 *   npx hardhat ignition deploy ignition/modules/StakePool.ts --network <net> --parameters params.json
 *   with params.json = { "StakePool": { "token": "0x…", "alphaBps": 10000, "minBond": "100000000000000000000" } }
 *
 * scripts/deploy.ts wraps this (choosing the module, reading POC_* variables, recording the
 * deployment for the other scripts).
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ArgumentType, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { DEFAULT_POOL_PARAMS as D } from "../../scripts/lib/params.js";

function poolFutures(m: IgnitionModuleBuilder, token: ArgumentType) {
  const params = [
    m.getParameter("alphaBps", D.alphaBps),
    m.getParameter("betaBps", D.betaBps),
    m.getParameter("commitWindow", D.commitWindow),
    m.getParameter("challengeWindow", D.challengeWindow),
    m.getParameter("verifyWindow", D.verifyWindow),
    m.getParameter("drawWindow", D.drawWindow),
    m.getParameter("maxStages", D.maxStages),
    m.getParameter("unbondDelay", D.unbondDelay),
    m.getParameter("minBond", D.minBond),
    m.getParameter("minModelStake", D.minModelStake),
    m.getParameter("maxStakeBps", D.maxStakeBps),
    m.getParameter("declineFeeBps", D.declineFeeBps),
  ];
  // The treasury starts as the deploying account; the owner moves it with setTreasury (scripts/deploy.ts: POC_TREASURY).
  const treasury = m.getAccount(0);
  const randomness = m.contract("FutureBlockRandomness");
  const registryLogic = m.library("RegistryLogic");
  const settlement = m.library("Settlement");
  const stakePool = m.contract("StakePool", [token, m.getAccount(0), params, randomness, treasury], {
    libraries: { RegistryLogic: registryLogic, Settlement: settlement },
  });
  const generatorRegistry = m.contract("GeneratorRegistry", [stakePool, m.getParameter("listingDeposit", 0n)]);
  return { randomness, registryLogic, stakePool, generatorRegistry };
}

export const StakePoolModule = buildModule("StakePool", (m) => {
  const token = m.getParameter<string>("token");
  return poolFutures(m, token);
});

export const LocalStakePoolModule = buildModule("LocalStakePool", (m) => {
  const token = m.contract("TestToken");
  return { token, ...poolFutures(m, token) };
});

export default StakePoolModule;
