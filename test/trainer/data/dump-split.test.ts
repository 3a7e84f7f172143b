/**
 * `amad dump-split` (trainer/data/dump-split.ts): a prepared split as raw little-endian arrays
 * plus JSON, for training a teacher in another framework. The arrays hold exactly what training
 * batches hold, in example order.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toUri } from '../../../contract/storage';
import { initBackend } from '../../../trainer/backend';
import { openDataset } from '../../../trainer/data/dataset';
import { dumpSplit, SPLIT_DUMP_FORMAT } from '../../../trainer/data/dump-split';
import { prepareData } from '../../../trainer/data/prepare';

let dir: string;
beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(path.join(tmpdir(), 'amad-dump-'));
  await prepareData({ format: 'synthetic', task: 'vqa', seed: 3, train: 40, val: 8, test: 8, imageSize: 16, maxTextLength: 8, shardSize: 16 }, toUri(path.join(dir, 'data')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (file: string) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const i32 = (file: string) => {
  const b = readFileSync(file);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

test('the train split (across shards) dumps to the arrays training batches hold', async () => {
  const out = path.join(dir, 'dump');
  const r = await dumpSplit(toUri(path.join(dir, 'data')), 'train', out, { maxExamples: 30 });
  expect(r.count).toBe(30);
  const meta = JSON.parse(readFileSync(r.metaFile, 'utf8'));
  expect(meta).toMatchObject({ format: SPLIT_DUMP_FORMAT, task: 'vqa', split: 'train', count: 30, shapes: { images: [30, 16, 16, 3], text: [30, 8], labels: [30] } });
  const data = await openDataset(toUri(path.join(dir, 'data')));
  const batch = await data.split('train').batch(Array.from({ length: 30 }, (_, i) => i));
  expect(meta.ids).toEqual(batch.ids);
  expect(meta.answers).toEqual(data.answerVocab);
  expect(meta.pixelStats).toEqual(data.manifest.pixelStats);
  expect(f32(path.join(out, meta.files.images))).toEqual(batch.images);
  expect(i32(path.join(out, meta.files.text))).toEqual(batch.text);
  expect(i32(path.join(out, meta.files.labels))).toEqual(batch.answerLabel);
  expect(JSON.parse(readFileSync(path.join(out, 'tokenizer.json'), 'utf8')).vocab).toEqual(data.tokenizer.vocab);
});
