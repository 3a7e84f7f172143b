import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { SPECIAL_TOKENS } from '../../../trainer/data/batch';
import {
  beamSearch,
  beamSearchScored,
  DecodeError,
  greedyDecode,
  greedyDecodeScored,
  lengthPenalty,
  sequenceLogProbs,
  type DecodeInputs,
} from '../../../trainer/eval/decode';
import { VLModel } from '../../../trainer/model';
import { type ModelConfig } from '../../../trainer/model/config';
import { tinyConfig, type Fusion } from '../model/fixtures';

const { PAD, BOS, EOS } = SPECIAL_TOKENS;
/** The tiny model of the model tests, as a generation model: two decoder layers, 6 target tokens, no answer head, no dropout. */
function decoderConfig(fusion: Fusion, overrides: Record<string, unknown> = {}): ModelConfig {
  return tinyConfig(fusion, true, {
    fusionLayers: 1,
    decoderLayers: 2,
    heads: { vision: 2, fusion: 2, decoder: 2 },
    maxTargetLength: 6,
    numAnswers: 0,
    dropout: 0,
    ...overrides,
  });
}

/** Seeded images and texts (the last text has trailing PADs). */
function decodeInputs(c: ModelConfig, batch: number, seed: number): DecodeInputs {
  const s = c.imageSize;
  const images = tf.randomNormal([batch, s, s, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const ids = tf.randomUniform([batch, c.maxTextLength], 4, c.vocabSize, 'int32', seed + 1);
  const keep = tf.tensor2d(
    Array.from({ length: batch * c.maxTextLength }, (_, i) => (Math.floor(i / c.maxTextLength) === batch - 1 && i % c.maxTextLength >= 3 ? 0 : 1)),
    [batch, c.maxTextLength],
    'int32',
  );
  const text = tf.mul(ids, keep) as tf.Tensor2D;
  tf.dispose([ids, keep]);
  return { images, text };
}

function disposeInputs(i: DecodeInputs): void {
  tf.dispose([i.images, i.text]);
}

/** Row b of the inputs as a batch of one. */
function row(i: DecodeInputs, b: number): DecodeInputs {
  return { images: i.images.slice(b, 1), text: i.text.slice(b, 1) };
}

/**
 * A model whose decoder is not uniform: the LM head's weights are scaled up so the next-token
 * distributions are peaked and depend on the prefix (a freshly initialised head is nearly flat);
 * `eosShift` lowers the EOS logit so that longer sequences compete with stopping early.
 */
function sharpModel(c: ModelConfig, seed: number, eosShift = 0): VLModel {
  const m = new VLModel(c, { seed });
  for (const { name, tensor } of m.namedWeights()) {
    if (!name.includes('lmHead')) continue;
    if (tensor.rank === 2) tensor.assign(tf.tidy(() => tf.mul(tensor, 8))); // [width, vocab]
    else tensor.assign(tf.tidy(() => tf.sub(tensor, tf.mul(tf.oneHot(EOS, c.vocabSize), eosShift)))); // bias [vocab]
  }
  return m;
}

function checkWellFormed(outputs: Int32Array[], maxLen: number): void {
  for (const ids of outputs) {
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    expect(ids.length).toBeLessThanOrEqual(maxLen);
    const eos = ids.indexOf(EOS);
    // EOS, when generated, is the last id; without EOS the sequence ran to maxLen.
    if (eos >= 0) expect(eos).toBe(ids.length - 1);
    else expect(ids.length).toBe(maxLen);
    for (const id of ids) {
      expect(id).not.toBe(PAD);
      expect(id).not.toBe(BOS);
    }
  }
}

beforeAll(async () => {
  await initBackend();
});

describe.each<Fusion>(['single-stream', 'two-stream'])('decoding, %s', (fusion) => {
  const c = decoderConfig(fusion);
  let model: VLModel;
  let inputs: DecodeInputs;
  beforeAll(() => {
    model = sharpModel(c, fusion === 'single-stream' ? 11 : 12);
    inputs = decodeInputs(c, 6, 5);
  });
  afterAll(() => {
    model.dispose();
    disposeInputs(inputs);
  });

  test('greedy: well-formed outputs, scores equal the teacher-forced log-probability, no tensor leak', () => {
    const before = tf.memory().numTensors;
    const hyps = greedyDecodeScored(model, inputs);
    expect(tf.memory().numTensors).toBe(before);
    expect(hyps).toHaveLength(6);
    checkWellFormed(
      hyps.map((h) => h.tokens),
      c.maxTargetLength,
    );
    hyps.forEach((h) => expect(h.finished).toBe(h.tokens[h.tokens.length - 1] === EOS));
    const forced = sequenceLogProbs(
      model,
      inputs,
      hyps.map((h) => h.tokens),
    );
    hyps.forEach((h, b) => expect(h.logProb).toBeCloseTo(forced[b]!, 4));
    // Greedy picks the argmax each step: with a peaked head at least one example must stop early.
    expect(hyps.some((h) => h.finished)).toBe(true);
  });

  test('greedy: the batch decodes each example as if it were alone', () => {
    const batched = greedyDecode(model, inputs);
    for (let b = 0; b < 6; b++) {
      const one = row(inputs, b);
      expect(Array.from(greedyDecode(model, one)[0]!)).toEqual(Array.from(batched[b]!));
      disposeInputs(one);
    }
  });

  test.each([0, 0.6, 2])('beam 1 equals greedy exactly (α = %p)', (alpha) => {
    const greedy = greedyDecodeScored(model, inputs);
    const beam = beamSearchScored(model, inputs, { beamSize: 1, lengthPenalty: alpha });
    expect(beam.map((h) => Array.from(h.tokens))).toEqual(greedy.map((h) => Array.from(h.tokens)));
    expect(beam.map((h) => h.logProb)).toEqual(greedy.map((h) => h.logProb));
  });

  test.each([2, 3, 5])('beam %p: well-formed, scores are model log-probabilities, never below greedy (α = 0)', (beamSize) => {
    const before = tf.memory().numTensors;
    const greedy = greedyDecodeScored(model, inputs);
    const beam = beamSearchScored(model, inputs, { beamSize, lengthPenalty: 0 });
    expect(tf.memory().numTensors).toBe(before);
    checkWellFormed(
      beam.map((h) => h.tokens),
      c.maxTargetLength,
    );
    const forced = sequenceLogProbs(
      model,
      inputs,
      beam.map((h) => h.tokens),
    );
    beam.forEach((h, b) => {
      expect(h.logProb).toBeCloseTo(forced[b]!, 4);
      expect(h.logProb).toBeGreaterThanOrEqual(greedy[b]!.logProb - 1e-5);
    });
    expect(beamSearch(model, inputs, { beamSize }).map((t) => Array.from(t))).toEqual(beam.map((h) => Array.from(h.tokens)));
  });

  test('maxLen caps the output length', () => {
    checkWellFormed(greedyDecode(model, inputs, 2), 2);
    checkWellFormed(beamSearch(model, inputs, { beamSize: 3, maxLen: 2 }), 2);
  });
});

describe('beam search against exhaustive search', () => {
  // Vocabulary of 8: PAD and BOS are never generated, so 6 tokens (UNK, EOS, 4..7) per step;
  // with maxLen 3 a beam of 40 keeps every prefix (≤ 5·6 + 1 candidates at step 2), so it must
  // find the best of ALL sequences, which are few enough to score one by one.
  const c = decoderConfig('single-stream', { vocabSize: 8, maxTargetLength: 3 });
  const generable = [1, 3, 4, 5, 6, 7];
  const all: number[][] = [];
  for (const a of generable) {
    if (a === EOS) {
      all.push([a]);
      continue;
    }
    for (const b of generable) {
      if (b === EOS) all.push([a, b]);
      else for (const d of generable) all.push([a, b, d]);
    }
  }

  /** The exhaustive winner per example and α, and the beam search result. */
  function compare(alpha: number): { exhaustive: number[][]; found: number[][] } {
    const model = sharpModel(c, 22, 1.5);
    const inputs = decodeInputs(c, 2, 9);
    const exhaustive: number[][] = [];
    const found: number[][] = [];
    for (let b = 0; b < 2; b++) {
      const one = row(inputs, b);
      const many: DecodeInputs = { images: tf.tile(one.images, [all.length, 1, 1, 1]), text: tf.tile(one.text, [all.length, 1]) };
      const scores = sequenceLogProbs(model, many, all);
      const ranked = scores.map((s, i) => s / lengthPenalty(all[i]!.length, alpha));
      const bestIndex = ranked.indexOf(Math.max(...ranked));
      const [hyp] = beamSearchScored(model, one, { beamSize: 40, lengthPenalty: alpha });
      expect(hyp!.logProb / lengthPenalty(hyp!.tokens.length, alpha)).toBeCloseTo(ranked[bestIndex]!, 4);
      // Ids must match too unless the top two are a near-tie (float32 noise could swap them).
      const sorted = [...ranked].sort((x, y) => y - x);
      if (sorted[0]! - sorted[1]! > 1e-3) expect(Array.from(hyp!.tokens)).toEqual(all[bestIndex]);
      exhaustive.push(all[bestIndex]!);
      found.push(Array.from(hyp!.tokens));
      disposeInputs(one);
      disposeInputs(many);
    }
    model.dispose();
    disposeInputs(inputs);
    return { exhaustive, found };
  }

  test('finds the sequence of maximal log P / lp(len), for α = 0 and α = 3; here α changes the winner', () => {
    const plain = compare(0);
    const penalised = compare(3);
    // Guard on the test itself: the length penalty must matter for these inputs, else α > 0 proves nothing.
    expect(penalised.exhaustive).not.toEqual(plain.exhaustive);
  });
});

/**
 * A stand-in for VLModel whose next-token distribution is a script: `next(key, prefix)` gives the
 * probabilities of the tokens after `prefix` (ids without BOS) for the example whose first text
 * id is `key`; unlisted tokens get ~0. It records the rows of every decoder call.
 */
function scriptedModel(vocabSize: number, maxTargetLength: number, next: (key: number, prefix: number[]) => Record<number, number>) {
  const rowsPerCall: number[] = [];
  const config = decoderConfig('single-stream', { vocabSize, maxTargetLength });
  // The "encoder output" of a row is its key (the first text id); the decoder reads it back.
  const encode = (inputs: { text: tf.Tensor2D }) => ({
    states: tf.cast(inputs.text.slice([0, 0], [-1, 1]), 'float32').reshape([-1, 1, 1]) as tf.Tensor3D,
    valid: tf.ones([inputs.text.shape[0], 1]) as tf.Tensor2D,
  });
  const decodeFrom = (encoded: { states: tf.Tensor3D }, decoderInput: tf.Tensor2D) => {
    const ids = decoderInput.arraySync();
    const keys = encoded.states.arraySync().map((r) => r[0]![0]!);
    const t = ids[0]!.length;
    rowsPerCall.push(ids.length);
    const logits = ids.map((prefix, r) =>
      Array.from({ length: t }, (_, pos) => {
        const probs = pos === t - 1 ? next(keys[r]!, prefix.slice(1)) : {};
        return Array.from({ length: vocabSize }, (_, v) => Math.log(probs[v] ?? 1e-12));
      }),
    );
    return tf.tensor3d(logits);
  };
  return { model: { config, encode, decodeFrom } as unknown as VLModel, rowsPerCall };
}

function scriptedInputs(keys: number[]): DecodeInputs {
  return { images: tf.zeros([keys.length, 8, 8, 3]) as tf.Tensor4D, text: tf.tensor2d(keys.map((k) => [k, 0, 0, 0, 0]), [keys.length, 5], 'int32') };
}

describe('beam search bookkeeping on a scripted distribution', () => {
  const [A, B, C] = [4, 5, 6];

  test('a hypothesis that finished first is not final while a longer one can still win under the length penalty', () => {
    // After BOS: EOS 0.5, A 0.4, B 0.1; after A: A 0.95; after A A: EOS 0.99.
    // α = 0: [EOS] (log 0.5) beats [A A EOS] (log 0.376). α = 2: lp(1) = 1, lp(3) = (8/6)² → the longer one wins.
    const { model } = scriptedModel(8, 4, (_, p) => (p.length === 0 ? { [EOS]: 0.5, [A]: 0.4, [B]: 0.1 } : p.length === 1 ? { [A]: 0.95, [EOS]: 0.05 } : { [EOS]: 0.99, [A]: 0.01 }));
    const inputs = scriptedInputs([1]);
    expect(Array.from(beamSearch(model, inputs, { beamSize: 2, lengthPenalty: 0 })[0]!)).toEqual([EOS]);
    expect(Array.from(beamSearch(model, inputs, { beamSize: 2, lengthPenalty: 2 })[0]!)).toEqual([A, A, EOS]);
    disposeInputs(inputs);
  });

  test('finished examples and finished hypotheses take no decoder rows', () => {
    // Example key 1 stops at once; key 2 writes A A EOS.
    const { model, rowsPerCall } = scriptedModel(8, 4, (key, p) => (key === 1 || p.length === 2 ? { [EOS]: 0.9, [A]: 0.1 } : { [A]: 0.9, [EOS]: 0.1 }));
    const inputs = scriptedInputs([1, 2]);
    expect(greedyDecode(model, inputs).map((x) => Array.from(x))).toEqual([[EOS], [A, A, EOS]]);
    expect(rowsPerCall).toEqual([2, 1, 1]);
    rowsPerCall.length = 0;
    beamSearch(model, inputs, { beamSize: 2 });
    // Step 1: one row per example. Example 1 is then settled ([EOS] 0.9 beats any [A …] ≤ 0.1); example 2
    // keeps [A] and the finished [EOS], so steps 2 and 3 decode only its one live beam.
    expect(rowsPerCall).toEqual([2, 1, 1]);
    disposeInputs(inputs);
  });

  test('beam search is a heuristic: greedy\'s prefix can be pushed out of the beam by prefixes that end worse', () => {
    // Greedy: A (0.5), then one of four tokens (0.25 each), then EOS: P = 0.125.
    // Beam 2 keeps B B' and B C (0.15 each > 0.125), whose continuations are all unlikely (≤ 1/9).
    const spread = Object.fromEntries([EOS, 4, 5, 6, 7, 8, 9, 10, 11].map((v) => [v, 1 / 9]));
    const { model } = scriptedModel(12, 3, (_, p) => {
      if (p.length === 0) return { [A]: 0.5, [B]: 0.3, [C]: 0.2 };
      if (p[0] === A) return p.length === 1 ? { 7: 0.25, 8: 0.25, 9: 0.25, 10: 0.25 } : { [EOS]: 1 };
      return p.length === 1 ? { [B]: 0.5, [C]: 0.5 } : spread;
    });
    const inputs = scriptedInputs([1]);
    const [greedy] = greedyDecodeScored(model, inputs);
    const [beam] = beamSearchScored(model, inputs, { beamSize: 2 });
    expect(greedy!.logProb).toBeCloseTo(Math.log(0.125), 5);
    expect(beam!.logProb).toBeLessThan(greedy!.logProb);
    disposeInputs(inputs);
  });
});

describe('argument checks', () => {
  test('a model without decoder, a bad beam size or maxLen is refused with the argument named', () => {
    const vqa = new VLModel(decoderConfig('single-stream', { decoderLayers: 0, numAnswers: 3 }));
    const gen = new VLModel(decoderConfig('single-stream'));
    const inputs = decodeInputs(gen.config, 1, 1);
    expect(() => greedyDecode(vqa, inputs)).toThrow(/decoderLayers = 0/);
    expect(() => beamSearch(gen, inputs, { beamSize: 0 })).toThrow(/beamSize must be an integer ≥ 1, got 0/);
    expect(() => beamSearch(gen, inputs, { beamSize: 2, lengthPenalty: -1 })).toThrow(/lengthPenalty/);
    expect(() => greedyDecode(gen, inputs, 7)).toThrow(DecodeError);
    expect(() => greedyDecode(gen, inputs, 7)).toThrow(/maxLen must be an integer in \[1, config.maxTargetLength = 6\], got 7/);
    vqa.dispose();
    gen.dispose();
    disposeInputs(inputs);
  });

  test('lengthPenalty is the GNMT ((5 + len) / 6)^α', () => {
    expect(lengthPenalty(7, 0)).toBe(1);
    expect(lengthPenalty(1, 1)).toBe(1);
    expect(lengthPenalty(7, 0.5)).toBeCloseTo(Math.sqrt(2), 12);
  });
});
