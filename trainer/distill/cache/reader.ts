/**
 * Reads a teacher-attention cache written by TeacherCacheWriter, refusing anything that does not
 * belong to the run: a manifest for another teacher checkpoint, data shard or layer list, a
 * shard whose size or sha256 differs from the manifest, a malformed header.
 *
 * Memory: `records()` holds one shard at a time; `get(id)` reads a single record by byte range
 * after the shard was verified once (streamed through sha256, not held). A shard modified on
 * storage after that verification would go unnoticed by later `get`s; caches are write-once.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, StorageNotFoundError, type Storage } from '../../../contract/storage';
import { parseJson } from '../../../contract/parse-json';
import { formatIssues } from '../../model/config';
import { float16ToFloat32 } from './float16';
import {
  assertLittleEndian,
  CACHE_MAGIC,
  CACHE_VERSION,
  CacheManifestSchema,
  decodeHeader,
  DTYPE_CODE,
  HEADER_BYTES,
  MANIFEST_NAME,
  recordLayout,
  TeacherCacheError,
  type CachedLayer,
  type CacheManifest,
} from './format';

/** What the consumer expects the cache to be; any difference refuses the cache. */
export interface ExpectedCacheIdentity {
  readonly teacherHash: string;
  readonly dataShardHash: string;
  /** Compared as a set (order-insensitive). */
  readonly layers: readonly CachedLayer[];
}

/** One example's cached arrays, flat row-major float32 (shapes in `manifest.fields`). */
export interface CacheRecord {
  readonly exampleId: string;
  readonly fields: Readonly<Record<string, Float32Array>>;
}

const RERUN = 're-run the cache stage for this data shard';

export class TeacherCacheReader {
  private readonly sizes: number[];
  private readonly location = new Map<string, { shard: number; index: number }>();
  private readonly verified = new Set<number>();

  private constructor(
    readonly uri: string,
    readonly manifest: CacheManifest,
    private readonly storage: Storage,
  ) {
    this.sizes = recordLayout(manifest.fields, manifest.dtype).sizes;
    manifest.shards.forEach((s, shard) => s.exampleIds.forEach((id, index) => this.location.set(id, { shard, index })));
  }

  /**
   * Reads and checks the manifest of the cache at `uri` against `expected`.
   * @throws TeacherCacheError naming the file and the fix, or the mismatching identity and both values.
   */
  static async open(uri: string, expected: ExpectedCacheIdentity): Promise<TeacherCacheReader> {
    assertLittleEndian();
    const storage = storageFor(uri);
    const manifestUri = joinUri(uri, MANIFEST_NAME);
    let text: string;
    try {
      text = (await storage.get(manifestUri)).toString('utf8');
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw new TeacherCacheError(`no teacher cache at ${uri}: ${MANIFEST_NAME} is missing (the cache stage did not finish); ${RERUN}`);
      throw e;
    }
    let json: unknown;
    try {
      json = parseJson(text, manifestUri);
    } catch (e) {
      throw new TeacherCacheError(`${(e as Error).message}; ${RERUN}`);
    }
    const parsed = CacheManifestSchema.safeParse(json);
    if (!parsed.success) {
      throw new TeacherCacheError(`${manifestUri} is not a valid cache manifest: ${formatIssues(parsed.error).map((i) => `${i.path}: ${i.message}`).join('; ')}; ${RERUN}`);
    }
    const manifest = parsed.data;
    checkConsistency(manifestUri, manifest);
    checkIdentity(manifestUri, manifest, expected);
    return new TeacherCacheReader(uri, manifest, storage);
  }

  /** Number of cached examples. */
  get recordCount(): number {
    return this.manifest.recordCount;
  }

  /** Example ids in record order. */
  exampleIds(): string[] {
    return this.manifest.shards.flatMap((s) => s.exampleIds);
  }

  has(exampleId: string): boolean {
    return this.location.has(exampleId);
  }

  /** One example's record. @throws TeacherCacheError for an unknown id or a bad shard. */
  async get(exampleId: string): Promise<CacheRecord> {
    const at = this.location.get(exampleId);
    if (!at) throw new TeacherCacheError(`teacher cache ${this.uri} has no example "${exampleId}" (it covers data shard ${this.manifest.dataShardHash})`);
    await this.verifyShard(at.shard);
    const start = HEADER_BYTES + at.index * this.manifest.recordBytes;
    const bytes = await this.storage.getRange(this.shardUri(at.shard), start, start + this.manifest.recordBytes);
    if (bytes.length !== this.manifest.recordBytes) throw this.truncated(at.shard, start + this.manifest.recordBytes, start + bytes.length);
    return this.decodeRecord(exampleId, bytes, 0);
  }

  /** All records in order, one shard in memory at a time; each shard verified as it loads. */
  async *records(): AsyncGenerator<CacheRecord> {
    for (let shard = 0; shard < this.manifest.shards.length; shard++) {
      const info = this.manifest.shards[shard];
      await this.checkSize(shard);
      const bytes = await this.storage.get(this.shardUri(shard));
      if (bytes.length !== info.bytes) throw this.truncated(shard, info.bytes, bytes.length);
      this.checkSha(shard, createHash('sha256').update(bytes).digest('hex'));
      this.checkHeader(shard, bytes.subarray(0, HEADER_BYTES));
      this.verified.add(shard);
      for (let i = 0; i < info.recordCount; i++) {
        yield this.decodeRecord(info.exampleIds[i], bytes, HEADER_BYTES + i * this.manifest.recordBytes);
      }
    }
  }

  private shardUri(shard: number): string {
    return joinUri(this.uri, this.manifest.shards[shard].file);
  }

  /** Size, sha256 (streamed) and header of a shard, once per reader. */
  private async verifyShard(shard: number): Promise<void> {
    if (this.verified.has(shard)) return;
    await this.checkSize(shard);
    const hash = createHash('sha256');
    for await (const chunk of await this.storage.getStream(this.shardUri(shard))) hash.update(chunk as Buffer);
    this.checkSha(shard, hash.digest('hex'));
    this.checkHeader(shard, await this.storage.getRange(this.shardUri(shard), 0, HEADER_BYTES));
    this.verified.add(shard);
  }

  private async checkSize(shard: number): Promise<void> {
    const expected = this.manifest.shards[shard].bytes;
    let actual: number;
    try {
      actual = await this.storage.size(this.shardUri(shard));
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw new TeacherCacheError(`teacher cache shard ${this.shardUri(shard)} is missing; ${RERUN}`);
      throw e;
    }
    if (actual !== expected) throw this.truncated(shard, expected, actual);
  }

  private truncated(shard: number, expected: number, actual: number): TeacherCacheError {
    return new TeacherCacheError(
      `teacher cache shard ${this.shardUri(shard)} has ${actual} bytes but the manifest expects ${expected} (truncated or partially written); ${RERUN}`,
    );
  }

  private checkSha(shard: number, actual: string): void {
    const expected = this.manifest.shards[shard].sha256;
    if (actual !== expected) {
      throw new TeacherCacheError(`teacher cache shard ${this.shardUri(shard)} is corrupt: sha256 ${actual} ≠ manifest ${expected}; ${RERUN}`);
    }
  }

  private checkHeader(shard: number, bytes: Buffer): void {
    const h = decodeHeader(bytes);
    const want = { magic: CACHE_MAGIC, version: CACHE_VERSION, dtypeCode: DTYPE_CODE[this.manifest.dtype], recordBytes: this.manifest.recordBytes, recordCount: this.manifest.shards[shard].recordCount };
    const bad = (Object.keys(want) as (keyof typeof want)[]).filter((k) => h[k] !== want[k]);
    if (bad.length > 0) {
      throw new TeacherCacheError(
        `teacher cache shard ${this.shardUri(shard)} has a bad header (${bad.map((k) => `${k} ${JSON.stringify(h[k])} ≠ ${JSON.stringify(want[k])}`).join(', ')}); ${RERUN}`,
      );
    }
  }

  /** Decodes the record at `offset` of `bytes` into one fresh Float32Array per field. */
  private decodeRecord(exampleId: string, bytes: Buffer, offset: number): CacheRecord {
    const fields: Record<string, Float32Array> = {};
    const valueBytes = this.manifest.dtype === 'float32' ? 4 : 2;
    this.manifest.fields.forEach((field, i) => {
      const n = this.sizes[i];
      // Copy first: a Buffer's byteOffset need not be aligned for a typed-array view.
      const raw = new Uint8Array(n * valueBytes);
      bytes.copy(raw, 0, offset, offset + raw.length);
      fields[field.name] = this.manifest.dtype === 'float32' ? new Float32Array(raw.buffer) : float16ToFloat32(new Uint16Array(raw.buffer));
      offset += raw.length;
    });
    return { exampleId, fields };
  }
}

/** The manifest agrees with itself (record size, counts, unique ids). */
function checkConsistency(manifestUri: string, m: CacheManifest): void {
  const errors: string[] = [];
  const { recordBytes } = recordLayout(m.fields, m.dtype);
  if (recordBytes !== m.recordBytes) errors.push(`recordBytes ${m.recordBytes} ≠ ${recordBytes} implied by fields and dtype`);
  const names = m.fields.map((f) => f.name);
  if (new Set(names).size !== names.length) errors.push(`duplicate field names in ${names.join(', ')}`);
  const total = m.shards.reduce((a, s) => a + s.recordCount, 0);
  if (total !== m.recordCount) errors.push(`recordCount ${m.recordCount} ≠ ${total} summed over shards`);
  m.shards.forEach((s, i) => {
    if (s.exampleIds.length !== s.recordCount) errors.push(`shards[${i}] lists ${s.exampleIds.length} example ids for ${s.recordCount} records`);
    if (s.bytes !== HEADER_BYTES + s.recordCount * m.recordBytes) errors.push(`shards[${i}].bytes ${s.bytes} ≠ header + records = ${HEADER_BYTES + s.recordCount * m.recordBytes}`);
  });
  const ids = m.shards.flatMap((s) => s.exampleIds);
  if (new Set(ids).size !== ids.length) errors.push('example ids are not unique');
  if (errors.length > 0) throw new TeacherCacheError(`${manifestUri} is inconsistent: ${errors.join('; ')}; ${RERUN}`);
}

/** The cache was built from the expected teacher, data shard and layers. */
function checkIdentity(manifestUri: string, m: CacheManifest, expected: ExpectedCacheIdentity): void {
  const fix = 're-run the cache stage with the current teacher, data and layer map';
  if (m.teacherHash !== expected.teacherHash) {
    throw new TeacherCacheError(`${manifestUri}: teacherHash "${m.teacherHash}" ≠ expected "${expected.teacherHash}" (cache from another teacher checkpoint); ${fix}`);
  }
  if (m.dataShardHash !== expected.dataShardHash) {
    throw new TeacherCacheError(`${manifestUri}: dataShardHash "${m.dataShardHash}" ≠ expected "${expected.dataShardHash}" (cache of other data); ${fix}`);
  }
  const key = (l: CachedLayer) => `${l.kind}/${l.teacherLayer}`;
  const have = [...new Set(m.layers.map(key))].sort();
  const want = [...new Set(expected.layers.map(key))].sort();
  if (have.join(',') !== want.join(',')) {
    throw new TeacherCacheError(`${manifestUri}: layers [${have.join(', ')}] ≠ expected [${want.join(', ')}] (the layer map changed); ${fix}`);
  }
}
