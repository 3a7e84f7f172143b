/** Jest: ts-jest without type-checking (tsc --noEmit runs first in `npm test`). */
/** @type {import('jest').Config} */
module.exports = {
  // node, with the process's typed-array constructors shared into the sandbox: the inference
  // stages run ONNX Runtime in-process (evaluation, cache, latency — also inside the local
  // executor's handlers), and its addon's output arrays must pass onnxruntime-common's
  // `instanceof Float32Array` (test/helpers/onnx-environment.js says why).
  testEnvironment: '<rootDir>/test/helpers/onnx-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 120000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/setup-env.ts'],
};
