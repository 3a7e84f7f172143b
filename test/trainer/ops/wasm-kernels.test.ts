/** The zero-copy Identity keeps tf.clone's semantics on wasm: clones outlive and are independent of their source. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { installZeroCopyIdentity } from '../../../trainer/ops';

beforeAll(async () => {
  await initBackend();
  await tf.setBackend('wasm');
  installZeroCopyIdentity();
});

describe('zero-copy Identity on wasm', () => {
  it('is installed once and idempotently', () => {
    const kernel = tf.getKernel('Identity', 'wasm');
    installZeroCopyIdentity();
    expect(tf.getKernel('Identity', 'wasm').kernelFunc).toBe(kernel.kernelFunc);
  });

  it('a clone keeps its values after the source is disposed', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
  });

  it('a clone of a variable keeps the old value after the variable is assigned', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'zero-copy-test');
    const snapshot = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    tf.dispose([snapshot, v]);
  });

  it('shares the buffer and frees it when the last reference goes', () => {
    const backend = tf.engine().backend;
    const before = backend.numDataIds();
    const a = tf.zeros([1000]);
    const b = tf.clone(a);
    expect(backend.numDataIds() - before).toBe(1); // one buffer, two tensors
    a.dispose();
    expect(Array.from(b.dataSync().slice(0, 2))).toEqual([0, 0]);
    b.dispose();
    expect(backend.numDataIds()).toBe(before);
  });
});
