/**
 * The performance rewrite of attentionDistillationLoss must not change any result beyond
 * float32 rounding: every variant, through the public function, against the op-by-op
 * reference implementation it replaced (reference-attention-loss.ts), loss and gradients
 * (student maps; for 'projected' also the projection's W and b, whose product has its own
 * hand-written gradient in projection.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { ATTENTION_VARIANTS, attentionDistillationLoss, createProjection, type AttentionLossOptions, type ProjectionParams } from '../../../trainer/distill';
import { referenceAttentionLoss } from './reference-attention-loss';

function randomMaps(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.softmax(tf.randomNormal(shape, 0, 2, 'float32', seed), -1)) as tf.Tensor4D;
}

function relativeDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.norm(b)).dataSync()[0]);
}

let projection: ProjectionParams;
beforeAll(async () => {
  await initBackend();
  // A trained-looking projection (not the identity), so that 'projected' differs from 'kl'.
  projection = createProjection('reference-equivalence', 6 * 7);
  projection.W.assign(tf.tidy(() => tf.add(tf.eye(42), tf.randomUniform([42, 42], 0, 0.05, 'float32', 9))) as tf.Tensor2D);
});
afterAll(() => tf.dispose([projection.W, projection.b]));

describe.each([
  ['no mask', null],
  ['padded rows', [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]]],
] as const)('%s', (_name, mask) => {
  test.each(ATTENTION_VARIANTS)('%s: same loss and gradient as the reference', (variant) => {
    const teacher = randomMaps([3, 5, 6, 7], 11);
    const student = randomMaps([3, 3, 6, 7], 12);
    const queryMask = mask === null ? null : (tf.tensor2d(mask.map((r) => [...r])) as tf.Tensor2D);
    const options: AttentionLossOptions = { variant, queryMask, temperature: 0.7, ...(variant === 'projected' ? { projection } : {}) };
    // Gradients w.r.t. the student maps, and the projection's W and b for 'projected'.
    const xs: tf.Tensor[] = [student, ...(variant === 'projected' ? [projection.W, projection.b] : [])];
    const fast = tf.valueAndGrads((s: tf.Tensor) => attentionDistillationLoss(teacher, s as tf.Tensor4D, options))(xs);
    const reference = tf.valueAndGrads((s: tf.Tensor) => referenceAttentionLoss(teacher, s as tf.Tensor4D, options))(xs);
    const [got, want] = [fast.value.dataSync()[0], reference.value.dataSync()[0]];
    expect(Math.abs(got - want) / want).toBeLessThan(1e-5);
    fast.grads.forEach((g, k) => {
      expect(g.shape).toEqual(xs[k].shape);
      expect(relativeDiff(g, reference.grads[k])).toBeLessThan(1e-5);
    });
    tf.dispose([teacher, student, queryMask ?? [], fast.value, ...fast.grads, reference.value, ...reference.grads]);
  });
});
