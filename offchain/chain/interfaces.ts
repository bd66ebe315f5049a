/**
 * The ethers Interfaces of the generated ABIs (abis.ts), built once on first use. Browser-safe: the
 * chain client takes its ABIs from here unless it is given others (`PoolClientOptions.abi`).
 */
import { Interface, type InterfaceAbi } from "ethers";
import { erc20Abi, stakePoolAbi, testTokenAbi } from "./abis.js";

/** A JSON ABI (e.g. `stakePoolAbi`), a human-readable one, or an ethers Interface. */
export type AbiSource = Interface | InterfaceAbi;

export function toInterface(abi: AbiSource): Interface {
  return abi instanceof Interface ? abi : new Interface(abi);
}

let pool: Interface | undefined;
let token: Interface | undefined;
let erc20: Interface | undefined;

/** The StakePool's Interface. */
export function defaultPoolInterface(): Interface {
  return (pool ??= new Interface(stakePoolAbi));
}

/** The stake token's: the TestToken ABI (ERC-20 + `mint`); any deployed ERC-20 speaks its ERC-20 part. */
export function defaultTokenInterface(): Interface {
  return (token ??= new Interface(testTokenAbi));
}

/** A minimal ERC-20 (balanceOf, allowance, approve, transfer, decimals, symbol and its errors). */
export function erc20Interface(): Interface {
  return (erc20 ??= new Interface(erc20Abi));
}
