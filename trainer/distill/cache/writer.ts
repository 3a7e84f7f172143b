/**
 * Writes a teacher-attention cache: records are appended in example order into fixed-size
 * shards; each full shard is written atomically (storage `put`), and `finish()` writes the last
 * shard and then the manifest. A reader only trusts a folder with a manifest, so a crashed
 * writer leaves nothing that looks complete.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, type Storage } from '../../../contract/storage';
import { encodeFloat16Into, FLOAT16_MAX } from './float16';
import {
  assertLittleEndian,
  CACHE_VERSION,
  CacheFieldSchema,
  CachedLayerSchema,
  encodeHeader,
  HEADER_BYTES,
  MANIFEST_NAME,
  recordLayout,
  shardName,
  TeacherCacheError,
  type CacheDtype,
  type CacheField,
  type CachedLayer,
  type CacheManifest,
  type CacheShard,
} from './format';

/** Target shard size when `recordsPerShard` is not given: bounds reader and writer memory. */
export const DEFAULT_SHARD_BYTES = 64 * 1024 * 1024;

export interface TeacherCacheWriterOptions {
  /** Cache folder (file:// URI, local path or s3:// prefix). */
  readonly uri: string;
  /** Storage type of the values. @default 'float16' (half the bytes; maps and logits fit its range) */
  readonly dtype?: CacheDtype;
  /** The per-example arrays, in record order, with fixed shapes. */
  readonly fields: readonly CacheField[];
  /** The mapped teacher attention modules the cache holds (checked again by the reader). */
  readonly layers: readonly CachedLayer[];
  /** Identity of the teacher checkpoint. */
  readonly teacherHash: string;
  /** Identity of the data shard being cached. */
  readonly dataShardHash: string;
  /** Records per shard file. @default as many as fit in 64 MiB (at least 1) */
  readonly recordsPerShard?: number;
}

export class TeacherCacheWriter {
  private readonly storage: Storage;
  private readonly dtype: CacheDtype;
  private readonly sizes: number[];
  private readonly recordBytes: number;
  private readonly recordsPerShard: number;
  private readonly shards: CacheShard[] = [];
  private readonly seenIds = new Set<string>();
  /** The shard being filled; allocated at its first record (not after the last shard: it is large). */
  private shardBuffer: Buffer | null = null;
  private shardIds: string[] = [];
  private finished = false;

  constructor(private readonly options: TeacherCacheWriterOptions) {
    assertLittleEndian();
    this.storage = storageFor(options.uri);
    this.dtype = options.dtype ?? 'float16';
    const errors: string[] = [];
    if (options.fields.length === 0) errors.push('fields must list at least one field');
    options.fields.forEach((f, i) => {
      const r = CacheFieldSchema.safeParse(f);
      if (!r.success) errors.push(`fields[${i}] ${JSON.stringify(f)}: ${r.error.issues.map((x) => `${x.path.join('.')} ${x.message}`).join(', ')}`);
    });
    const names = options.fields.map((f) => f.name);
    if (new Set(names).size !== names.length) errors.push(`field names must be unique, got ${names.join(', ')}`);
    options.layers.forEach((l, i) => {
      if (!CachedLayerSchema.safeParse(l).success) errors.push(`layers[${i}] ${JSON.stringify(l)} must be { kind, teacherLayer }`);
    });
    if (!options.teacherHash) errors.push('teacherHash must be a non-empty string');
    if (!options.dataShardHash) errors.push('dataShardHash must be a non-empty string');
    if (options.recordsPerShard !== undefined && !(Number.isInteger(options.recordsPerShard) && options.recordsPerShard > 0)) {
      errors.push(`recordsPerShard must be a positive integer, got ${options.recordsPerShard}`);
    }
    if (errors.length > 0) throw new TeacherCacheError(`TeacherCacheWriter(${options.uri}): ${errors.join('; ')}`);
    const layout = recordLayout(options.fields, this.dtype);
    this.sizes = layout.sizes;
    this.recordBytes = layout.recordBytes;
    this.recordsPerShard = options.recordsPerShard ?? Math.max(1, Math.floor(DEFAULT_SHARD_BYTES / this.recordBytes));
  }

  /** Bytes of one record (the cache cost per example, headers and manifest aside). */
  get bytesPerRecord(): number {
    return this.recordBytes;
  }

  /**
   * Appends one example's arrays (each the flat row-major values of its field's shape). Writes
   * the current shard when it is full.
   * @throws TeacherCacheError for a duplicate id, a missing/unknown field, a wrong length, or a
   *   float16 cache given a value beyond ±65504.
   */
  async append(exampleId: string, values: Readonly<Record<string, ArrayLike<number>>>): Promise<void> {
    if (this.finished) throw new TeacherCacheError(`TeacherCacheWriter(${this.options.uri}): append after finish()`);
    if (this.seenIds.has(exampleId)) throw new TeacherCacheError(`TeacherCacheWriter: example id "${exampleId}" appended twice`);
    const unknown = Object.keys(values).filter((k) => !this.options.fields.some((f) => f.name === k));
    if (unknown.length > 0) {
      throw new TeacherCacheError(`TeacherCacheWriter: example "${exampleId}" has unknown field(s) ${unknown.join(', ')}; declared: ${this.options.fields.map((f) => f.name).join(', ')}`);
    }
    let offset = HEADER_BYTES + this.shardIds.length * this.recordBytes;
    this.options.fields.forEach((field, i) => {
      const data = values[field.name];
      if (data === undefined) throw new TeacherCacheError(`TeacherCacheWriter: example "${exampleId}" is missing field "${field.name}"`);
      if (data.length !== this.sizes[i]) {
        throw new TeacherCacheError(
          `TeacherCacheWriter: example "${exampleId}" field "${field.name}" has ${data.length} values; shape [${field.shape.join(',')}] needs ${this.sizes[i]}`,
        );
      }
      offset += this.encodeInto(data, offset, exampleId, field.name);
    });
    this.seenIds.add(exampleId);
    this.shardIds.push(exampleId);
    if (this.shardIds.length === this.recordsPerShard) await this.flushShard();
  }

  /** Writes the last shard, then the manifest (last, so its presence means "complete"). */
  async finish(): Promise<CacheManifest> {
    if (this.finished) throw new TeacherCacheError(`TeacherCacheWriter(${this.options.uri}): finish() called twice`);
    if (this.shardIds.length > 0) await this.flushShard();
    this.finished = true;
    const manifest: CacheManifest = {
      format: 'amad-teacher-cache',
      version: CACHE_VERSION,
      dtype: this.dtype,
      fields: this.options.fields.map((f) => ({ name: f.name, shape: [...f.shape] })),
      layers: this.options.layers.map((l) => ({ kind: l.kind, teacherLayer: l.teacherLayer })),
      teacherHash: this.options.teacherHash,
      dataShardHash: this.options.dataShardHash,
      headerBytes: HEADER_BYTES,
      recordBytes: this.recordBytes,
      recordCount: this.seenIds.size,
      shards: this.shards,
    };
    await this.storage.put(joinUri(this.options.uri, MANIFEST_NAME), JSON.stringify(manifest, null, 1));
    return manifest;
  }

  /** Encodes `data` at byte `offset` of the shard buffer; returns the bytes written. */
  private encodeInto(data: ArrayLike<number>, offset: number, exampleId: string, field: string): number {
    const buf = (this.shardBuffer ??= this.newShardBuffer());
    if (this.dtype === 'float32') {
      // Assigning through a Float32Array view of a fresh copy avoids unaligned views into buf.
      const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
      buf.set(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength), offset);
      return f32.byteLength;
    }
    // Converted straight into the shard buffer (records start at even offsets: 16-byte header,
    // float16 fields), the range checked in the same pass.
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    const at = buf.byteOffset + offset;
    const out = at % 2 === 0 ? new Uint16Array(buf.buffer, at, f32.length) : new Uint16Array(f32.length);
    const beyond = encodeFloat16Into(f32, out);
    if (beyond >= 0) {
      throw new TeacherCacheError(
        `TeacherCacheWriter: example "${exampleId}" field "${field}" value ${f32[beyond]} at index ${beyond} is beyond float16's ±${FLOAT16_MAX}; use dtype "float32"`,
      );
    }
    if (out.buffer !== buf.buffer) buf.set(new Uint8Array(out.buffer), offset);
    return out.byteLength;
  }

  private newShardBuffer(): Buffer {
    return Buffer.alloc(HEADER_BYTES + this.recordsPerShard * this.recordBytes);
  }

  private async flushShard(): Promise<void> {
    const count = this.shardIds.length;
    const bytes = this.shardBuffer!.subarray(0, HEADER_BYTES + count * this.recordBytes);
    encodeHeader(this.dtype, this.recordBytes, count).copy(bytes, 0);
    const file = shardName(this.shards.length);
    const written = this.storage.put(joinUri(this.options.uri, file), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex'); // while the write is in flight
    await written;
    this.shards.push({ file, bytes: bytes.length, sha256, recordCount: count, exampleIds: this.shardIds });
    this.shardIds = [];
    this.shardBuffer = null;
  }
}
