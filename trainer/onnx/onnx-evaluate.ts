/**
 * The Evaluate stage for a teacher given as ONNX: the teacher's own metric, from the same ONNX
 * model the cache ran, on the same split and with the same scoring as the students (VQA: the
 * answer of the highest logit; the shared `predictVqaShard` scores it), plus its cost measured
 * on ONNX Runtime.
 */
import { onnx } from 'onnx-proto';
import { TEACHER_MODEL_ID, runLayout } from '../../contract/layout';
import { hasOnnxTeacher, type JobSpec } from '../../contract/spec';
import { storageFor, toUri } from '../../contract/storage';
import type { Batch } from '../data/batch';
import { openDataset, type SplitReader } from '../data/dataset';
import { latencyStats } from '../eval';
import { EvalPartSchema, type EvalPart, type EvalResult } from '../eval/result-schema';
import type { EvaluateShardArgs, StageFiles } from '../stages/index';
import { EvaluationError, predictVqaShard, shardExampleIndices } from '../stages/evaluate';
import { LATENCY_BATCH_SIZES } from '../stages/evaluate-cost';
import { normalizeVqaAnswer } from '../data/vqa-normalize';
import { OnnxTeacher } from './onnx-teacher';

/** True when `modelId` is the run's teacher and the spec gives it as ONNX. */
export function isOnnxTeacherModel(spec: JobSpec, modelId: string): spec is JobSpec & { teacher: { onnx: string; sidecar: string } } {
  return modelId === TEACHER_MODEL_ID && hasOnnxTeacher(spec);
}

function teacherRef(spec: JobSpec) {
  if (!hasOnnxTeacher(spec)) throw new Error('the spec names no ONNX teacher');
  return { onnx: spec.teacher.onnx, sidecar: spec.teacher.sidecar };
}

/** The class of the highest logit per example, as the data names it (the data's classes are the teacher's, in its logit order). */
async function answersOf(teacher: OnnxTeacher, batch: Batch, stats: { mean: readonly number[]; std: readonly number[] }, answers: readonly string[]): Promise<string[]> {
  const { logits } = await teacher.run(batch, stats, []);
  const [B, A] = logits.dims as [number, number];
  return Array.from({ length: B }, (_, b) => {
    let best = 0;
    for (let k = 1; k < A; k++) if (logits.data[b * A + k]! > logits.data[b * A + best]!) best = k;
    return answers[best]!;
  });
}

/** evaluateShard for an ONNX teacher (VQA). */
export async function evaluateShardWithOnnxTeacher(args: EvaluateShardArgs): Promise<StageFiles> {
  const { spec, model: ref, shardIndex } = args;
  const teacher = await OnnxTeacher.load(teacherRef(spec));
  try {
    const dataset = await openDataset(runLayout(args.runUri).data);
    const task = dataset.manifest.task;
    if (task !== 'vqa' || teacher.sidecar.task !== 'vqa') throw new EvaluationError(`the ONNX teacher ${ref.modelUri} is a ${teacher.sidecar.task} model and the data is ${task}: ONNX teachers are evaluated on VQA only`);
    const dataAnswers = dataset.answerVocab;
    const answers = teacher.sidecar.answers!;
    if (answers.length !== dataAnswers.length || answers.some((a, i) => normalizeVqaAnswer(a) !== dataAnswers[i])) {
      throw new EvaluationError(`the ONNX teacher's answer classes (sidecar "answers", ${answers.length}) differ from the run's data (${dataAnswers.length}): the data must be prepared with the teacher's classes; re-run prepare-data`);
    }
    const split = dataset.split(spec.evaluation.split);
    if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= split.numShards) {
      throw new EvaluationError(`evaluateShard: shardIndex ${shardIndex} is outside the ${split.name} split's ${split.numShards} shard(s)`);
    }
    if (toUri(args.shardUri) !== split.shardUri(shardIndex)) {
      throw new EvaluationError(`evaluateShard: shard ${shardIndex} of the ${split.name} split is ${split.shardUri(shardIndex)}, but the stage was given ${args.shardUri}; re-run prepare-data`);
    }
    const indices = shardExampleIndices(split, shardIndex, spec.evaluation.maxExamples);
    const predicted = await predictVqaShard((b) => answersOf(teacher, b, dataset.manifest.pixelStats, dataAnswers), dataset, split, indices);
    const part: EvalPart = {
      version: 1,
      modelId: ref.modelId,
      modelUri: ref.modelUri,
      modelSha256: teacher.sha256,
      task,
      split: spec.evaluation.split,
      shardIndex,
      count: predicted.ids.length,
      ...predicted,
      decoding: null,
      runtime: `onnxruntime ${teacher.runtime} (ONNX teacher)`,
      createdAt: new Date().toISOString(),
    };
    await storageFor(args.outUri).put(args.outUri, JSON.stringify(EvalPartSchema.parse(part)));
    return { outputs: [args.outUri] };
  } finally {
    await teacher.release();
  }
}

/** Elements of the float initializers of an ONNX graph: its weights. */
export function onnxParameterCount(model: Uint8Array): number {
  const m = onnx.ModelProto.decode(model);
  const floatTypes = new Set<number>([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.BFLOAT16]);
  let n = 0;
  for (const t of m.graph?.initializer ?? []) {
    if (floatTypes.has(t.dataType ?? 0)) n += (t.dims ?? []).reduce<number>((p, d) => p * Number(d), 1);
  }
  return n;
}

/** The ONNX teacher's cost: parameters and file size from the model, latency on ONNX Runtime (FLOPs unknown: null). */
export async function onnxTeacherCost(spec: JobSpec, first: EvalPart, split: SplitReader): Promise<EvalResult['cost']> {
  const ref = teacherRef(spec);
  const teacher = await OnnxTeacher.load(ref);
  try {
    if (teacher.sha256 !== first.modelSha256) {
      throw new EvaluationError(`the ONNX teacher ${ref.onnx} or its sidecar changed since it was evaluated (identity ${teacher.sha256}, the parts say ${first.modelSha256}); re-run its evaluation`);
    }
    const uri = toUri(ref.onnx);
    const bytes = await storageFor(uri).get(uri);
    const stats = split.dataset.manifest.pixelStats;
    const [small, large] = LATENCY_BATCH_SIZES;
    const indices = Array.from({ length: large }, (_, i) => i % split.size);
    const time = async (batch: Batch) => {
      const { warmup, runs } = spec.evaluation.latency;
      for (let i = 0; i < warmup; i++) await teacher.run(batch, stats, []);
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await teacher.run(batch, stats, []);
        samples.push(performance.now() - start);
      }
      return latencyStats(samples);
    };
    const batch1 = await time(await split.batch(indices.slice(0, small)));
    const batch32 = await time(await split.batch(indices));
    return {
      params: onnxParameterCount(bytes),
      flops: null,
      weightBytes: teacher.modelBytes,
      latency: { backend: 'onnxruntime-node (cpu)', warmup: spec.evaluation.latency.warmup, runs: spec.evaluation.latency.runs, batch1, batch32 },
      notes: [
        'ONNX teacher: params = elements of the float initializers of the ONNX graph; weightBytes = the .onnx file size; flops not computed (null)',
        'latency: wall-clock ms per ONNX Runtime call (logits only, input conversion included) on a possibly shared machine; not comparable with the tfjs students\' latency (another runtime)',
      ],
    };
  } finally {
    await teacher.release();
  }
}
