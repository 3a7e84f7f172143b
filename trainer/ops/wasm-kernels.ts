/**
 * Zero-copy `Identity` for the wasm backend.
 *
 * Why: every tensor a gradient needs is saved through `tf.clone` (the Identity kernel) —
 * tf's own kernels and `customGrad` alike. The stock wasm Identity copies the buffer; at the
 * reference shapes a training step saves a few hundred activations (~1–5 MB each), and the
 * copies cost tens of ms per step. The cpu backend's Identity instead shares the buffer and
 * bumps its reference count; tensors are immutable (Variable.assign swaps the buffer, it does
 * not write into it) and the wasm backend reference-counts buffers (`incRef`, used by its own
 * Reshape), so sharing is safe there too. This installs exactly the cpu backend's behaviour.
 */
import * as tf from '@tensorflow/tfjs';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

const shareBuffer: tf.KernelFunc = ({ inputs, backend }) => {
  const x = inputs.x as tf.TensorInfo;
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/**
 * Replaces wasm's copying Identity with the buffer-sharing one; a no-op when the wasm backend
 * is not registered or the kernel is already installed. Cheap: call it before each forward.
 */
export function installZeroCopyIdentity(): void {
  const current = tf.getKernel('Identity', 'wasm');
  if (!current || current.kernelFunc === shareBuffer) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: shareBuffer });
}
