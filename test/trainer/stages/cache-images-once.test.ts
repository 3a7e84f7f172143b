/**
 * The teacher cache on image-once data: a VQA v2-layout dataset whose images each serve two
 * questions (one image record, two example records) is cached shard by shard and read back
 * exactly as the online teacher computes it; the cache's data identity covers the image shard,
 * so new pixels behind unchanged example records make the cache refuse itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { parseJobSpec } from '../../../contract/spec';
import { toUri } from '../../../contract/storage';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { CachedTeacher, OnlineTeacher } from '../../../trainer/jobs/teacher-signal';
import { fitConfigToData } from '../../../trainer/jobs/task';
import { VLModel } from '../../../trainer/model';
import { loadModel, saveModel } from '../../../trainer/model-io';
import { cachedLayersForSpec, cacheOneShard } from '../../../trainer/stages/cache-teacher';
import { cocoName, solidJpeg, writeVqaFixture } from '../data/fixtures';

const TEACHER = { patchSize: 4, width: 16, mlpWidth: 32, fusionLayers: 1, heads: { vision: 4, fusion: 4, decoder: 4 }, dropout: 0 };
const STUDENT = { patchSize: 4, width: 16, mlpWidth: 32, fusionLayers: 1, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 };

let root: string;
beforeAll(async () => {
  await initBackend();
  root = mkdtempSync(path.join(tmpdir(), 'amad-cache-images-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function arrays(t: { maps: Record<string, tf.Tensor>; logits: tf.Tensor }) {
  const out: Record<string, number[]> = { logits: Array.from(await t.logits.data()) };
  for (const [k, v] of Object.entries(t.maps)) out[k] = Array.from(await v.data());
  tf.dispose([t.logits, ...Object.values(t.maps)]);
  return out;
}

test('caches image-once shards and reads them back as the online teacher; new pixels invalidate the cache', async () => {
  const fx = writeVqaFixture(path.join(root, 'vqa'));
  const source = { ...fx.source, imageSize: 8, maxTextLength: 6, shardSize: 4 };
  const dataUri = toUri(path.join(root, 'data'));
  await prepareData(source, dataUri);
  let data = await openDataset(dataUri);
  const train = data.split('train');
  // Three images, six questions: pixels stored once, two example shards point into one image shard.
  expect(data.manifest.splits.train.imageShards.map((s) => s.count)).toEqual([3]);
  expect(train.numShards).toBe(2);
  const [r0, r1] = [await train.record(0), await train.record(1)];
  expect(r0.imageId).toBe(r1.imageId);
  expect(Buffer.from(r0.image).equals(Buffer.from(r1.image))).toBe(true);

  const model = new VLModel(fitConfigToData(TEACHER, data.manifest, data.tokenizer.vocabSize, 'teacher'), { seed: 1, name: 'cache-images-teacher' });
  const teacherUri = toUri(path.join(root, 'teacher'));
  await saveModel(teacherUri, model, { task: 'vqa', tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} });
  model.dispose();
  const teacher = await loadModel(teacherUri, { name: 'cache-images-loaded' });
  const spec = parseJobSpec({
    version: 1,
    data: source,
    teacher: { checkpoint: teacherUri },
    students: [{ name: 's', model: STUDENT, distill: { variant: 'kl' } }],
    cache: { enabled: true, dtype: 'float32' },
  });
  const cacheDir = toUri(path.join(root, 'cache'));
  for (let s = 0; s < train.numShards; s++) await cacheOneShard({ spec, dataUri, teacherUri, shardUri: train.shardUri(s), cacheDir });
  const layers = cachedLayersForSpec(spec, teacher.model.config, data);

  const batch = await train.batch([0, 1, 4, 5]); // both shards
  const cached = await arrays(await (await CachedTeacher.open(cacheDir, data, teacher.sha256, layers)).forBatch(batch));
  const online = await arrays(await new OnlineTeacher(teacher.model, layers).forBatch(batch));
  expect(Object.keys(cached).sort()).toEqual(Object.keys(online).sort());
  for (const k of Object.keys(online)) expect(cached[k]).toEqual(online[k]);

  // Same questions, a different picture for image 1: the example shards are byte-identical,
  // only the image shard changes — and the cache made from the old pixels is refused.
  const before = data.manifest.splits.train.shards.map((s) => s.sha256);
  writeFileSync(path.join(fx.root, 'train2014', cocoName('train', 1)), solidJpeg(12, 8, [10, 200, 30]));
  await prepareData(source, dataUri);
  data = await openDataset(dataUri);
  expect(data.manifest.splits.train.shards.map((s) => s.sha256)).toEqual(before);
  await expect(CachedTeacher.open(cacheDir, data, teacher.sha256, layers)).rejects.toThrow(/data shard|re-run the cache stage/);
  teacher.model.dispose();
}, 120_000);
