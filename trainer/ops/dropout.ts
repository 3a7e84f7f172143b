/**
 * Seeded inverted dropout whose mask is generated in JavaScript by a small counter-based PRNG.
 *
 * Why not tf.dropout: with a fixed seed it repeats the same mask on every call, so each call
 * site needs its own derived seed anyway; generating the mask here makes it identical on every
 * backend, cheap (a tight typed-array loop), and fully determined by `(seed, site)`.
 */
import * as tf from '@tensorflow/tfjs';

/** 32-bit integer mix (the murmur3 finaliser): spreads a seed or counter over all bits. */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A per-site seed derived from a step seed and the site's index in the forward pass. */
export function deriveSeed(stepSeed: number, site: number): number {
  return mix32(mix32(stepSeed >>> 0) ^ Math.imul(site + 1, 0x9e3779b1));
}

/**
 * Keep-mask scaled by 1/(1 − rate): each element is 0 with probability `rate`, else 1/(1 − rate).
 * xorshift32 seeded from `seed`; same seed → same mask on every backend. (~2 ms for 330 k
 * elements on wasm; tf.randomUniform alone takes longer.)
 */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  const keep = 1 / (1 - rate);
  // Keep when the 32-bit random number ≥ rate·2³².
  const threshold = Math.floor(rate * 4294967296);
  let s = mix32(seed) || 0x6d2b79f5;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    values[i] = s >>> 0 >= threshold ? keep : 0;
  }
  return tf.tensor(values, shape, 'float32');
}

/** `x · mask` (inverted dropout); identity when `rate` is 0. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (rate === 0) return x;
  return tf.mul(x, dropoutMask(x.shape, rate, seed)) as T;
}
