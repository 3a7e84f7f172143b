/**
 * What the student learns from, per batch: the teacher's attention maps of the mapped layers and
 * its logits — computed online (a teacher forward pass each step, no gradient) or read from the
 * teacher-attention cache written once by the CacheTeacher stage. Both give the same tensors
 * (exactly for a float32 cache written on tfjs; to float32 round-off when the stage ran the
 * teacher's model.onnx on ONNX Runtime), so the loss does not know which one it got.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri } from '../../contract/storage';
import type { Batch } from '../data/batch';
import type { PreparedDataset } from '../data/dataset';
import { attentionFieldName, TeacherCacheReader, type CachedLayer, type CacheRecord } from '../distill';
import type { ModelConfig } from '../model/config';
import type { VLModel } from '../model';
import { batchTensors, disposeBatchTensors } from './task';
import { attentionMapShape, headsOf } from './map-shape';

/** Name of the cached logits field: answer logits `[A]` (VQA) or LM logits `[Ld, V]`. */
export const LOGITS_FIELD = 'logits';

export interface TeacherTensors {
  /** `[B, Ht, Q, K]` per `attentionFieldName(kind, teacherLayer)`. */
  readonly maps: Record<string, tf.Tensor4D>;
  /** `[B, A]` or `[B, Ld, V]`. */
  readonly logits: tf.Tensor;
  /** Q/K/V `[B, T, width]` per `attentionFieldName(kind, teacherLayer)` (online teacher with `qkvLayers`; the MiniLMv2 relation baseline). */
  readonly qkv?: Record<string, { q: tf.Tensor3D; k: tf.Tensor3D; v: tf.Tensor3D }>;
}

export interface TeacherSignal {
  /** Teacher outputs for a batch; the caller disposes them. */
  forBatch(batch: Batch): Promise<TeacherTensors>;
}

/** Runs the teacher on every batch (inference mode: no dropout, no gradient). */
export class OnlineTeacher implements TeacherSignal {
  constructor(
    private readonly teacher: VLModel,
    private readonly layers: readonly CachedLayer[],
    /** Self-attention layers whose Q/K/V the student needs (relation baseline). */
    private readonly qkvLayers: readonly CachedLayer[] = [],
  ) {}

  async forBatch(batch: Batch): Promise<TeacherTensors> {
    // tidy keeps the returned tensors (it walks the object) and frees the teacher's intermediates.
    return tf.tidy(() => teacherOutputs(this.teacher, batch, this.layers, this.qkvLayers) as unknown as tf.TensorContainer) as unknown as TeacherTensors;
  }
}

/** The teacher's maps of the given layers and its logits for a batch (inside the caller's tidy). */
export function teacherOutputs(teacher: VLModel, batch: Batch, layers: readonly CachedLayer[], qkvLayers: readonly CachedLayer[] = []): TeacherTensors {
  const bt = batchTensors(batch, teacher.config);
  const out = teacher.apply(bt.inputs, { training: false, returnAttention: layers.length > 0, returnQKV: qkvLayers.length > 0 });
  const maps: Record<string, tf.Tensor4D> = {};
  for (const { kind, teacherLayer } of layers) {
    const m = out.attention[kind]?.[teacherLayer];
    if (!m) throw new Error(`the teacher has no ${kind} attention layer ${teacherLayer}`);
    maps[attentionFieldName(kind, teacherLayer)] = m;
  }
  const logits = out.answerLogits ?? out.lmLogits;
  if (!logits) throw new Error('the teacher produced no logits (no answer head and no decoder input)');
  const qkv: NonNullable<TeacherTensors['qkv']> = {};
  for (const { kind, teacherLayer } of qkvLayers) {
    const x = out.qkv[kind]?.[teacherLayer];
    if (!x) throw new Error(`the teacher has no ${kind} Q/K/V at layer ${teacherLayer}`);
    qkv[attentionFieldName(kind, teacherLayer)] = x;
  }
  disposeBatchTensors(bt);
  return { maps, logits, ...(qkvLayers.length ? { qkv } : {}) };
}

/** Reads teacher outputs from the per-data-shard caches of the training split. */
export class CachedTeacher implements TeacherSignal {
  private constructor(
    private readonly readers: readonly TeacherCacheReader[],
    private readonly byId: ReadonlyMap<string, TeacherCacheReader>,
  ) {}

  /**
   * Opens `cacheUri/<data shard file stem>/` for every training shard and checks each cache's
   * identity (teacher weights hash, data shard hash, layer list): any mismatch is refused.
   */
  static async open(cacheUri: string, data: PreparedDataset, teacherHash: string, layers: readonly CachedLayer[]): Promise<CachedTeacher> {
    const split = data.split('train');
    const readers: TeacherCacheReader[] = [];
    const byId = new Map<string, TeacherCacheReader>();
    for (const [s, shard] of split.entry.shards.entries()) {
      const reader = await TeacherCacheReader.open(cacheDirForShard(cacheUri, shard.file), { teacherHash, dataShardHash: split.shardIdentity(s), layers });
      readers.push(reader);
      for (const id of reader.exampleIds()) byId.set(id, reader);
    }
    return new CachedTeacher(readers, byId);
  }

  async forBatch(batch: Batch): Promise<TeacherTensors> {
    const records: CacheRecord[] = [];
    for (const id of batch.ids) {
      const reader = this.byId.get(id);
      if (!reader) throw new Error(`example "${id}" is not in the teacher cache: the cache was made from other data; re-run the cache stage`);
      records.push(await reader.get(id));
    }
    const fields = this.readers[0].manifest.fields;
    const stacked = (name: string, shape: readonly number[]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const flat = new Float32Array(records.length * size);
      records.forEach((r, b) => flat.set(r.fields[name], b * size));
      return tf.tensor(flat, [records.length, ...shape]);
    };
    const maps: Record<string, tf.Tensor4D> = {};
    let logits: tf.Tensor | undefined;
    for (const f of fields) {
      if (f.name === LOGITS_FIELD) logits = stacked(f.name, f.shape);
      else maps[f.name] = stacked(f.name, f.shape) as tf.Tensor4D;
    }
    if (!logits) throw new Error(`the teacher cache has no "${LOGITS_FIELD}" field`);
    return { maps, logits };
  }
}

/** Cache folder of one training data shard: `<cacheUri>/<shard file without .bin>/`. */
export function cacheDirForShard(cacheUri: string, shardFile: string): string {
  return joinUri(cacheUri, shardFile.replace(/^.*\//, '').replace(/\.bin$/, ''));
}

/** Field list of a cache for this teacher and layer list: `[Ht, Q, K]` maps, then the logits. */
export function cacheFields(teacher: ModelConfig, layers: readonly CachedLayer[], task: string) {
  return [
    ...layers.map((l) => ({ name: attentionFieldName(l.kind, l.teacherLayer), shape: [headsOf(teacher, l.kind), ...attentionMapShape(teacher, l.kind)] })),
    { name: LOGITS_FIELD, shape: task === 'vqa' ? [teacher.numAnswers] : [teacher.maxTargetLength, teacher.vocabSize] },
  ];
}
