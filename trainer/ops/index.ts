/** Fast, wasm-friendly TensorFlow.js ops with hand-written gradients (see each file for why). */
export { linear, mixRows, sumRows } from './linear';
export { embeddingLookup } from './embedding';
export { gelu, GELU_SIGMOID_SCALE, GELU_CUBIC } from './gelu';
export { layerNorm, LAYER_NORM_EPSILON } from './layer-norm';
export { dropout, dropoutMask, deriveSeed, mix32 } from './dropout';
export {
  attentionScores,
  attentionValues,
  maskedSoftmax,
  probsToMaps,
  channelMatMul,
  MASKED_SCORE,
  type AttentionDims,
} from './attention-core';
export { installZeroCopyIdentity } from './wasm-kernels';
