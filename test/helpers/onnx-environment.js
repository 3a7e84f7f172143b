/**
 * Jest environment for tests that run ONNX Runtime in-process. onnxruntime-node's addon builds
 * its output tensors with the process's own typed-array constructors, and onnxruntime-common
 * checks `data instanceof Float32Array` against the test sandbox's: they differ under jest's
 * default node environment, so every run fails with "A float32 tensor's data must be type of
 * Float32Array". Sharing the real constructors with the sandbox removes the mismatch; it is
 * what a plain `node` process (the stages in production) has anyway.
 * Use with a `@jest-environment ./test/helpers/onnx-environment.js` docblock.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'ArrayBuffer'];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxEnvironment;
