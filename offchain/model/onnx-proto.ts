/**
 * Access to the ONNX protobuf definitions (the `onnx-proto` package, a protobufjs build of onnx.proto).
 * The package is CommonJS with a dynamically built namespace, so it is loaded with `require`.
 */
import { createRequire } from "node:module";
import type * as OnnxProtoModule from "onnx-proto";

const require = createRequire(import.meta.url);
export const onnx: typeof OnnxProtoModule.onnx = (require("onnx-proto") as typeof OnnxProtoModule).onnx;
export type { onnx as OnnxTypes } from "onnx-proto";

/** ONNX TensorProto.DataType values used here. */
export const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** protobufjs decodes int64 as `Long` when the `long` package is present, else as number. */
export function toNum(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}
