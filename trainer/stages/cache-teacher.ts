/**
 * CacheTeacherShard: runs the trained teacher once over one shard of the training split and
 * stores, per example, the attention maps of every teacher layer some student maps, plus the
 * teacher's logits (trainer/distill/cache). Students then train from the cache instead of
 * running the teacher every step.
 */
import { initBackend } from '../backend';
import { hasOnnxTeacher, type JobSpec } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import { openDataset, type PreparedDataset } from '../data/dataset';
import { cachedLayersOf, resolveLayerMap, TeacherCacheWriter, type CachedLayer, type TeacherLayerSet } from '../distill';
import type { ModelConfig } from '../model/config';
import { fitConfigToData } from '../jobs/task';
import { cacheDirForShard, cacheFields, LOGITS_FIELD } from '../jobs/teacher-signal';
import { openInferenceModelAlongside, type RuntimeInfo } from '../inference/model';
import { pipelineBatches } from '../inference/pipeline';
import { cacheShardWithOnnxTeacher } from '../onnx/onnx-cache';

/** Examples per forward pass of an ONNX teacher (a foreign model: its memory per example is not known here). */
const ONNX_TEACHER_CACHE_BATCH = 32;

/**
 * The teacher layers the run's students need from the cache: the union of their mappings.
 * Students with the `relation` baseline run the teacher online (they need Q/K/V, not maps);
 * `none` needs only the logits.
 */
export function cachedLayersForSpec(spec: JobSpec, teacher: ModelConfig | TeacherLayerSet, data: PreparedDataset): CachedLayer[] {
  const pairs = spec.students
    .filter((s) => s.distill.variant !== 'relation' && s.distill.variant !== 'none')
    .flatMap((s) => resolveLayerMap(teacher, fitConfigToData(s.model, data.manifest, data.tokenizer.vocabSize, `students[${s.name}].model`), s.distill.layerMap ?? 'uniform'));
  return cachedLayersOf(pairs);
}

export interface CacheShardArgs {
  readonly spec: JobSpec;
  readonly dataUri: string;
  readonly teacherUri: string;
  /** URI of the training-data shard to cache. */
  readonly shardUri: string;
  readonly cacheDir: string;
  /** The runtime that runs the teacher. @default 'auto' (ONNX Runtime when it loads and model.onnx exists) */
  readonly runtime?: 'auto' | 'tfjs' | 'onnxruntime';
  /** Told which runtime ran the teacher. */
  readonly onRuntime?: (runtime: RuntimeInfo) => void;
}

/** Writes the cache of one training shard; returns the URIs written. */
export async function cacheOneShard(a: CacheShardArgs): Promise<string[]> {
  await initBackend();
  const data = await openDataset(a.dataUri);
  const split = data.split('train');
  const shardIndex = split.entry.shards.findIndex((_, s) => split.shardUri(s) === a.shardUri || a.shardUri.endsWith('/' + split.entry.shards[s].file));
  if (shardIndex < 0) throw new Error(`shard ${a.shardUri} is not a shard of the training split in ${a.dataUri}`);
  const entry = split.entry.shards[shardIndex];
  if (hasOnnxTeacher(a.spec)) {
    const layersOf = (t: TeacherLayerSet) => cachedLayersForSpec(a.spec, t, data);
    return cacheShardWithOnnxTeacher({ spec: a.spec, teacher: a.spec.teacher, data, shardIndex, cacheDir: a.cacheDir, layersOf, batchSize: ONNX_TEACHER_CACHE_BATCH });
  }
  // The teacher's session is created while the shard and its images are read and checked.
  const runner = await openInferenceModelAlongside(a.teacherUri, { pixelStats: data.manifest.pixelStats, runtime: a.runtime }, split.load(shardIndex));
  try {
    a.onRuntime?.(runner.runtime);
    const teacher = runner.info;
    const config = teacher.metadata.config;
    const layers = cachedLayersForSpec(a.spec, config, data);
    const outDir = cacheDirForShard(a.cacheDir, entry.file);
    const writer = new TeacherCacheWriter({
      uri: outDir,
      dtype: a.spec.cache.dtype,
      fields: cacheFields(config, layers, data.manifest.task),
      layers,
      teacherHash: teacher.sha256,
      // The examples AND the image shard they point into: new pixels invalidate the cache too.
      dataShardHash: split.shardIdentity(shardIndex),
    });
    const first = split.shardRange(shardIndex).start;
    await pipelineBatches(
      Array.from({ length: entry.count }, (_, k) => first + k),
      runner.batchSize,
      (slice) => split.batch(slice),
      (batch) => runner.forward(batch, layers), // maps [B, Ht, Q, K], logits [B, A] or [B, Ld, V]
      async (batch, out) => {
        const arrays = [...Object.entries(out.attention), [LOGITS_FIELD, out.logits] as const].map(([name, x]) => [name, x.data, x.shape[0]!] as const);
        for (let b = 0; b < batch.size; b++) {
          const values: Record<string, Float32Array> = {};
          for (const [name, flat, rows] of arrays) {
            const per = flat.length / rows;
            values[name] = flat.subarray(b * per, (b + 1) * per);
          }
          await writer.append(batch.ids[b], values);
        }
      },
    );
    await writer.finish();
    return (await storageFor(outDir).list(outDir)).filter((u) => !/\.tmp-/.test(u));
  } finally {
    await runner.dispose();
  }
}
