import { expect } from "chai";
import * as ort from "onnxruntime-node";
import { encodeModel } from "../../offchain/model/graph.js";
import { DT, type OnnxTypes } from "../../offchain/model/onnx-proto.js";
import { pruneToOutputs } from "../../offchain/model/prune.js";

const vi = (name: string, elemType = DT.FLOAT): OnnxTypes.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: [{ dimValue: 2 }] } } },
});

describe("graph pruning", () => {
  // a = x + x; unused = x * x; z = -x; y = If(cond, then: a, else: x)  (a is an outer-scope reference)
  const model: OnnxTypes.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "g",
      input: [vi("x"), { name: "cond", type: { tensorType: { elemType: DT.BOOL, shape: { dim: [] } } } }],
      output: [vi("y"), vi("z")],
      node: [
        { opType: "Add", input: ["x", "x"], output: ["a"], name: "A" },
        { opType: "Mul", input: ["x", "x"], output: ["unused"], name: "B" },
        { opType: "Neg", input: ["x"], output: ["z"], name: "C" },
        {
          opType: "If",
          input: ["cond"],
          output: ["y"],
          name: "I",
          attribute: [
            { name: "then_branch", type: 5, g: { name: "t", node: [{ opType: "Identity", input: ["a"], output: ["ty"] }], output: [vi("ty")] } },
            { name: "else_branch", type: 5, g: { name: "e", node: [{ opType: "Identity", input: ["x"], output: ["ey"] }], output: [vi("ey")] } },
          ],
        },
      ],
    },
  };

  it("keeps exactly the nodes an output needs, including outer-scope references of subgraphs", async () => {
    const p = pruneToOutputs(model, ["y"]);
    expect(p.graph!.node!.map((n) => n.name)).to.deep.equal(["A", "I"]);
    expect(p.graph!.output!.map((o) => o.name)).to.deep.equal(["y"]);
    const s = await ort.InferenceSession.create(encodeModel(p));
    const r = await s.run({ x: new ort.Tensor("float32", new Float32Array([1, 2]), [2]), cond: new ort.Tensor("bool", new Uint8Array([1]), []) });
    expect([...(r.y!.data as Float32Array)]).to.deep.equal([2, 4]);
    expect(s.inputNames).to.deep.equal(["x", "cond"]);
    const q = pruneToOutputs(model, ["z"]);
    expect(q.graph!.node!.map((n) => n.name)).to.deep.equal(["C"]);
    expect(q.graph!.input!.map((n) => n.name)).to.deep.equal(["x"]);
    // the original is untouched
    expect(model.graph!.node!.length).to.equal(4);
  });
});
