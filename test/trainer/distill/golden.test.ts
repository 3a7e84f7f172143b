/**
 * AMAD losses against the float64 reference vectors in shared/golden/amad (METHOD.md "Test
 * vectors"), read at test time, on the wasm and the cpu backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers wasm even when AMAD_BACKEND selects cpu
import { initBackend } from '../../../trainer/backend';
import { attentionDistillationLoss, type AttentionVariant } from '../../../trainer/distill';
import { goldenDir } from '../../golden-dir';

const GOLDEN_DIR = goldenDir('amad', 'AMAD_GOLDEN_DIR');

interface Packed {
  shape: number[];
  data: number[];
}
interface GoldenCase {
  name?: string;
  teacher: Packed;
  student: Packed;
  queryMask: Packed | null;
  variant: AttentionVariant;
  temperature: number;
  detachWeights: boolean;
  loss: number;
  gradStudent: Packed;
}

const files = fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.json')).sort();
const cases: [string, GoldenCase][] = files.map((f) => [f, JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, f), 'utf8'))]);

function relativeDiff(actual: Float32Array | number[], expected: number[]): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    ref += expected[i] ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(ref);
}

test('golden vectors exist', () => {
  expect(cases.length).toBeGreaterThan(0);
});

describe.each(['wasm', 'cpu'])('golden AMAD vectors on %s', (backend) => {
  beforeAll(async () => {
    await initBackend();
    // Silences the cpu backend's "install tfjs-node" banner. (Not IS_TEST: that also turns on a
    // kernel leak check which, on stock wasm, misreports every customGrad that save()s a tensor,
    // because save() copies inside the kernel. Real leaks are caught by numTensors below.)
    tf.env().set('PROD', true);
    expect(await tf.setBackend(backend)).toBe(true);
  });

  test.each(cases)('%s', (_file, g) => {
    const teacher = tf.tensor4d(g.teacher.data, g.teacher.shape as [number, number, number, number]);
    const student = tf.tensor4d(g.student.data, g.student.shape as [number, number, number, number]);
    const queryMask = g.queryMask ? tf.tensor2d(g.queryMask.data, g.queryMask.shape as [number, number]) : null;
    const options = { variant: g.variant, temperature: g.temperature, detachWeights: g.detachWeights, queryMask };
    const before = tf.memory().numTensors;

    const loss = attentionDistillationLoss(teacher, student, options);
    const grad = tf.grad((s: tf.Tensor) => attentionDistillationLoss(teacher, s as tf.Tensor4D, options))(student);

    expect(loss.dtype).toBe('float32');
    expect(loss.shape).toEqual([]);
    expect(Math.abs(loss.dataSync()[0] - g.loss) / Math.abs(g.loss)).toBeLessThan(1e-4);
    expect(grad.shape).toEqual(g.gradStudent.shape);
    expect(relativeDiff(grad.dataSync() as Float32Array, g.gradStudent.data)).toBeLessThan(1e-3);
    tf.dispose([loss, grad]);
    expect(tf.memory().numTensors).toBe(before); // nothing leaks out of the loss or its gradient
    tf.dispose([teacher, student, queryMask ?? []]);
  });
});
