/**
 * Each hand-written-gradient op against tf's own autodiff of the plain formulation (cpu), and
 * the same op on wasm against cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import {
  attentionScores,
  attentionValues,
  dropoutMask,
  embeddingLookup,
  gelu,
  layerNorm,
  linear,
  maskedSoftmax,
  probsToMaps,
  MASKED_SCORE,
  type AttentionDims,
} from '../../../trainer/ops';
import { maxAbsDiff, probeTensor, relativeError } from '../model/fixtures';

type Op = (inputs: tf.Tensor[]) => tf.Tensor;

/** Value and gradients of Σ probe·op(inputs) w.r.t. every float input. */
function valueAndGrads(op: Op, inputs: tf.Tensor[], outSeed = 99): { value: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const value = op(inputs).dataSync() as Float32Array;
    const floats = inputs.filter((t) => t.dtype === 'float32');
    const f = (...xs: tf.Tensor[]) => {
      let i = 0;
      const all = inputs.map((t) => (t.dtype === 'float32' ? xs[i++] : t));
      const y = op(all);
      return tf.sum(tf.mul(y, probeTensor(y.shape, outSeed)));
    };
    const grads = tf.grads(f)(floats).map((g) => g.dataSync() as Float32Array);
    return { value, grads };
  });
}

function expectSame(a: { value: Float32Array; grads: Float32Array[] }, b: { value: Float32Array; grads: Float32Array[] }, valueTol: number, gradRelTol: number) {
  expect(a.value.length).toBe(b.value.length);
  expect(maxAbsDiff(a.value, b.value)).toBeLessThan(valueTol);
  expect(a.grads.length).toBe(b.grads.length);
  a.grads.forEach((g, i) => expect(relativeError(g, b.grads[i])).toBeLessThan(gradRelTol));
}

const dims: AttentionDims = { batch: 2, queryLen: 5, keyLen: 7, heads: 3, headSize: 4 };
const width = dims.heads * dims.headSize;

/** Attention with a key-padding mask on example 0's last two keys, fast path. */
const fastAttention: Op = ([q, k, v]) => {
  const valid = tf.tensor2d([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]]);
  const bias = tf.mul(tf.sub(1, valid), MASKED_SCORE).reshape([1, 2, 1, 7]);
  const probs = maskedSoftmax(attentionScores(q as tf.Tensor2D, k as tf.Tensor2D, dims, 0.5), dims, bias, null);
  const out = attentionValues(probs, v as tf.Tensor2D, dims);
  // Both outputs matter: the distillation loss differentiates the maps too.
  return tf.concat([out.reshape([-1]), probsToMaps(probs, dims).reshape([-1])]);
};

/** The same with batched matMul in [B, H, T, dh] and a `where` mask. */
const plainAttention: Op = ([q, k, v]) => {
  const { batch: b, queryLen: tq, keyLen: tk, heads: h, headSize: dh } = dims;
  // rows are time-major (t·B + b): [T, B, H, dh] → [B, H, T, dh]
  const split = (t: tf.Tensor, len: number) => tf.transpose(t.reshape([len, b, h, dh]), [1, 2, 0, 3]);
  const scores = tf.mul(tf.matMul(split(q, tq), split(k, tk), false, true), 0.5); // [B, H, Tq, Tk]
  const allowed = tf.broadcastTo(tf.tensor2d([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]]).cast('bool').reshape([b, 1, 1, tk]), scores.shape);
  const probs = tf.softmax(tf.where(allowed, scores, tf.fill(scores.shape, -Infinity)));
  const out = tf.transpose(tf.matMul(probs, split(v, tk)), [2, 0, 1, 3]).reshape([tq * b, h * dh]); // time-major
  return tf.concat([out.reshape([-1]), probs.reshape([-1])]);
};

const cases: { name: string; fast: Op; plain: Op; inputs: () => tf.Tensor[] }[] = [
  {
    name: 'linear with bias',
    fast: ([x, w, b]) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
    plain: ([x, w, b]) => tf.add(tf.matMul(x, w), b),
    inputs: () => [probeTensor([6, 5], 1), probeTensor([5, 4], 2), probeTensor([4], 3)],
  },
  {
    name: 'linear with bias, output wider than input (bias gradient from the augmented product)',
    fast: ([x, w, b]) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
    plain: ([x, w, b]) => tf.add(tf.matMul(x, w), b),
    inputs: () => [probeTensor([6, 3], 1), probeTensor([3, 7], 2), probeTensor([7], 3)],
  },
  {
    name: 'linear without bias',
    fast: ([x, w]) => linear(x as tf.Tensor2D, w as tf.Tensor2D),
    plain: ([x, w]) => tf.matMul(x, w),
    inputs: () => [probeTensor([6, 5], 1), probeTensor([5, 4], 2)],
  },
  {
    name: 'layerNorm',
    fast: ([x, g, b]) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D),
    plain: ([x, g, b]) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
    },
    inputs: () => [tf.mul(probeTensor([6, 8], 4), 3), tf.add(probeTensor([8], 5), 1), probeTensor([8], 6)],
  },
  {
    name: 'gelu (sigmoid form) vs the tanh formula',
    fast: ([x]) => gelu(x),
    plain: ([x]) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))),
    inputs: () => [tf.mul(probeTensor([7, 9], 7), 4)],
  },
  {
    name: 'embeddingLookup (repeated ids)',
    fast: ([ids, t]) => embeddingLookup(ids as tf.Tensor1D, t as tf.Tensor2D),
    plain: ([ids, t]) => tf.gather(t, ids),
    inputs: () => [tf.tensor1d([3, 0, 3, 5, 1, 3], 'int32'), probeTensor([6, 4], 8)],
  },
  {
    name: 'attention core (scores, masked softmax, values, maps)',
    fast: fastAttention,
    plain: plainAttention,
    inputs: () => [probeTensor([2 * 5, width], 9), probeTensor([2 * 7, width], 10), probeTensor([2 * 7, width], 11)],
  },
];

beforeAll(async () => {
  await initBackend();
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

describe.each(cases)('$name', ({ fast, plain, inputs }) => {
  it('matches tf autodiff of the plain formulation (cpu)', async () => {
    await tf.setBackend('cpu');
    const xs = inputs();
    expectSame(valueAndGrads(fast, xs), valueAndGrads(plain, xs), 1e-5, 1e-5);
    tf.dispose(xs);
  });

  it('gives the same values and gradients on wasm as on cpu', async () => {
    await tf.setBackend('cpu');
    const xsCpu = inputs();
    const onCpu = valueAndGrads(fast, xsCpu);
    tf.dispose(xsCpu);
    await tf.setBackend('wasm');
    const xsWasm = inputs();
    const onWasm = valueAndGrads(fast, xsWasm);
    tf.dispose(xsWasm);
    expectSame(onWasm, onCpu, 1e-5, 1e-4);
  });
});

describe('dropoutMask', () => {
  it('keeps about 1 − rate of the elements, scaled by 1/(1 − rate), and repeats for the same seed', () => {
    const rate = 0.25;
    const m = dropoutMask([100, 100], rate, 42);
    const values = m.dataSync();
    const kept = values.filter((v) => v !== 0);
    expect(new Set(kept).size).toBe(1);
    expect(kept[0]).toBeCloseTo(1 / (1 - rate), 6);
    expect(Math.abs(kept.length / values.length - (1 - rate))).toBeLessThan(0.02);
    expect(Array.from(dropoutMask([100, 100], rate, 42).dataSync())).toEqual(Array.from(values));
    expect(Array.from(dropoutMask([100, 100], rate, 43).dataSync())).not.toEqual(Array.from(values));
    m.dispose();
  });
});
