/** one-to-one on a chosen subset of teacher heads (teacherHeads), and its validation. */
import * as tf from '@tensorflow/tfjs';
import { attentionDistillationLoss } from '../../../trainer/distill';
import { parseJobSpec } from '../../../contract/spec';

/** Random attention maps: rows are distributions over keys. `[B, H, Q, K]` */
const maps = (seed: number, B: number, H: number, Q: number, K: number) => tf.tidy(() => tf.softmax(tf.randomNormal([B, H, Q, K], 0, 1, 'float32', seed), -1) as tf.Tensor4D);

test('teacherHeads [2, 3] pairs student heads 0, 1 with teacher heads 2, 3', () => {
  const t = maps(1, 2, 4, 3, 5);
  const s = maps(2, 2, 2, 3, 5);
  const picked = attentionDistillationLoss(t, s, { variant: 'one-to-one', teacherHeads: [2, 3] }).dataSync()[0]!;
  // The default pairing on a teacher whose first two heads ARE heads 2 and 3.
  const reordered = tf.gather(t, [2, 3], 1) as tf.Tensor4D;
  const expected = attentionDistillationLoss(reordered, s, { variant: 'one-to-one' }).dataSync()[0]!;
  expect(picked).toBeCloseTo(expected, 6);
  // ...and it differs from the default (heads 0, 1) on these maps.
  expect(Math.abs(picked - attentionDistillationLoss(t, s, { variant: 'one-to-one' }).dataSync()[0]!)).toBeGreaterThan(1e-4);
  // The default is teacherHeads [0, 1].
  expect(attentionDistillationLoss(t, s, { variant: 'one-to-one', teacherHeads: [0, 1] }).dataSync()[0]).toBeCloseTo(attentionDistillationLoss(t, s, { variant: 'one-to-one' }).dataSync()[0]!, 6);
});

test('bad teacherHeads are refused naming the option', () => {
  const t = maps(1, 1, 4, 2, 2);
  const s = maps(2, 1, 2, 2, 2);
  for (const bad of [[4, 0], [1, 1], [0, 1, 2], [-1], []]) {
    expect(() => attentionDistillationLoss(t, s, { variant: 'one-to-one', teacherHeads: bad })).toThrow(/teacherHeads must list 1 to 2 distinct teacher heads in \[0, 4\)/);
  }
});

test('the spec accepts teacherHeads for one-to-one only', () => {
  const spec = (distill: Record<string, unknown>) => ({ version: 1, data: { format: 'synthetic', task: 'vqa' }, teacher: { checkpoint: 's3://b/t' }, students: [{ name: 's', model: { heads: { fusion: 2 } }, distill }] });
  expect(parseJobSpec(spec({ variant: 'one-to-one', teacherHeads: [6, 7] })).students[0]!.distill.teacherHeads).toEqual([6, 7]);
  expect(() => parseJobSpec(spec({ variant: 'kl', teacherHeads: [6, 7] }))).toThrow(/students\.0\.distill\.teacherHeads: teacherHeads only applies to variant "one-to-one"/);
  expect(() => parseJobSpec(spec({ variant: 'one-to-one', teacherHeads: [1, 1] }))).toThrow(/teacherHeads must be distinct/);
});
