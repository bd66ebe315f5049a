/**
 * Keep chai's `closeTo` / `approximately` working for non-integer numbers in a mocha run that
 * also opens a Hardhat network connection.
 *
 * The first network connection of a process registers @nomicfoundation/hardhat-ethers-chai-matchers
 * globally (a `newConnection` hook), and its bigint-aware `closeTo` converts every number argument
 * with BigInt(), so `expect(0.1).to.be.closeTo(0.1, 1e-6)` anywhere in the same run then throws
 * "0.1 is not an integer". The pool tests open connections while mocha loads the files, which would
 * break float assertions in unrelated suites (offchain tests). This wrapper sends the all-number,
 * not-all-integer case to plain float arithmetic and everything else to the plugin.
 *
 * Applied once per process by `createPoolContext` and the other pool test files right after they
 * connect; it would be better placed in a mocha `require` hook for the whole suite.
 */
import * as chai from "chai";

let applied = false;

export function keepFloatCloseTo(): void {
  if (applied) return;
  applied = true;
  chai.use((c, utils) => {
    for (const name of ["closeTo", "approximately"]) {
      utils.overwriteMethod(c.Assertion.prototype, name, (_super: (...a: unknown[]) => unknown) => {
        return function (this: Chai.AssertionStatic, expected: unknown, delta: unknown, message?: string) {
          const actual = utils.flag(this, "object");
          const allNumbers = typeof actual === "number" && typeof expected === "number" && typeof delta === "number";
          if (allNumbers && !(Number.isInteger(actual) && Number.isInteger(expected) && Number.isInteger(delta))) {
            if (message) utils.flag(this, "message", message);
            this.assert(
              Math.abs((actual as number) - (expected as number)) <= (delta as number),
              `expected #{this} to be close to ${expected} +/- ${delta}`,
              `expected #{this} not to be close to ${expected} +/- ${delta}`,
              expected,
            );
            return;
          }
          return _super.call(this, expected, delta, message);
        };
      });
    }
  });
}
