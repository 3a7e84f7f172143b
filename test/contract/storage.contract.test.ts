/**
 * One behavioural contract for every Storage implementation, run against file:// (a temp folder)
 * and s3:// (a real S3 HTTP server, s3rver, on 127.0.0.1 and a free port).
 */
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { joinUri, storageFor, StorageNotFoundError, type Storage } from '../../contract/storage';
import { useLocalS3 } from '../helpers/local-s3';

interface Backend {
  readonly name: string;
  /** Root URI under which a test may write. */
  root: string;
}

const s3 = useLocalS3(['contract-bucket']);
const fileBackend: Backend = { name: 'file', root: '' };
const s3Backend: Backend = { name: 's3', root: 's3://contract-bucket/prefix' };

beforeAll(() => {
  fileBackend.root = pathToFileURL(path.join(s3.tmp, 'files')).href;
});

const streamOf = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
async function readAll(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts).toString();
}

describe.each([fileBackend, s3Backend])('Storage contract: $name', (backend) => {
  let store: Storage;
  let base: string;
  let n = 0;
  beforeEach(() => {
    base = joinUri(backend.root, `case-${++n}`);
    store = storageFor(base);
  });

  test('put then get returns the same bytes; put replaces', async () => {
    const uri = joinUri(base, 'a', 'b.bin');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await store.put(uri, bytes);
    expect(Buffer.compare(await store.get(uri), bytes)).toBe(0);
    await store.put(uri, 'text now');
    expect((await store.get(uri)).toString()).toBe('text now');
  });

  test('getRange returns [start, end) and is clipped at the end of the object', async () => {
    const uri = joinUri(base, 'range.txt');
    await store.put(uri, '0123456789');
    expect((await store.getRange(uri, 2, 5)).toString()).toBe('234');
    expect((await store.getRange(uri, 8, 20)).toString()).toBe('89');
    expect((await store.getRange(uri, 4, 4)).length).toBe(0);
  });

  test('putStream and getStream round-trip a multi-chunk body', async () => {
    const uri = joinUri(base, 'stream', 'big.txt');
    const chunks = Array.from({ length: 50 }, (_, i) => `chunk-${i};`.repeat(100));
    await store.putStream(uri, streamOf(...chunks));
    expect(await readAll(await store.getStream(uri))).toBe(chunks.join(''));
    expect(await store.size(uri)).toBe(chunks.join('').length);
  });

  test('putStream of a body larger than one upload part (multipart on S3) round-trips', async () => {
    const uri = joinUri(base, 'stream', 'multipart.bin');
    // 11 MiB: lib-storage's Upload splits at 5 MiB parts, so S3 sees a 3-part multipart upload.
    const mib = (i: number) => Buffer.alloc(1 << 20, i);
    await store.putStream(uri, Readable.from(Array.from({ length: 11 }, (_, i) => mib(i))));
    expect(await store.size(uri)).toBe(11 << 20);
    expect((await store.getRange(uri, (5 << 20) - 1, (5 << 20) + 1)).toJSON().data).toEqual([4, 5]);
  });

  test('exists and size', async () => {
    const uri = joinUri(base, 'e.txt');
    expect(await store.exists(uri)).toBe(false);
    await store.put(uri, 'four');
    expect(await store.exists(uri)).toBe(true);
    expect(await store.size(uri)).toBe(4);
  });

  test('list is recursive, sorted, and limited to the prefix folder', async () => {
    // Deep levels with only sub-prefixes are exactly where s3rver's Delimiter listing fails.
    const names = ['x/deep/er/1.txt', 'x/deep/2.txt', 'x/0.txt', 'xy/not-me.txt'];
    for (const name of names) await store.put(joinUri(base, name), name);
    expect(await store.list(joinUri(base, 'x'))).toEqual(['x/0.txt', 'x/deep/2.txt', 'x/deep/er/1.txt'].map((p) => joinUri(base, p)));
    expect(await store.list(joinUri(base, 'nothing-here'))).toEqual([]);
  });

  test('delete removes an object and is quiet when it is absent', async () => {
    const uri = joinUri(base, 'd.txt');
    await store.put(uri, 'x');
    await store.delete(uri);
    expect(await store.exists(uri)).toBe(false);
    await expect(store.delete(uri)).resolves.toBeUndefined();
  });

  test('reading a missing object throws StorageNotFoundError naming the URI', async () => {
    const uri = joinUri(base, 'missing.bin');
    for (const read of [() => store.get(uri), () => store.getRange(uri, 0, 1), () => store.getStream(uri), () => store.size(uri)]) {
      const err = await read().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageNotFoundError);
      expect((err as StorageNotFoundError).uri).toBe(uri);
    }
  });
});

test('storageFor refuses an unknown scheme with the supported ones in the message', () => {
  expect(() => storageFor('gs://bucket/key')).toThrow(/no storage for "gs:\/\/".*s3:\/\//);
});
