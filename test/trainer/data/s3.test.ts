/** Public layouts read from an S3 prefix and shards written to S3 (s3rver on 127.0.0.1). */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { useLocalS3 } from '../../helpers/local-s3';
import { storageFor } from '../../../contract/storage';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { writeVqaFixture } from './fixtures';

const s3 = useLocalS3(['datasets']);

it('prepares VQA v2 from an S3 prefix into S3 and reads it back', async () => {
  const fx = writeVqaFixture(path.join(s3.tmp, 'local'));
  // Upload the local fixture under s3://datasets/vqa/…
  const toS3 = (p: string) => `s3://datasets/vqa/${path.relative(fx.root, p).split(path.sep).join('/')}`;
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])));
    return nested.flat();
  };
  for (const file of await walk(fx.root)) await storageFor(toS3(file)).put(toS3(file), await fs.readFile(file));
  const source = {
    ...fx.source,
    questions: { train: toS3(fx.source.questions.train), val: toS3(fx.source.questions.val) },
    annotations: { train: toS3(fx.source.annotations.train), val: toS3(fx.source.annotations.val) },
    images: { train: 's3://datasets/vqa/train2014', val: 's3://datasets/vqa/val2014' },
  };
  const summary = await prepareData(source, 's3://datasets/prepared/vqa');
  expect(summary.manifestUri).toBe('s3://datasets/prepared/vqa/manifest.json');
  expect(summary.shardUris.train[0]).toBe('s3://datasets/prepared/vqa/train/shard-00000.bin');
  const ds = await openDataset('s3://datasets/prepared/vqa');
  const b = await ds.split('train').batch([0, 5]);
  expect(b.ids).toEqual(['100', '301']);
  expect(ds.answerVocab[b.answerLabel![1]!]).toBe('no');
});
