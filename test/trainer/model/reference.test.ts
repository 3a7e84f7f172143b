/**
 * The fast model (custom gradients, depthwise-conv attention, channel-major layouts) against an
 * independent plain formulation with tf's own autodiff, on the cpu backend: same logits, same
 * attention maps, same gradients for every weight.
 */
import * as tf from '@tensorflow/tfjs';
import { VLModel } from '../../../trainer/model';
import { referenceForward, type Weights } from './reference-model';
import { disposeInputs, maxAbsDiff, probeLoss, relativeError, tinyConfig, tinyInputs, type Fusion } from './fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each<[Fusion, boolean]>([
  ['single-stream', false],
  ['single-stream', true],
  ['two-stream', false],
  ['two-stream', true],
])('VLModel %s (decoder: %s) matches the plain reference on cpu', (fusion, withDecoder) => {
  it('logits, maps and gradients agree', () => {
    // GIVEN a tiny model and inputs with text and target padding
    const config = tinyConfig(fusion, withDecoder);
    const model = new VLModel(config, { seed: 7, name: `ref-${fusion}-${withDecoder}` });
    const inputs = tinyInputs(config);
    const weights: Weights = Object.fromEntries(model.namedWeights().map((w) => [w.name, w.tensor]));
    tf.tidy(() => {
      // WHEN both forward passes run (no dropout)
      const fast = model.apply(inputs, { training: false, returnAttention: true });
      const ref = referenceForward(config, weights, inputs);
      // THEN outputs agree
      expect(fast.answerLogits!.shape).toEqual(ref.answerLogits!.shape);
      expect(maxAbsDiff(fast.answerLogits!.dataSync(), ref.answerLogits!.dataSync())).toBeLessThan(1e-5);
      expect(maxAbsDiff(fast.encoderOutput.dataSync(), ref.encoderOutput.dataSync())).toBeLessThan(1e-5);
      if (withDecoder) expect(maxAbsDiff(fast.lmLogits!.dataSync(), ref.lmLogits!.dataSync())).toBeLessThan(1e-5);
      for (const [kind, maps] of Object.entries(ref.attention)) {
        const mine = fast.attention[kind as keyof typeof fast.attention]!;
        expect(mine).toHaveLength(maps!.length);
        maps!.forEach((m, i) => {
          expect(mine[i].shape).toEqual(m.shape);
          expect(maxAbsDiff(mine[i].dataSync(), m.dataSync())).toBeLessThan(1e-6);
        });
      }
      // AND the gradients of a probe loss (through logits and every map) agree for every weight
      const fastGrads = tf.variableGrads(() => probeLoss(model.apply(inputs, { training: false, returnAttention: true })), model.trainableWeights);
      const refGrads = tf.variableGrads(() => probeLoss(referenceForward(config, weights, inputs)), model.trainableWeights);
      // Relative error per weight, except that the attention key biases have an analytically
      // zero gradient (softmax is shift-invariant over keys): there both sides are rounding
      // noise, so they are held to an absolute bound scaled by the whole gradient's norm.
      const globalNorm = Math.sqrt(Object.values(refGrads.grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0], 0));
      for (const { name, tensor } of model.namedWeights()) {
        const g = fastGrads.grads[tensor.name];
        const r = refGrads.grads[tensor.name];
        expect({ name, shape: g.shape }).toEqual({ name, shape: r.shape });
        if (name.endsWith('/key/b')) {
          expect(Math.sqrt(tf.sum(tf.square(g)).dataSync()[0])).toBeLessThan(1e-6 * globalNorm);
          continue;
        }
        const err = relativeError(g.dataSync(), r.dataSync());
        if (!(err < 1e-4)) throw new Error(`gradient of ${name} differs: relative error ${err}`);
      }
    });
    disposeInputs(inputs);
    model.dispose();
  });
});
