/** MiniLMv2-style relation distillation against a plain-JavaScript float64 reference. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { relationDistillationLoss, type QKV, type Relation } from '../../../trainer/distill';

beforeAll(async () => {
  await initBackend();
});

function randomQKV(B: number, T: number, d: number, seed: number): QKV {
  return {
    q: tf.randomNormal([B, T, d], 0, 1, 'float32', seed) as tf.Tensor3D,
    k: tf.randomNormal([B, T, d], 0, 1, 'float32', seed + 1) as tf.Tensor3D,
    v: tf.randomNormal([B, T, d], 0, 1, 'float32', seed + 2) as tf.Tensor3D,
  };
}
const disposeQKV = (x: QKV) => tf.dispose([x.q, x.k, x.v]);

/** Relation distribution of head r, row i, as the definition reads (float64). */
function relationRow(x: number[][], r: number, R: number, i: number, valid: number[]): number[] {
  const dr = x[0].length / R;
  const head = (t: number) => x[t].slice(r * dr, (r + 1) * dr);
  const scores = x.map((_, j) => head(i).reduce((acc, a, c) => acc + a * head(j)[c], 0) / Math.sqrt(dr));
  const max = Math.max(...scores.filter((_, j) => valid[j]));
  const e = scores.map((s, j) => (valid[j] ? Math.exp(s - max) : 0));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

function referenceLoss(t: QKV, s: QKV, R: number, mask: number[][], relations: Relation[]): number {
  let total = 0;
  for (const rel of relations) {
    const name = rel[0] as 'q' | 'k' | 'v';
    const tx = t[name].arraySync();
    const sx = s[name].arraySync();
    let perBatch = 0;
    for (let b = 0; b < tx.length; b++) {
      let perHead = 0;
      for (let r = 0; r < R; r++) {
        let rows = 0;
        let sum = 0;
        for (let i = 0; i < tx[b].length; i++) {
          if (!mask[b][i]) continue;
          const p = relationRow(tx[b], r, R, i, mask[b]);
          const q = relationRow(sx[b], r, R, i, mask[b]);
          sum += p.reduce((acc, pk, k) => (pk > 0 ? acc + pk * Math.log(pk / q[k]) : acc), 0);
          rows++;
        }
        perHead += sum / rows;
      }
      perBatch += perHead / R;
    }
    total += perBatch / tx.length;
  }
  return total / relations.length;
}

describe('relationDistillationLoss', () => {
  const B = 2;
  const T = 5;
  const R = 2;
  const maskRows = [
    [1, 1, 1, 0, 0],
    [1, 1, 1, 1, 1],
  ];
  let teacher: QKV;
  let student: QKV;
  let mask: tf.Tensor2D;
  beforeAll(() => {
    teacher = randomQKV(B, T, 8, 1); // wider teacher
    student = randomQKV(B, T, 4, 10);
    mask = tf.tensor2d(maskRows);
  });
  afterAll(() => {
    disposeQKV(teacher);
    disposeQKV(student);
    mask.dispose();
  });

  test.each([[['qq', 'kk', 'vv']], [['qq']], [['vv', 'kk']]] as Relation[][][])('matches the float64 reference for relations %j', (relations) => {
    const loss = relationDistillationLoss(teacher, student, { relationHeads: R, queryMask: mask, relations });
    expect(loss.dtype).toBe('float32');
    expect(loss.shape).toEqual([]);
    const expected = referenceLoss(teacher, student, R, maskRows, relations);
    expect(Math.abs(loss.dataSync()[0] - expected) / expected).toBeLessThan(1e-5);
    loss.dispose();
  });

  test('without a mask every token counts', () => {
    const loss = relationDistillationLoss(teacher, student, { relationHeads: 4 });
    const expected = referenceLoss(teacher, student, 4, [Array(T).fill(1), Array(T).fill(1)], ['qq', 'kk', 'vv']);
    expect(Math.abs(loss.dataSync()[0] - expected) / expected).toBeLessThan(1e-5);
    loss.dispose();
  });

  test('is 0 for identical inputs and ignores values of padded tokens', () => {
    const same = relationDistillationLoss(teacher, teacher, { relationHeads: R, queryMask: mask });
    expect(same.dataSync()[0]).toBeCloseTo(0, 6);
    const padded = tf.reshape(tf.sub(1, mask), [B, T, 1]);
    const noisy: QKV = {
      q: tf.add(student.q, tf.mul(padded, 7)) as tf.Tensor3D,
      k: tf.add(student.k, tf.mul(padded, -3)) as tf.Tensor3D,
      v: student.v,
    };
    const a = relationDistillationLoss(teacher, student, { relationHeads: R, queryMask: mask }).dataSync()[0];
    const b = relationDistillationLoss(teacher, noisy, { relationHeads: R, queryMask: mask }).dataSync()[0];
    expect(Math.abs(a - b)).toBeLessThan(1e-6);
    tf.dispose([same, padded, noisy.q, noisy.k]);
  });

  test('gradients reach the student only; nothing leaks', () => {
    const before = tf.memory().numTensors;
    const [gt, gs] = tf.grads((tq: tf.Tensor, sq: tf.Tensor) =>
      relationDistillationLoss({ ...teacher, q: tq as tf.Tensor3D }, { ...student, q: sq as tf.Tensor3D }, { relationHeads: R, queryMask: mask }),
    )([teacher.q, student.q]);
    expect(tf.tidy(() => tf.max(tf.abs(gt)).dataSync()[0])).toBe(0);
    expect(tf.tidy(() => tf.max(tf.abs(gs)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([gt, gs]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('input checks name the problem', () => {
    expect(() => relationDistillationLoss(teacher, student, { relationHeads: 3 })).toThrow(/relationHeads 3 must divide the width of teacherQKV.q \[2,5,8\]/);
    expect(() => relationDistillationLoss(teacher, student, { relationHeads: 2, relations: [] })).toThrow(/relations must be a non-empty list/);
    const wrongMask = tf.ones([2, 4]) as tf.Tensor2D;
    expect(() => relationDistillationLoss(teacher, student, { relationHeads: 2, queryMask: wrongMask })).toThrow(/queryMask \[2,4\] must be \[B, T\] = \[2,5\]/);
    const shortStudent = { ...student, v: tf.zeros([2, 4, 4]) as tf.Tensor3D };
    expect(() => relationDistillationLoss(teacher, shortStudent, { relationHeads: 2 })).toThrow(/studentQKV.v \[2,4,4\] must be \[B, T, d\]/);
    tf.dispose([wrongMask, shortStudent.v]);
  });
});
