/** The teacher-attention cache: binary shards of fixed-size records plus a manifest. */
export { TeacherCacheWriter, DEFAULT_SHARD_BYTES, type TeacherCacheWriterOptions } from './writer';
export { TeacherCacheReader, type CacheRecord, type ExpectedCacheIdentity } from './reader';
export {
  attentionFieldName,
  cachedLayersOf,
  CACHE_DTYPES,
  CacheManifestSchema,
  MANIFEST_NAME,
  shardName,
  TeacherCacheError,
  type CacheDtype,
  type CacheField,
  type CachedLayer,
  type CacheManifest,
} from './format';
export { encodeFloat16Into, float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits, FLOAT16_MAX } from './float16';
