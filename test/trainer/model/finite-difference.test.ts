/**
 * Gradients of a tiny model against central finite differences (cpu backend, float32).
 * h = 1e-2 keeps float32 rounding (~1e-7 / h) far below the O(h²) truncation error of the
 * probe loss; the entries checked are the largest-gradient ones of several weights.
 */
import * as tf from '@tensorflow/tfjs';
import { VLModel } from '../../../trainer/model';
import { disposeInputs, probeLoss, tinyConfig, tinyInputs } from './fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it.each(['single-stream', 'two-stream'] as const)('%s: analytic gradients match central differences', (fusion) => {
  const config = tinyConfig(fusion, true, { width: 8, mlpWidth: 12, heads: { vision: 2, fusion: 2, decoder: 2 } });
  const model = new VLModel(config, { seed: 5, name: `fd-${fusion}` });
  const inputs = tinyInputs(config);
  const loss = () => tf.tidy(() => probeLoss(model.apply(inputs, { training: false, returnAttention: true })).dataSync()[0]);
  const { grads } = tf.variableGrads(() => probeLoss(model.apply(inputs, { training: false, returnAttention: true })), model.trainableWeights);
  const names = ['embedding/patch/w', 'embedding/token', 'vision/0/attention/query/w', 'fusion/1/mlp/hidden/w', 'decoder/0/crossAttention/value/w', 'decoder/0/selfNorm/gamma', 'head/answer/w'];
  const h = 1e-2;
  for (const name of names) {
    const v = model.namedWeights().find((w) => w.name === name)!.tensor;
    const g = grads[v.name].dataSync() as Float32Array;
    const i = g.reduce((best: number, x: number, j: number) => (Math.abs(x) > Math.abs(g[best]) ? j : best), 0);
    const original = v.dataSync().slice();
    const at = (delta: number) => {
      const changed = original.slice();
      changed[i] += delta;
      v.assign(tf.tensor(changed, v.shape));
      return loss();
    };
    const numeric = (at(h) - at(-h)) / (2 * h);
    v.assign(tf.tensor(original, v.shape));
    const err = Math.abs(numeric - g[i]) / Math.max(Math.abs(g[i]), 1e-3);
    if (!(err < 2e-2)) throw new Error(`${name}[${i}]: analytic ${g[i]} vs numeric ${numeric} (relative ${err})`);
  }
  tf.dispose(grads);
  disposeInputs(inputs);
  model.dispose();
});
