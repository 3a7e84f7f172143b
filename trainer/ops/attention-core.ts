/**
 * Scaled dot-product attention core for many heads at once, without batched matMul.
 *
 * Layout: the B·H (batch × head) pairs are the *channels* C of a depthwise convolution. With
 * `x` as an image `[1, M, K, C]` and `y` as a filter `[1, K, C, N]` (channel multiplier N),
 * a 'valid' depthwiseConv2d computes
 *     out[i, c, j] = Σ_k x[i, k, c] · y[k, c, j]                        (`channelMatMul`)
 * i.e. C independent [M, K] @ [K, N] products. On wasm this ran 2.5–4× faster than the batched
 * matMul (which falls back to a scalar loop), see TFJS-NOTES.md. The convolution gradients are
 * missing on wasm, so both products below (scores = Q Kᵀ, output = P V) have hand-written
 * gradients, which are again channelMatMuls.
 *
 * Activations are time-major (row t·B + b of a `[T·B, H·dh]` matrix), so a projection's output
 * already is `[T, C, dh]`: most operands need no transpose, and the products write their
 * results in the row layout the next linear layer reads. Only the probabilities need one
 * transpose per direction. Probabilities live in the layout `[Tq, C, Tk]` (C = B·H,
 * batch-major); `probsToMaps` turns them into the public `[B, H, Q, K]` maps.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom-op';

/** Additive score bias of a masked key: exp(−1e9 + s − max) underflows to exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

/** `out[i, c, j] = Σ_k x[i, k, c] · y[k, c, j]` — x `[M, K, C]`, y `[K, C, N]` → `[M, C, N]`. */
export function channelMatMul(x: tf.Tensor3D, y: tf.Tensor3D): tf.Tensor3D {
  const [m, k, c] = x.shape;
  const [k2, c2, n] = y.shape;
  if (k !== k2 || c !== c2) throw new Error(`channelMatMul: x [${x.shape}] and y [${y.shape}] disagree on K or C`);
  const out = tf.depthwiseConv2d(x.reshape([1, m, k, c]) as tf.Tensor4D, y.reshape([1, k, c, n]) as tf.Tensor4D, 1, 'valid'); // [1, M, 1, C·N]
  return out.reshape([m, c, n]);
}

/** Head geometry of one attention call. */
export interface AttentionDims {
  readonly batch: number;
  readonly queryLen: number;
  readonly keyLen: number;
  readonly heads: number;
  /** Per-head size dh = width / heads. */
  readonly headSize: number;
}

/**
 * Attention scores `scale · Q Kᵀ` per (batch, head).
 * @param q `[Tq·B, H·dh]`, rows time-major (row t·B + b), i.e. `[Tq, C, dh]`
 * @param k `[Tk·B, H·dh]`, time-major
 * @returns `[Tq, B·H, Tk]`
 */
export function attentionScores(q: tf.Tensor2D, k: tf.Tensor2D, dims: AttentionDims, scale: number): tf.Tensor3D {
  const { batch: b, queryLen: tq, keyLen: tk, heads: h, headSize: dh } = dims;
  const c = b * h;
  const op = customOp(([qIn, kIn], save) => {
    save([qIn, kIn]);
    // The scale multiplies Q (B·Tq·d elements) rather than the scores (B·H·Tq·Tk, up to H× more).
    const qX = tf.mul(tf.transpose(qIn.reshape([tq, c, dh]), [0, 2, 1]), scale) as tf.Tensor3D; // [Tq, dh, C], scaled
    const kY = tf.transpose(kIn.reshape([tk, c, dh]), [2, 1, 0]) as tf.Tensor3D; // [dh, C, Tk]
    return {
      value: channelMatMul(qX, kY), // [Tq, C, Tk]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [qs, ks] = saved;
        const dS = dy as tf.Tensor3D; // [Tq, C, Tk]
        // dQ[q, c, :] = scale · Σ_k dS[q, c, k] K[k, c, :]  → [Tq, C, dh], already the row layout of q
        const dQ = tf.mul(channelMatMul(tf.transpose(dS, [0, 2, 1]) as tf.Tensor3D, ks.reshape([tk, c, dh]) as tf.Tensor3D), scale);
        // dK[k, c, :] = Σ_q dS[q, c, k] · scale · Q[q, c, :]  → computed as [dh, C, Tk] with dS as the filter (no transpose of dS)
        const qT = tf.mul(tf.transpose(qs.reshape([tq, c, dh]), [2, 0, 1]), scale) as tf.Tensor3D; // [dh, Tq, C], scaled
        const dKt = channelMatMul(qT, dS); // [dh, C, Tk]
        return [dQ.reshape([tq * b, h * dh]), tf.transpose(dKt, [2, 1, 0]).reshape([tk * b, h * dh])];
      },
    };
  });
  return op(q, k) as tf.Tensor3D;
}

/**
 * Attention output `P V` per (batch, head), heads concatenated.
 * @param probs `[Tq, B·H, Tk]`
 * @param v `[Tk·B, H·dh]`, time-major
 * @returns `[Tq·B, H·dh]`, time-major
 */
export function attentionValues(probs: tf.Tensor3D, v: tf.Tensor2D, dims: AttentionDims): tf.Tensor2D {
  const { batch: b, queryLen: tq, keyLen: tk, heads: h, headSize: dh } = dims;
  const c = b * h;
  const op = customOp(([pIn, vIn], save) => {
    save([pIn, vIn]);
    const pX = tf.transpose(pIn, [0, 2, 1]) as tf.Tensor3D; // [Tq, Tk, C]
    const out = channelMatMul(pX, vIn.reshape([tk, c, dh]) as tf.Tensor3D); // [Tq, C, dh]
    return {
      value: out.reshape([tq * b, h * dh]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ps, vs] = saved as [tf.Tensor3D, tf.Tensor2D];
        const dO = dy.reshape([tq, c, dh]); // [Tq, C, dh]
        // dP[q, c, k] = Σ_d dO[q, c, d] V[k, c, d]
        const dOx = tf.transpose(dO, [0, 2, 1]) as tf.Tensor3D; // [Tq, dh, C]
        const vY = tf.transpose(vs.reshape([tk, c, dh]), [2, 1, 0]) as tf.Tensor3D; // [dh, C, Tk]
        const dP = channelMatMul(dOx, vY); // [Tq, C, Tk]
        // dV[k, c, :] = Σ_q P[q, c, k] dO[q, c, :]  → computed as [dh, C, Tk] with P as the filter (no transpose of P)
        const dOt = tf.transpose(dO, [2, 0, 1]) as tf.Tensor3D; // [dh, Tq, C]
        const dVt = channelMatMul(dOt, ps); // [dh, C, Tk]
        return [dP, tf.transpose(dVt, [2, 1, 0]).reshape([tk * b, h * dh])];
      },
    };
  });
  return op(probs, v) as tf.Tensor2D;
}

/**
 * Softmax over keys with an additive mask.
 * @param scores `[Tq, B·H, Tk]`
 * @param bias `[Tq | 1, B | 1, 1, Tk]` additive (0 or MASKED_SCORE), or null
 * @param keyKeep `[1, B, 1, Tk]` 0/1, multiplied after the softmax so that a row with no valid
 *   key at all (possible only for padded queries of an all-padding sequence) is all zeros
 *   rather than uniform over padding; null when every row has a valid key by construction.
 * @returns probabilities `[Tq, B·H, Tk]`, exactly 0 on masked keys
 */
export function maskedSoftmax(scores: tf.Tensor3D, dims: AttentionDims, bias: tf.Tensor | null, keyKeep: tf.Tensor | null): tf.Tensor3D {
  const { batch: b, queryLen: tq, keyLen: tk, heads: h } = dims;
  let s: tf.Tensor = scores;
  if (bias) s = tf.add(s.reshape([tq, b, h, tk]), bias).reshape([tq, b * h, tk]);
  let p: tf.Tensor = tf.softmax(s);
  if (keyKeep) p = tf.mul(p.reshape([tq, b, h, tk]), keyKeep).reshape([tq, b * h, tk]);
  return p as tf.Tensor3D;
}

/** `[Tq, B·H, Tk]` → the public map layout `[B, H, Q, K]`. */
export function probsToMaps(probs: tf.Tensor3D, dims: AttentionDims): tf.Tensor4D {
  const { batch: b, queryLen: tq, keyLen: tk, heads: h } = dims;
  return tf.transpose(probs.reshape([tq, b, h, tk]), [1, 2, 0, 3]);
}
