/**
 * On-storage format of the teacher-attention cache (one cache folder per data shard):
 *
 *   <folder>/shard-00000.bin …   header (16 bytes) + recordCount fixed-size records
 *   <folder>/manifest.json       written last: shapes, dtype, layers, hashes, ids, sha256s
 *
 * Header, little-endian: magic "AMTC" (4 bytes), u16 format version, u8 dtype code
 * (0 = float32, 1 = float16), u8 reserved (0), u32 record bytes, u32 record count.
 * A record is every field's values, row-major, in manifest `fields` order, in the cache dtype.
 * Example ids live in the manifest (per shard, in record order), not in the records.
 */
import { endianness } from 'node:os';
import { z } from 'zod';
import type { AttentionKind } from '../../model/types';
import { ATTENTION_KIND_ENUM, type MappedPair } from '../layer-map';

export const CACHE_MAGIC = 'AMTC';
export const CACHE_VERSION = 1;
export const HEADER_BYTES = 16;
export const MANIFEST_NAME = 'manifest.json';
export const CACHE_DTYPES = ['float32', 'float16'] as const;
export type CacheDtype = (typeof CACHE_DTYPES)[number];
export const DTYPE_CODE: Record<CacheDtype, number> = { float32: 0, float16: 1 };
export const BYTES_PER_VALUE: Record<CacheDtype, number> = { float32: 4, float16: 2 };

/** Shard file name of shard `index` (`shard-00003.bin`). */
export function shardName(index: number): string {
  return `shard-${String(index).padStart(5, '0')}.bin`;
}

/** Field name of the cached maps of one teacher attention module (`attn/fusionSelf/3`). */
export function attentionFieldName(kind: AttentionKind, teacherLayer: number): string {
  return `attn/${kind}/${teacherLayer}`;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest');
const count = z.number().int().nonnegative();

export const CacheFieldSchema = z.strictObject({
  /** Unique within a cache, e.g. `attn/fusionSelf/3` or `logits`. */
  name: z.string().min(1),
  /** Fixed shape of the field in every record, e.g. `[Ht, Q, K]`, `[A]` or `[Ld, V]`. */
  shape: z.array(z.number().int().positive()).min(1),
});
export type CacheField = z.infer<typeof CacheFieldSchema>;

export const CachedLayerSchema = z.strictObject({
  kind: z.enum(ATTENTION_KIND_ENUM),
  teacherLayer: count,
});
export type CachedLayer = z.infer<typeof CachedLayerSchema>;

export const CacheShardSchema = z.strictObject({
  file: z.string().regex(/^shard-\d{5}\.bin$/),
  bytes: count,
  sha256: sha256Hex,
  recordCount: count,
  exampleIds: z.array(z.string()),
});
export type CacheShard = z.infer<typeof CacheShardSchema>;

export const CacheManifestSchema = z.strictObject({
  format: z.literal('amad-teacher-cache'),
  version: z.literal(CACHE_VERSION),
  dtype: z.enum(CACHE_DTYPES),
  fields: z.array(CacheFieldSchema).min(1),
  /** The mapped teacher attention modules whose maps are cached. */
  layers: z.array(CachedLayerSchema),
  /** Identity of the teacher checkpoint that produced the cache. */
  teacherHash: z.string().min(1),
  /** Identity of the data shard the cache covers. */
  dataShardHash: z.string().min(1),
  headerBytes: z.literal(HEADER_BYTES),
  recordBytes: z.number().int().positive(),
  recordCount: count,
  shards: z.array(CacheShardSchema),
});
export type CacheManifest = z.infer<typeof CacheManifestSchema>;

/**
 * The teacher modules a set of mapped pairs needs cached: each (kind, teacherLayer) once, in kind
 * order then layer order (several student layers may learn from one teacher layer).
 */
export function cachedLayersOf(pairs: readonly MappedPair[]): CachedLayer[] {
  const seen = new Map<string, CachedLayer>();
  for (const p of pairs) seen.set(`${p.kind}/${p.teacherLayer}`, { kind: p.kind, teacherLayer: p.teacherLayer });
  const kindOrder = (k: string) => (ATTENTION_KIND_ENUM as readonly string[]).indexOf(k);
  return [...seen.values()].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || a.teacherLayer - b.teacherLayer);
}

/** Values per record of each field, and bytes per record. */
export function recordLayout(fields: readonly CacheField[], dtype: CacheDtype): { sizes: number[]; recordBytes: number } {
  const sizes = fields.map((f) => f.shape.reduce((a, b) => a * b, 1));
  return { sizes, recordBytes: sizes.reduce((a, b) => a + b, 0) * BYTES_PER_VALUE[dtype] };
}

export function encodeHeader(dtype: CacheDtype, recordBytes: number, recordCount: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(CACHE_MAGIC, 0, 'latin1');
  header.writeUInt16LE(CACHE_VERSION, 4);
  header.writeUInt8(DTYPE_CODE[dtype], 6);
  header.writeUInt32LE(recordBytes, 8);
  header.writeUInt32LE(recordCount, 12);
  return header;
}

export interface ShardHeader {
  readonly magic: string;
  readonly version: number;
  readonly dtypeCode: number;
  readonly recordBytes: number;
  readonly recordCount: number;
}

export function decodeHeader(bytes: Buffer): ShardHeader {
  return {
    magic: bytes.toString('latin1', 0, 4),
    version: bytes.readUInt16LE(4),
    dtypeCode: bytes.readUInt8(6),
    recordBytes: bytes.readUInt32LE(8),
    recordCount: bytes.readUInt32LE(12),
  };
}

/** Records hold raw typed-array bytes; every platform Node runs on here is little-endian. */
export function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('the teacher cache format is little-endian; this host is big-endian (unsupported)');
}

/** Thrown for an unusable cache; the message names the file and the fix. */
export class TeacherCacheError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeacherCacheError';
  }
}
