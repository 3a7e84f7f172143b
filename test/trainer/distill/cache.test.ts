/** The teacher-attention cache: round trips and every refusal the reader makes. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toUri } from '../../../contract/storage';
import {
  attentionFieldName,
  cachedLayersOf,
  TeacherCacheError,
  TeacherCacheReader,
  TeacherCacheWriter,
  type CacheDtype,
  type CacheField,
  type CachedLayer,
} from '../../../trainer/distill';

const layers: CachedLayer[] = [
  { kind: 'fusionSelf', teacherLayer: 0 },
  { kind: 'fusionSelf', teacherLayer: 2 },
];
const fields: CacheField[] = [
  { name: attentionFieldName('fusionSelf', 0), shape: [2, 3, 4] },
  { name: attentionFieldName('fusionSelf', 2), shape: [2, 3, 4] },
  { name: 'logits', shape: [5] },
];
const identity = { teacherHash: 'teacher-abc', dataShardHash: 'data-123', layers };
const ids = ['ex-0', 'ex-1', 'ex-2', 'ex-3', 'ex-4', 'ex-5', 'ex-6'];

/** Deterministic example arrays: attention-like values in (0, 1), logits in (−20, 20). */
function exampleValues(i: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  fields.forEach((f, j) => {
    const n = f.shape.reduce((a, b) => a * b, 1);
    out[f.name] = Float32Array.from({ length: n }, (_, k) => {
      const x = Math.sin(1 + i * 97 + j * 31 + k * 7.3);
      return f.name === 'logits' ? 20 * x : (x + 1.0001) / 2.0002;
    });
  });
  return out;
}

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-cache-test-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function writeCache(name: string, dtype: CacheDtype): Promise<string> {
  const dir = path.join(root, name);
  const writer = new TeacherCacheWriter({ uri: dir, dtype, fields, ...identity, recordsPerShard: 3 });
  for (let i = 0; i < ids.length; i++) await writer.append(ids[i], exampleValues(i));
  const manifest = await writer.finish();
  expect(manifest.shards.map((s) => s.recordCount)).toEqual([3, 3, 1]);
  return dir;
}

describe('TeacherCacheWriter / TeacherCacheReader round trip', () => {
  test('float32 is exact, by id and streamed in order', async () => {
    const dir = await writeCache('f32', 'float32');
    const reader = await TeacherCacheReader.open(toUri(dir), identity); // file:// URIs and plain paths alike
    expect(reader.recordCount).toBe(7);
    expect(reader.exampleIds()).toEqual(ids);
    const r5 = await reader.get('ex-5');
    expect(r5.fields).toEqual(exampleValues(5));
    const streamed: string[] = [];
    for await (const rec of reader.records()) {
      expect(rec.fields).toEqual(exampleValues(ids.indexOf(rec.exampleId)));
      streamed.push(rec.exampleId);
    }
    expect(streamed).toEqual(ids);
    // Fixed-size records: header + count × record bytes, nothing else.
    const recordBytes = (2 * 24 + 5) * 4;
    expect(reader.manifest.recordBytes).toBe(recordBytes);
    expect((await fs.stat(path.join(dir, 'shard-00000.bin'))).size).toBe(16 + 3 * recordBytes);
  });

  test('float16 is within half an ulp and half the size', async () => {
    const dir = await writeCache('f16', 'float16');
    const reader = await TeacherCacheReader.open(dir, { ...identity, layers: [...layers].reverse() }); // layer order does not matter
    expect(reader.manifest.recordBytes).toBe((2 * 24 + 5) * 2);
    for await (const rec of reader.records()) {
      const want = exampleValues(ids.indexOf(rec.exampleId));
      for (const f of fields) {
        const got = rec.fields[f.name];
        expect(got).toHaveLength(want[f.name].length);
        want[f.name].forEach((v, k) => expect(Math.abs(got[k] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25));
      }
    }
    const byId = (await reader.get('ex-6')).fields.logits;
    exampleValues(6).logits.forEach((v, k) => expect(Math.abs(byId[k] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11));
  });
});

describe('TeacherCacheReader refusals', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await writeCache(`refuse-${Math.random().toString(36).slice(2)}`, 'float16');
  });

  test('another teacher checkpoint', async () => {
    await expect(TeacherCacheReader.open(dir, { ...identity, teacherHash: 'teacher-xyz' })).rejects.toThrow(
      /teacherHash "teacher-abc" ≠ expected "teacher-xyz".*re-run the cache stage/,
    );
  });

  test('another data shard', async () => {
    await expect(TeacherCacheReader.open(dir, { ...identity, dataShardHash: 'data-999' })).rejects.toThrow(/dataShardHash "data-123" ≠ expected "data-999"/);
  });

  test('another layer list', async () => {
    await expect(TeacherCacheReader.open(dir, { ...identity, layers: [{ kind: 'fusionSelf', teacherLayer: 3 }] })).rejects.toThrow(
      /layers \[fusionSelf\/0, fusionSelf\/2\] ≠ expected \[fusionSelf\/3\]/,
    );
  });

  test('a corrupted shard fails its sha256 check, by id and when streaming', async () => {
    const shard = path.join(dir, 'shard-00001.bin');
    const bytes = await fs.readFile(shard);
    bytes[40] ^= 0xff;
    await fs.writeFile(shard, bytes);
    const reader = await TeacherCacheReader.open(dir, identity);
    await expect(reader.get('ex-0')).resolves.toBeDefined(); // shard 0 is intact
    await expect(reader.get('ex-4')).rejects.toThrow(/shard-00001.bin is corrupt: sha256 [0-9a-f]{64} ≠ manifest [0-9a-f]{64}; re-run the cache stage/);
    const drain = async () => {
      for await (const _ of reader.records()) void _;
    };
    await expect(drain()).rejects.toThrow(/shard-00001.bin is corrupt/);
  });

  test('a truncated shard names the shard and both sizes', async () => {
    const shard = path.join(dir, 'shard-00002.bin');
    const size = (await fs.stat(shard)).size;
    await fs.truncate(shard, size - 10);
    const reader = await TeacherCacheReader.open(dir, identity);
    await expect(reader.get('ex-6')).rejects.toThrow(new RegExp(`shard-00002.bin has ${size - 10} bytes but the manifest expects ${size}`));
  });

  test('a missing manifest, an unknown id, a malformed manifest', async () => {
    await expect(TeacherCacheReader.open(path.join(root, 'nothing-here'), identity)).rejects.toThrow(/manifest.json is missing.*re-run the cache stage/);
    const reader = await TeacherCacheReader.open(dir, identity);
    await expect(reader.get('ex-99')).rejects.toThrow(TeacherCacheError);
    const manifestPath = path.join(dir, 'manifest.json');
    const m = JSON.parse(await fs.readFile(manifestPath, 'utf8'));
    m.recordBytes += 2;
    await fs.writeFile(manifestPath, JSON.stringify(m));
    await expect(TeacherCacheReader.open(dir, identity)).rejects.toThrow(/inconsistent: recordBytes 108 ≠ 106 implied by fields and dtype/);
  });
});

describe('TeacherCacheWriter input checks', () => {
  const make = (dtype: CacheDtype = 'float16') => new TeacherCacheWriter({ uri: path.join(root, 'writer-checks'), dtype, fields, ...identity });

  test('wrong length, missing and unknown fields, duplicate id', async () => {
    const w = make();
    const v = exampleValues(0);
    await expect(w.append('a', { ...v, logits: new Float32Array(4) })).rejects.toThrow(/field "logits" has 4 values; shape \[5\] needs 5/);
    await expect(w.append('a', { ...v, extra: new Float32Array(1) })).rejects.toThrow(/unknown field\(s\) extra/);
    const { logits: _drop, ...missing } = v;
    await expect(w.append('a', missing)).rejects.toThrow(/missing field "logits"/);
    await w.append('a', v);
    await expect(w.append('a', v)).rejects.toThrow(/example id "a" appended twice/);
  });

  test('float16 refuses values it cannot hold; float32 takes them', async () => {
    const v = { ...exampleValues(0), logits: Float32Array.from([0, 1, 70000, 2, 3]) };
    await expect(make('float16').append('big', v)).rejects.toThrow(/value 70000 at index 2 is beyond float16's ±65504; use dtype "float32"/);
    await expect(make('float32').append('big', v)).resolves.toBeUndefined();
  });

  test('bad options are listed together', () => {
    expect(
      () => new TeacherCacheWriter({ uri: root, fields: [{ name: 'x', shape: [0] }, { name: 'x', shape: [2] }], layers, teacherHash: '', dataShardHash: 'd' }),
    ).toThrow(/fields\[0\].*; field names must be unique.*; teacherHash must be a non-empty string/);
  });
});

test('cachedLayersOf lists each mapped teacher module once, in kind then layer order', () => {
  expect(
    cachedLayersOf([
      { kind: 'crossImage', studentLayer: 0, teacherLayer: 1 },
      { kind: 'fusionSelf', studentLayer: 0, teacherLayer: 3 },
      { kind: 'fusionSelf', studentLayer: 1, teacherLayer: 3 },
      { kind: 'fusionSelf', studentLayer: 2, teacherLayer: 0 },
    ]),
  ).toEqual([
    { kind: 'fusionSelf', teacherLayer: 0 },
    { kind: 'fusionSelf', teacherLayer: 3 },
    { kind: 'crossImage', teacherLayer: 1 },
  ]);
});
