/** Examples per forward pass in the inference stages: by the runtime's threads, capped by the attention maps' memory. */
import { attentionBytesPerExample, ATTENTION_BUDGET_BYTES, inferenceBatchSize, ONNX_RUNTIME_BATCH, TFJS_BATCH } from '../../../trainer/inference/batch-size';
import { parseModelConfig } from '../../../trainer/model/config';

describe('attentionBytesPerExample', () => {
  test('single-stream VQA: fusion self-attention over [patches ; tokens]', () => {
    // 32 px / 8 px = 16 patches + 12 tokens = 28; 2 layers × 8 heads × 28 × 28 × 4 bytes.
    const c = parseModelConfig({ imageSize: 32, patchSize: 8, maxTextLength: 12, fusionLayers: 2, numAnswers: 16, heads: { vision: 8, fusion: 8, decoder: 8 } });
    expect(attentionBytesPerExample(c)).toBe(2 * 8 * 28 * 28 * 4);
  });

  test('two-stream captioning: vision, text self, text→image cross, decoder self and decoder cross', () => {
    const c = parseModelConfig({
      fusion: 'two-stream', imageSize: 32, patchSize: 4, maxTextLength: 10, maxTargetLength: 6,
      visionLayers: 2, fusionLayers: 1, decoderLayers: 3, heads: { vision: 4, fusion: 2, decoder: 1 },
    });
    const P = 64;
    const expected =
      2 * 4 * P * P + // visionSelf
      1 * 2 * 10 * 10 + // fusionSelf (text only in two-stream)
      1 * 2 * 10 * P + // crossImage
      3 * 1 * 6 * 6 + // decoderSelf
      3 * 1 * 6 * (P + 10); // decoderCross over [image ; text]
    expect(attentionBytesPerExample(c)).toBe(expected * 4);
  });
});

describe('inferenceBatchSize', () => {
  const small = 50_000;
  test('TensorFlow.js: the compute-bound batch; ONNX Runtime: the larger batch that amortises its per-call cost', () => {
    expect(inferenceBatchSize('tfjs', small)).toBe(TFJS_BATCH);
    expect(inferenceBatchSize('onnxruntime', small)).toBe(ONNX_RUNTIME_BATCH);
    expect(ONNX_RUNTIME_BATCH).toBeGreaterThan(TFJS_BATCH);
  });

  test('capped by the memory budget, never below one example', () => {
    // Paper scale: 12 layers × 12 heads × 237² floats per example ≈ 32 MB → 8 examples in 256 MiB.
    const paper = 12 * 12 * 237 * 237 * 4;
    expect(inferenceBatchSize('onnxruntime', paper)).toBe(Math.floor(ATTENTION_BUDGET_BYTES / paper));
    expect(inferenceBatchSize('tfjs', paper)).toBe(8);
    expect(inferenceBatchSize('onnxruntime', ATTENTION_BUDGET_BYTES * 3)).toBe(1);
  });
});
