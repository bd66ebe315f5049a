/**
 * A minimal ONNX graph writer on top of onnx-proto: nodes with auto-generated output names,
 * constants and weight initializers stored as raw_data (little-endian).
 */
import { DT, onnx, type OnnxTypes } from "./onnx-proto.js";
import { float32ToHalf } from "./fp16.js";

export type Dtype = "fp32" | "fp16";
export const elemType = (d: Dtype): number => (d === "fp16" ? DT.FLOAT16 : DT.FLOAT);

export type Attr =
  | { i: number }
  | { f: number }
  | { ints: number[] }
  | { floats: number[] }
  | { s: string }
  | { t: OnnxTypes.ITensorProto };

/** Symbolic or fixed dimension of a graph input/output. */
export type Dim = number | string;

export class GraphWriter {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private counter = 0;
  private domains = new Set<string>();
  private consts = new Map<string, string>();
  /** Sum of initializer payload bytes. */
  weightBytes = 0;

  /** Adds a node; returns its output name(s). `out` names the outputs explicitly. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string | string[]): string {
    return this.opN(opType, inputs, attrs, out === undefined ? 1 : typeof out === "string" ? [out] : out)[0]!;
  }

  opN(opType: string, inputs: string[], attrs: Record<string, Attr>, out: number | string[], domain = ""): string[] {
    const id = this.counter++;
    const outputs = typeof out === "number" ? Array.from({ length: out }, (_, k) => `${opType}_${id}_o${k}`) : out;
    const attribute: OnnxTypes.IAttributeProto[] = Object.entries(attrs).map(([name, a]) => toAttr(name, a));
    this.nodes.push({ opType, input: inputs, output: outputs, name: `${opType}_${id}`, attribute, ...(domain ? { domain } : {}) });
    if (domain) this.domains.add(domain);
    return outputs;
  }


  input(name: string, elem: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: number, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A shared int64 constant (deduplicated by value). */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.constant("i64", values, dims, () => {
      const arr = new BigInt64Array(values.map((v) => BigInt(v)));
      return { dataType: DT.INT64, rawData: bytesOf(arr) };
    });
  }

  /** A shared scalar/vector float constant of the given dtype. */
  float(values: number[], dtype: Dtype = "fp32", dims: number[] = [values.length]): string {
    return this.constant(dtype, values, dims, () =>
      dtype === "fp16"
        ? { dataType: DT.FLOAT16, rawData: bytesOf(float32ToHalf(values)) }
        : { dataType: DT.FLOAT, rawData: bytesOf(new Float32Array(values)) },
    );
  }

  /** A weight initializer stored as raw_data in `dtype`. */
  weight(name: string, dims: number[], data: Float32Array, dtype: Dtype): string {
    const raw = dtype === "fp16" ? bytesOf(float32ToHalf(data)) : bytesOf(data);
    this.weightBytes += raw.byteLength;
    this.initializers.push({ name, dims, dataType: elemType(dtype), rawData: raw });
    return name;
  }

  /** An initializer of any element type from its little-endian bytes (quantised weights, scales). */
  tensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): string {
    const raw = bytesOf(data);
    this.weightBytes += raw.byteLength;
    this.initializers.push({ name, dims, dataType, rawData: raw });
    return name;
  }

  private constant(kind: string, values: number[], dims: number[], make: () => OnnxTypes.ITensorProto): string {
    const key = `${kind}:${dims.join("x")}:${values.join(",")}`;
    const hit = this.consts.get(key);
    if (hit !== undefined) return hit;
    const name = `const_${this.consts.size}`;
    this.initializers.push({ ...make(), name, dims });
    this.consts.set(key, name);
    return name;
  }

  toModel(opts: { graphName: string; opset: number; producer: string; docString?: string; metadata?: Record<string, string> }): OnnxTypes.IModelProto {
    return {
      irVersion: 8,
      producerName: opts.producer,
      producerVersion: "1",
      docString: opts.docString ?? "",
      opsetImport: [{ domain: "", version: opts.opset }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }
}

export function encodeModel(model: OnnxTypes.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  // ONNX raw_data is little-endian; so is every platform Node runs on (checked at import).
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("offchain/model needs a little-endian platform");

function valueInfo(name: string, elem: number, dims: Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elem,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function toAttr(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("i" in a) return { name, type: T.INT, i: a.i };
  if ("f" in a) return { name, type: T.FLOAT, f: a.f };
  if ("ints" in a) return { name, type: T.INTS, ints: a.ints };
  if ("floats" in a) return { name, type: T.FLOATS, floats: a.floats };
  if ("s" in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  return { name, type: T.TENSOR, t: a.t };
}
