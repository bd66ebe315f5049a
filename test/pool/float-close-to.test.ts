/** The pool tests' network connections must not break float `closeTo` elsewhere in the run. */
import { expect } from "chai";
import { network } from "hardhat";
import { keepFloatCloseTo } from "./float-close-to.js";

await network.create(); // registers the ethers chai matchers, as every pool test file does
keepFloatCloseTo();

describe("test harness: chai closeTo next to the ethers chai matchers", function () {
  it("compares non-integer numbers as floats", function () {
    expect(0.1 + 0.2).to.be.closeTo(0.3, 1e-12);
    expect(-0.0005).to.be.approximately(-0.0005002, 1e-6);
    expect(() => expect(0.5).to.be.closeTo(0.7, 0.1)).to.throw(/close to 0.7/);
  });

  it("still compares bigints the ethers-matchers way", function () {
    expect(10n ** 18n).to.be.closeTo(10n ** 18n + 5n, 10n);
    expect(100).to.be.closeTo(103, 5);
  });
});
