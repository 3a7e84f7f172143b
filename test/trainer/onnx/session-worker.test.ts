/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * ONNX Runtime sessions run on the session worker (trainer/onnx/session-worker.ts): results
 * come back as the session's own would, errors name ONNX Runtime's reason, a released session
 * refuses to run, and the worker — not the JavaScript thread — flushes denormals to zero.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createOnnxSession, loadOnnxRuntime, type OnnxRuntimeStatus } from '../../../trainer/onnx/runtime';
import { timesOneModel } from './fixtures/times-one';

const REPO = path.resolve(__dirname, '../../..');

/** What fixtures/denormal-probe.ts reports from a fresh process. */
function probe(thread: 'worker' | 'caller'): { session: number[]; mainThreadKeepsDenormals: boolean } {
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'fixtures', 'denormal-probe.ts'), thread], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`denormal probe exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

let rt: Extract<OnnxRuntimeStatus, { available: true }>;

beforeAll(() => {
  const status = loadOnnxRuntime(() => {});
  if (!status.available) throw new Error(`ONNX Runtime must load in the tests: ${status.reason}`);
  rt = status;
});

test('a session on the worker returns its outputs as ONNX Runtime tensors, and lists its inputs', async () => {
  const { session } = await createOnnxSession(rt, timesOneModel(), { threads: 1 });
  try {
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
    expect(session.inputMetadata).toEqual([{ name: 'x', isTensor: true, shape: ['N'] }]);
    // A view into a larger buffer is sent as its own bytes only.
    const big = new Float32Array([9, 1.5, -2, 3, 9]);
    const out = await session.run({ x: new rt.ort.Tensor('float32', big.subarray(1, 4), [3]) }, ['y']);
    expect(out.y).toBeInstanceOf(rt.ort.Tensor);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([1.5, -2, 3]);
    expect(out.y!.dims).toEqual([3]);
  } finally {
    await session.release();
  }
});

test('ONNX Runtime errors come back with its reason; a released session refuses to run', async () => {
  const { session } = await createOnnxSession(rt, timesOneModel(), { threads: 1 });
  await expect(session.run({ x: new rt.ort.Tensor('int32', new Int32Array([1]), [1]) }, ['y'])).rejects.toThrow(/session worker.*(type|tensor\(int32\))/is);
  await session.release();
  await expect(session.run({ x: new rt.ort.Tensor('float32', new Float32Array([1]), [1]) }, ['y'])).rejects.toThrow(/not open/);
  await expect(createOnnxSession(rt, new Uint8Array([1, 2, 3]), { threads: 1 })).rejects.toThrow(/session worker/);
});

test('denormals are flushed to zero on the session worker only, never on this thread', () => {
  // The stages' sessions (worker): ONNX Runtime flushes; the JavaScript thread (TensorFlow.js wasm runs here) keeps IEEE denormals.
  const worker = probe('worker');
  expect(worker.session).toEqual([0, 2]);
  expect(worker.mainThreadKeepsDenormals).toBe(true);
  // A session on this thread does not flush (decoding steps): the output keeps the denormal.
  const caller = probe('caller');
  expect(caller.session[0]).toBeGreaterThan(0);
  expect(caller.mainThreadKeepsDenormals).toBe(true);
});
