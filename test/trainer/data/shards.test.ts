import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SPECIAL_TOKENS } from '../../../trainer/data/batch';
import { imageIdOf, openDataset } from '../../../trainer/data/dataset';
import { ShardIntegrityError } from '../../../trainer/data/errors';
import { prepareData } from '../../../trainer/data/prepare';
import { decodeShard, encodeShard, imageRecordLayout, recordLayout, shardRecord, SHARD_MAGIC, type ShardRecord } from '../../../trainer/data/shard-format';
import { generateSynthetic, renderItem } from '../../../trainer/data/synthetic/generate';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'amad-data-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const small = { format: 'synthetic' as const, seed: 7, train: 150, val: 30, test: 20, imageSize: 16, shardSize: 40 };
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('shard format', () => {
  it('round-trips example records of every field kind', () => {
    const layout = recordLayout({ task: 'vqa', imageSize: 2, maxTextLength: 3, maxTargetLength: 4 });
    const rec: ShardRecord = {
      id: 'question-42',
      imageId: '458752',
      imageIndex: 7,
      text: Int32Array.from([5, 6, 0]),
      answerIndex: Int32Array.from([3, 1, -1, -1, -1, -1, -1, -1, -1, -1]),
      answerScore: Float32Array.from([1, 1 / 3, 0, 0, 0, 0, 0, 0, 0, 0]),
      answerLabel: 3,
    };
    const buf = encodeShard({ kind: 'examples', task: 'vqa', split: 'train', layout }, [rec, { ...rec, id: 'q2', answerLabel: -1 }]);
    expect(buf.toString('ascii', 0, 8)).toBe(SHARD_MAGIC);
    const shard = decodeShard(buf, 'mem://x');
    expect(shard.header).toMatchObject({ kind: 'examples', count: 2 });
    const back = shardRecord(shard, 0);
    expect(back.id).toBe(rec.id);
    expect(back.imageId).toBe('458752');
    expect(back.imageIndex).toBe(7);
    expect(back.image).toBeUndefined(); // pixels live in the image shard
    expect(back.text).toBeInstanceOf(Int32Array);
    expect(Array.from(back.text!)).toEqual([5, 6, 0]);
    expect(Array.from(back.answerIndex!)).toEqual(Array.from(rec.answerIndex!));
    expect(back.answerScore![1]).toBeCloseTo(1 / 3, 6);
    expect(back.answerLabel).toBe(3);
    expect(shardRecord(shard, 1).answerLabel).toBe(-1);
    expect(() => decodeShard(buf.subarray(0, buf.length - 1), 'mem://x')).toThrow(/mem:\/\/x.*truncated/);
  });

  it('round-trips image records (id + pixels) and stores no pixels in example records', () => {
    const layout = imageRecordLayout(2);
    expect(layout.fields.map((f) => f.name)).toEqual(['id', 'image']);
    const images = [
      { id: '11', image: Uint8Array.from({ length: 12 }, (_, i) => i * 20) },
      { id: '12', image: Uint8Array.from({ length: 12 }, (_, i) => 255 - i) },
    ];
    const shard = decodeShard(encodeShard({ kind: 'images', task: 'vqa', split: 'train', layout }, images), 'mem://img');
    expect(shard.header.kind).toBe('images');
    expect(shardRecord(shard, 1).id).toBe('12');
    expect(Array.from(shardRecord(shard, 1).image!)).toEqual(Array.from(images[1]!.image));
    const examples = recordLayout({ task: 'vqa', imageSize: 224, maxTextLength: 16, maxTargetLength: 16 });
    expect(examples.fields.some((f) => f.name === 'image')).toBe(false);
    expect(examples.recordSize).toBeLessThan(300); // vs 150,528 bytes of pixels per record before
  });

  it('refuses a version-1 shard (images in every record) naming the fix', () => {
    const layout = recordLayout({ task: 'vqa', imageSize: 2, maxTextLength: 3, maxTargetLength: 4 });
    const buf = encodeShard({ kind: 'examples', task: 'vqa', split: 'train', layout }, []);
    buf.writeUInt32LE(1, 8);
    expect(() => decodeShard(buf, 'mem://old')).toThrow(/mem:\/\/old: format version 1.*re-prepare/);
  });

  it('lays out generation records with a target of maxTargetLength + 1 and no answer fields', () => {
    const layout = recordLayout({ task: 'captioning', imageSize: 4, maxTextLength: 3, maxTargetLength: 5 });
    expect(layout.fields.map((f) => f.name)).toEqual(['id', 'imageId', 'imageIndex', 'text', 'target']);
    expect(layout.fields.find((f) => f.name === 'target')!.shape).toEqual([6]);
    expect(layout.fields.every((f) => f.dtype === 'uint8' || f.offset % 4 === 0)).toBe(true);
  });
});

describe('prepareData (synthetic) and the reader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tmp();
    await prepareData({ ...small, task: 'vqa' }, dir);
  });

  it('writes shards, tokenizer and a manifest whose counts and checksums match', async () => {
    const ds = await openDataset(dir);
    const m = ds.manifest;
    expect(m.task).toBe('vqa');
    expect([m.splits.train.examples, m.splits.val.examples, m.splits.test.examples]).toEqual([150, 30, 20]);
    expect(m.splits.train.shards.map((s) => s.count)).toEqual([40, 40, 40, 30]);
    for (const s of m.splits.train.shards) expect(sha(path.join(dir, s.file))).toBe(s.sha256);
    expect(m.answers!.vocab.length).toBeGreaterThan(10);
    expect(m.answers!.majority.trainFraction).toBeLessThan(0.35);
    expect(m.source).toMatchObject({ format: 'synthetic', seed: 7 });
  });

  it('gives random access to exactly the generated example (pixels, question, answer)', async () => {
    const ds = await openDataset(dir);
    const gen = generateSynthetic('vqa', 7, { train: 150, val: 30, test: 20 });
    const split = ds.split('val');
    for (const i of [0, 17, 29]) {
      const rec = await split.record(i);
      const item = gen.val[i]!;
      expect(rec.id).toBe(item.id);
      expect(Buffer.from(rec.image).equals(Buffer.from(renderItem(item, 16)))).toBe(true);
      expect(ds.tokenizer.decode(rec.text)).toBe(item.text.replace('?', ' ?'));
      expect(ds.answerVocab[rec.answerLabel!]).toBe(item.answer);
      expect(rec.answerScore![0]).toBe(1);
    }
  });

  it('builds Batches with normalised images and dense soft scores', async () => {
    const ds = await openDataset(dir);
    const b = await ds.split('train').batch([3, 0, 149]);
    expect(b.ids).toEqual(['train-000003', 'train-000000', 'train-000149']);
    expect(b.images).toBeInstanceOf(Float32Array);
    expect(b.images.length).toBe(3 * 16 * 16 * 3);
    expect(b.text.length).toBe(3 * ds.manifest.maxTextLength);
    expect(b.target).toBeUndefined();
    const A = ds.answerVocab.length;
    expect(b.answerScores!.length).toBe(3 * A);
    for (let k = 0; k < 3; k++) {
      const row = Array.from(b.answerScores!.subarray(k * A, (k + 1) * A));
      expect(row.reduce((a, v) => a + v, 0)).toBe(1);
      expect(row[b.answerLabel![k]!]).toBe(1);
    }
    // Over the whole training split each channel has mean ≈ 0 and std ≈ 1.
    const all = await ds.split('train').batch(Array.from({ length: 150 }, (_, i) => i));
    for (let c = 0; c < 3; c++) {
      let s = 0, s2 = 0, n = 0;
      for (let i = c; i < all.images.length; i += 3) {
        s += all.images[i]!;
        s2 += all.images[i]! ** 2;
        n++;
      }
      expect(Math.abs(s / n)).toBeLessThan(1e-3);
      expect(Math.sqrt(s2 / n - (s / n) ** 2)).toBeCloseTo(1, 2);
    }
  });

  it('streams every example once per epoch, in an order fixed by the seed', async () => {
    const ds = await openDataset(dir);
    const order = async (opts: Parameters<ReturnType<typeof ds.split>['batches']>[0]) => {
      const ids: string[] = [];
      const sizes: number[] = [];
      for await (const b of ds.split('train').batches(opts)) {
        ids.push(...b.ids);
        sizes.push(b.size);
      }
      return { ids, sizes };
    };
    const a = await order({ batchSize: 32, seed: 1, shuffleBuffer: 50 });
    const b = await order({ batchSize: 32, seed: 1, shuffleBuffer: 50 });
    const c = await order({ batchSize: 32, seed: 2, shuffleBuffer: 50 });
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
    expect(new Set(a.ids).size).toBe(150);
    expect(a.sizes).toEqual([32, 32, 32, 32, 22]);
    const plain = await order({ batchSize: 64, shuffle: false, dropRemainder: true });
    expect(plain.sizes).toEqual([64, 64]);
    expect(plain.ids.slice(0, 3)).toEqual(['train-000000', 'train-000001', 'train-000002']);
    const twoEpochs = await order({ batchSize: 50, seed: 3, epochs: 2 });
    expect(twoEpochs.ids.slice(0, 150)).not.toEqual(twoEpochs.ids.slice(150));
    expect(new Set(twoEpochs.ids.slice(150)).size).toBe(150);
  });

  it('finds a shard by URI and the example range it holds (per-shard stages)', async () => {
    const ds = await openDataset(dir);
    const uri = ds.split('train').shardUri(2);
    const { split, index } = ds.locateShard(uri);
    expect([split.name, index]).toEqual(['train', 2]);
    expect(split.shardRange(index)).toEqual({ start: 80, end: 120 });
    expect((await split.record(80)).id).toBe('train-000080');
    expect(() => ds.locateShard(uri + 'x')).toThrow(/is not a shard of the dataset/);
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    const again = tmp();
    const other = tmp();
    await prepareData({ ...small, task: 'vqa' }, again);
    await prepareData({ ...small, task: 'vqa', seed: 8 }, other);
    expect(readFileSync(path.join(again, 'manifest.json'), 'utf8')).toBe(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(sha(path.join(other, 'train/shard-00000.bin'))).not.toBe(sha(path.join(dir, 'train/shard-00000.bin')));
  });
});

describe('generation tasks', () => {
  it('captioning: one train record per reference, one val record per image, all references in references.json', async () => {
    const dir = tmp();
    const summary = await prepareData({ ...small, task: 'captioning' }, dir);
    expect(summary.splits.train).toMatchObject({ images: 150, examples: 750 });
    expect(summary.splits.val).toMatchObject({ images: 30, examples: 30 });
    const ds = await openDataset(dir);
    const train = ds.split('train');
    const first = await train.batch([0, 1]);
    const ids = first.ids;
    expect(ids).toEqual(['train-000000#0', 'train-000000#1']);
    expect(Array.from(first.images.subarray(0, 768))).toEqual(Array.from(first.images.subarray(768)));
    const refs = await ds.split('val').references();
    const gen = generateSynthetic('captioning', 7, { train: 150, val: 30, test: 20 });
    expect(refs.get('val-000004')).toEqual(gen.val[4]!.targets);
    expect((await train.references()).get(imageIdOf(ids[1]!))).toEqual(gen.train[0]!.targets);
    const rec = await ds.split('val').record(4);
    expect(rec.target![0]).toBe(SPECIAL_TOKENS.BOS);
    expect(ds.tokenizer.decode(rec.target!)).toBe(gen.val[4]!.targets[0]);
  });

  it('translation: target ids decode to the German sentence', async () => {
    const dir = tmp();
    await prepareData({ ...small, task: 'translation' }, dir);
    const ds = await openDataset(dir);
    const gen = generateSynthetic('translation', 7, { train: 150, val: 30, test: 20 });
    const b = await ds.split('test').batch([5]);
    expect(ds.tokenizer.decode(b.target!)).toBe(gen.test[5]!.targets[0]!.toLowerCase());
    expect(ds.tokenizer.decode(b.text)).toBe(gen.test[5]!.text);
  });
});

describe('integrity', () => {
  let dir: string;
  beforeEach(async () => {
    dir = tmp();
    await prepareData({ ...small, task: 'vqa' }, dir);
  });

  it('a corrupt shard fails its checksum with an error naming the shard', async () => {
    const file = path.join(dir, 'train/shard-00001.bin');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(file, bytes);
    const ds = await openDataset(dir);
    await expect(ds.split('train').record(0)).resolves.toBeDefined(); // shard 0 is intact
    await expect(ds.split('train').record(45)).rejects.toThrow(ShardIntegrityError);
    await expect(ds.split('train').record(45)).rejects.toThrow(/train\/shard-00001\.bin: checksum mismatch/);
  });

  it('a truncated shard is reported with its name and sizes', async () => {
    truncateSync(path.join(dir, 'val/shard-00000.bin'), 100);
    const ds = await openDataset(dir);
    await expect(ds.split('val').verify()).rejects.toThrow(/val\/shard-00000\.bin: size 100 bytes, the manifest says \d+/);
  });

  it('nothing partial looks complete: a failed re-prepare removes the old manifest', async () => {
    // A vocabulary that cannot be built fails after the old manifest is gone.
    await expect(prepareData({ ...small, task: 'vqa', tokenizer: { maxVocab: 3 } }, dir)).rejects.toThrow(/maxVocab = 3/);
    expect(existsSync(path.join(dir, 'manifest.json'))).toBe(false);
    await expect(openDataset(dir)).rejects.toThrow(/manifest\.json not found.*did not finish/);
  });

  it('a smaller re-prepare removes the shards the new manifest no longer lists', async () => {
    expect(existsSync(path.join(dir, 'train/shard-00003.bin'))).toBe(true);
    await prepareData({ ...small, task: 'vqa', shardSize: 100 }, dir);
    expect(existsSync(path.join(dir, 'train/shard-00001.bin'))).toBe(true);
    expect(existsSync(path.join(dir, 'train/shard-00002.bin'))).toBe(false);
    await expect(openDataset(dir).then((ds) => ds.split('train').verify())).resolves.toBeUndefined();
  });

  it('a manifest that is not a manifest is refused with the field', async () => {
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ version: 2, task: 'vqa' }));
    await expect(openDataset(dir)).rejects.toThrow(/not a valid manifest[\s\S]*source/);
  });

  it('an old-format (version 1) dataset is refused, naming the fix: re-prepare', async () => {
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, version: 1 }));
    await expect(openDataset(dir)).rejects.toThrow(/version 1 dataset \(each image stored in every example record\)[\s\S]*Re-prepare it/);
  });

  it('a corrupt or truncated image shard is refused, naming it', async () => {
    const file = path.join(dir, 'train/images-00000.bin');
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.length - 3]! ^= 0xff;
    writeFileSync(file, bad);
    await expect((await openDataset(dir)).split('train').record(0)).rejects.toThrow(/train\/images-00000\.bin: checksum mismatch/);
    // A truncated image shard names its sizes.
    writeFileSync(file, good.subarray(0, good.length - 10));
    await expect((await openDataset(dir)).split('train').verify()).rejects.toThrow(/train\/images-00000\.bin: size \d+ bytes, the manifest says \d+/);
  });
});
