/** wasm and cpu compute the same logits, maps and gradients (float32 tolerance). */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { VLModel } from '../../../trainer/model';
import { disposeInputs, maxAbsDiff, probeLoss, relativeError, tinyConfig, tinyInputs, type Fusion } from './fixtures';

interface Snapshot {
  answerLogits: Float32Array;
  lmLogits?: Float32Array;
  maps: Float32Array[];
  grads: Record<string, Float32Array>;
}

function snapshot(model: VLModel, fusion: Fusion): Snapshot {
  const config = model.config;
  const inputs = tinyInputs(config);
  const snap = tf.tidy(() => {
    const out = model.apply(inputs, { training: false, returnAttention: true });
    const maps = Object.values(out.attention).flatMap((ms) => ms!.map((m) => m.dataSync() as Float32Array));
    const { grads } = tf.variableGrads(() => probeLoss(model.apply(inputs, { training: false, returnAttention: true })), model.trainableWeights);
    return {
      answerLogits: out.answerLogits!.dataSync() as Float32Array,
      lmLogits: out.lmLogits?.dataSync() as Float32Array | undefined,
      maps,
      grads: Object.fromEntries(model.namedWeights().map((w) => [w.name, grads[w.tensor.name].dataSync() as Float32Array])),
    };
  });
  disposeInputs(inputs);
  expect(fusion).toBe(config.fusion);
  return snap;
}

beforeAll(async () => {
  await initBackend(); // wasm under jest
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

describe.each<Fusion>(['single-stream', 'two-stream'])('%s with decoder', (fusion) => {
  it('wasm and cpu agree on logits, maps and gradients', async () => {
    const config = tinyConfig(fusion, true);
    const model = new VLModel(config, { seed: 11, name: `agree-${fusion}` });
    await tf.setBackend('wasm');
    const onWasm = snapshot(model, fusion);
    await tf.setBackend('cpu');
    const onCpu = snapshot(model, fusion);
    await tf.setBackend('wasm');
    model.dispose();

    expect(maxAbsDiff(onWasm.answerLogits, onCpu.answerLogits)).toBeLessThan(1e-5);
    expect(maxAbsDiff(onWasm.lmLogits!, onCpu.lmLogits!)).toBeLessThan(1e-5);
    expect(onWasm.maps.length).toBe(onCpu.maps.length);
    onWasm.maps.forEach((m, i) => expect(maxAbsDiff(m, onCpu.maps[i])).toBeLessThan(1e-5));
    for (const [name, g] of Object.entries(onCpu.grads)) {
      if (name.endsWith('/key/b')) continue; // analytically zero: both sides are rounding noise (see reference.test.ts)
      const err = relativeError(onWasm.grads[name], g);
      if (!(err < 1e-4)) throw new Error(`gradient of ${name}: wasm vs cpu relative error ${err}`);
    }
  });
});
