/** FLOPs from a config (hand-counted tiny models) and latency percentiles. */
import { flopsBreakdown, flopsPerExample, latencyStats } from '../../../trainer/eval';
import { parseModelConfig } from '../../../trainer/model/config';

// P = (8/4)² = 4 patches of 4·4·3 = 48 values, d = 8, m = 16, Lt = 3, 5 answers.
const tiny = { imageSize: 8, patchSize: 4, width: 8, mlpWidth: 16, heads: { vision: 2, fusion: 2, decoder: 2 }, maxTextLength: 3, numAnswers: 5, vocabSize: 10, maxTargetLength: 2 };

describe('flopsPerExample', () => {
  test('single-stream VQA, one fusion block, counted by hand', () => {
    const c = parseModelConfig({ ...tiny, fusionLayers: 1 });
    const patchEmbed = 4 * 48 * 8; // [4,48]@[48,8] = 1536 MACs
    const T = 4 + 3; // [patches ; text]
    const attention = 4 * T * 8 * 8 /* Q,K,V,O */ + T * T * 8 /* QKᵀ over heads */ + T * T * 8; /* A·V */ // 2576
    const mlp = T * 8 * 16 + T * 16 * 8; // 1792
    const head = 8 * 5; // pooled [1,8]@[8,5]
    const macs = patchEmbed + attention + mlp + head; // 5944
    expect(macs).toBe(5944);
    expect(flopsPerExample(c, 'vqa')).toBe(2 * macs);
    expect(flopsBreakdown(c, 'vqa')).toEqual({ patchEmbed: 2 * 1536, vision: 0, fusion: 2 * (attention + mlp), decoder: 0, head: 80, total: 2 * macs });
  });

  test('single-stream captioning adds the teacher-forced decoder and LM head', () => {
    const c = parseModelConfig({ ...tiny, fusionLayers: 1, decoderLayers: 1, numAnswers: 0 });
    const encoder = 1536 + 2576 + 1792;
    const Ld = 2;
    const memory = 7;
    const self = 4 * Ld * 64 + 2 * Ld * Ld * 8; // 576
    const cross = 2 * Ld * 64 /* Q,O */ + 2 * memory * 64 /* K,V */ + 2 * Ld * memory * 8; // 1376
    const mlp = 2 * Ld * 8 * 16; // 512
    const lmHead = Ld * 8 * 10; // 160
    expect(flopsPerExample(c, 'caption')).toBe(2 * (encoder + self + cross + mlp + lmHead)); // 17056
    expect(flopsPerExample(c, 'translate')).toBe(flopsPerExample(c, 'caption'));
  });

  test('two-stream VQA: a ViT block over patches, text block with cross-attention', () => {
    const c = parseModelConfig({ ...tiny, fusion: 'two-stream', visionLayers: 1, fusionLayers: 1 });
    const vision = 4 * 4 * 64 + 2 * 16 * 8 + 2 * 4 * 8 * 16; // 2304
    const textSelf = 4 * 3 * 64 + 2 * 9 * 8; // 912
    const textCross = 2 * 3 * 64 + 2 * 4 * 64 + 2 * 3 * 4 * 8; // 1088
    const textMlp = 2 * 3 * 8 * 16; // 768
    expect(flopsPerExample(c, 'vqa')).toBe(2 * (1536 + vision + textSelf + textCross + textMlp + 40)); // 13296
  });

  test('two-stream captioning: the decoder cross-attends [image memory ; text] (P + Lt tokens)', () => {
    const c = parseModelConfig({ ...tiny, fusion: 'two-stream', visionLayers: 1, fusionLayers: 1, decoderLayers: 1, numAnswers: 0 });
    const encoder = 1536 + 2304 + 912 + 1088 + 768;
    const cross = 2 * 2 * 64 + 2 * 7 * 64 + 2 * 2 * 7 * 8; // Ld = 2 queries, 4 + 3 = 7 memory tokens
    const decoder = 576 + cross + 512;
    expect(flopsPerExample(c, 'caption')).toBe(2 * (encoder + decoder + 160));
  });

  test('more layers cost proportionally more; a missing head is an error naming the field', () => {
    const one = parseModelConfig({ ...tiny, fusionLayers: 1 });
    const three = parseModelConfig({ ...tiny, fusionLayers: 3 });
    expect(flopsBreakdown(three, 'vqa').fusion).toBe(3 * flopsBreakdown(one, 'vqa').fusion);
    expect(() => flopsPerExample(one, 'caption')).toThrow(/decoderLayers = 0/);
  });
});

describe('latencyStats', () => {
  test('linear-interpolated percentiles and the mean, order-independent', () => {
    const samples = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1
    // sorted 1..20: p50 at position 9.5 → 10.5; p95 at 18.05 → 19.05
    const s = latencyStats(samples);
    expect(s.p50).toBeCloseTo(10.5, 12);
    expect(s.p95).toBeCloseTo(19.05, 12);
    expect(s.mean).toBeCloseTo(10.5, 12);
  });

  test('one sample is every statistic; bad samples are rejected', () => {
    expect(latencyStats([3])).toEqual({ p50: 3, p95: 3, mean: 3 });
    expect(() => latencyStats([])).toThrow(/empty/);
    expect(() => latencyStats([1, -2])).toThrow(/samplesMs\[1\]/);
  });
});
