/**
 * CacheTeacherShard for a teacher given as ONNX: runs it on ONNX Runtime over one training shard
 * and writes the same teacher cache a tfjs teacher writes (trainer/distill/cache): per example,
 * the maps `[H, Q, K]` of every declared teacher layer some student maps, keyed by the teacher's
 * own layer number, and the logits. Students then train from the cache exactly as from a tfjs
 * teacher's; the cache's teacherHash is the ONNX teacher's identity (model + sidecar).
 */
import type { JobSpec } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import type { PreparedDataset } from '../data/dataset';
import { attentionFieldName, TeacherCacheWriter, type CachedLayer, type TeacherLayerSet } from '../distill';
import { cacheDirForShard, LOGITS_FIELD } from '../jobs/teacher-signal';
import { pipelineBatches } from '../inference/pipeline';
import { checkLoadedTeacherForSpec } from './check-spec';
import { attentionOutput, declaredLayers, OnnxTeacher, type OnnxTeacherRef } from './onnx-teacher';

export interface OnnxCacheShardArgs {
  readonly spec: JobSpec;
  readonly teacher: OnnxTeacherRef;
  readonly data: PreparedDataset;
  /** Index of the training shard to cache. */
  readonly shardIndex: number;
  readonly cacheDir: string;
  /** The layers the run's students need from the cache (stages/cache-teacher.ts `cachedLayersForSpec`). */
  readonly layersOf: (teacher: TeacherLayerSet) => CachedLayer[];
  readonly batchSize: number;
}

/** Writes the cache of one training shard; returns the URIs written. */
export async function cacheShardWithOnnxTeacher(a: OnnxCacheShardArgs): Promise<string[]> {
  const split = a.data.split('train');
  const entry = split.entry.shards[a.shardIndex]!;
  const teacher = await OnnxTeacher.load(a.teacher);
  try {
    // The same check as Validate (one probe batch): it is the first place a Validate that had no
    // ONNX Runtime (an AWS Lambda bundled without it) can refuse a bad teacher, still before training.
    await checkLoadedTeacherForSpec({ ...a.spec, teacher: { ...a.teacher } }, teacher);
    const layers = a.layersOf({ declaredLayers: declaredLayers(teacher.sidecar) });
    const outputs = layers.map((l) => ({ field: attentionFieldName(l.kind, l.teacherLayer), output: attentionOutput(teacher.sidecar, l.kind, l.teacherLayer).output }));
    const outDir = cacheDirForShard(a.cacheDir, entry.file);
    let writer: TeacherCacheWriter | undefined;
    const first = split.shardRange(a.shardIndex).start;
    await pipelineBatches(
      Array.from({ length: entry.count }, (_, k) => first + k),
      a.batchSize,
      (slice) => split.batch(slice),
      (batch) => teacher.run(batch, a.data.manifest.pixelStats, outputs.map((o) => o.output)),
      async (batch, out) => {
        const named = [...outputs.map((o) => [o.field, out.maps[o.output]!] as const), [LOGITS_FIELD, out.logits] as const];
        // The record layout comes from what the model returned (checked against the sidecar by the Validate stage).
        writer ??= new TeacherCacheWriter({
          uri: outDir,
          dtype: a.spec.cache.dtype,
          fields: named.map(([name, t]) => ({ name, shape: t.dims.slice(1) })),
          layers,
          teacherHash: teacher.sha256,
          // The examples AND the image shard they point into (as the tfjs cache stage): new pixels invalidate the cache too.
          dataShardHash: split.shardIdentity(a.shardIndex),
        });
        for (let b = 0; b < batch.size; b++) {
          const values: Record<string, Float32Array> = {};
          for (const [name, t] of named) {
            const per = t.data.length / t.dims[0]!;
            values[name] = t.data.subarray(b * per, (b + 1) * per);
          }
          await writer.append(batch.ids[b]!, values);
        }
      },
    );
    if (!writer) throw new Error(`training shard ${entry.file} holds no examples`);
    await writer.finish();
    return (await storageFor(outDir).list(outDir)).filter((u) => !/\.tmp-/.test(u));
  } finally {
    await teacher.release();
  }
}
