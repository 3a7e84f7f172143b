/** The model family's public API (see types.ts for the contract). */
export { VLModel } from './vl-model';
export {
  ATTENTION_KINDS,
  ModelInputError,
  type AttentionKind,
  type ModelInputs,
  type ForwardOptions,
  type ModelOutputs,
  type EncodedBatch,
} from './types';
export {
  ModelConfigSchema,
  HeadsSchema,
  ConfigError,
  parseModelConfig,
  formatIssues,
  numPatches,
  attentionLayerCounts,
  type ModelConfig,
  type ModelConfigInput,
} from './config';
