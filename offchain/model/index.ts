/**
 * offchain/model: build (ONNX writer), load (Optimum layout), forward with KV, model id, tokenizer.
 * Knows nothing of the chain, sampling or receipts.
 */
export { addModelVariant, buildModel, resolveBuildSpec, type BuildOptions, type BuildResult } from "./build.js";
export { PRESETS, countParams, type LlamaBuildSpec, type PresetName } from "./llama.js";
export {
  loadModel,
  prefillChunked,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  type ForwardInput,
  type ForwardOutput,
  type GraphOptimizationLevel,
  GRAPH_OPTIMIZATION_LEVELS,
  type LoadedModel,
  type LoadOptions,
  type ModelSpec,
} from "./load.js";
export { kvRow, kvPrefixLayers, type KvCache, type KvKind, type KvLayer } from "./kv.js";
export {
  MODEL_ID_SCHEME,
  CONFIG_KEYS_NOT_HASHED,
  canonicalJson,
  computeModelId,
  modelIdOf,
  modelIdsOf,
  resolveModelFiles,
  resolveVariantFiles,
  type Hex32,
  type ModelFileEntry,
  type ResolvedModelFiles,
} from "./files.js";
export { listVariants, selectVariant, describeVariant, type GraphLayout, type ModelVariant } from "./variants.js";
export { HASH_CACHE_FILE, type HashProgress } from "./hash-cache.js";
export { stripSameDtypeCasts } from "./graph-fix.js";
export { PASS_DEPENDENT_OPS, STEPWISE_PROMPT_CHUNK, passDependentOps, passPlan } from "./passes.js";
export { QUANTIZED_FORMATS, type QuantizedFormat } from "./quantized.js";
export { ARCHITECTURES, BUILD_LAYOUTS, architectureOf, type Architecture, type BuildLayout } from "./build.js";
export { ropeInverseFrequencies, type Llama3RopeScaling } from "./llama.js";
export { BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID, BYTE_VOCAB_SIZE, type TextTokenizer } from "./tokenizer.js";
export { ExecutionProviderError, ModelConfigError, ModelError, ModelFileError, ModelInputError } from "./errors.js";
export { halfToFloat32, float32ToHalf } from "./fp16.js";
export type { Dtype } from "./graph.js";
export { graphPrecision, variantPrecision, type VariantPrecision } from "./inspect.js";
