/**
 * The training jobs of a run (what one Batch container, or one local child process, does):
 * the teacher from ground truth, or one student seed by distillation from the teacher — from
 * the teacher cache when the run has one and the variant can use it, otherwise online.
 */
import { fingerprint, runLayout, runStageOnce } from '../../contract/layout';
import { hasTeacherCheckpoint, type JobSpec } from '../../contract/spec';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { runUriOfSpec, trainerJobStage, type TrainerJobArgs } from '../../contract/trainer-job';
import { runTrainJob, type TrainJobArgs, type TrainJobResult } from '../jobs/train-job';
import { cachedLayersForSpec } from './cache-teacher';
import type { StepInfo } from '../train/loop';

export interface TrainStageHooks {
  readonly onStep?: (info: StepInfo) => void;
  readonly shouldStop?: () => boolean;
}

/** The TrainJobArgs a trainer command stands for. */
export function trainJobArgs(spec: JobSpec, job: TrainerJobArgs, hooks: TrainStageHooks = {}): TrainJobArgs {
  const runUri = runUriOfSpec(job.specUri);
  const layout = runLayout(runUri);
  const { modelId } = trainerJobStage(job);
  const common = { dataUri: layout.data, modelDir: layout.model(modelId), checkpointDir: layout.checkpoints(modelId), onStep: hooks.onStep, shouldStop: hooks.shouldStop };
  if (job.role === 'teacher') {
    const teacher = spec.teacher;
    if (!('model' in teacher)) throw new Error('the spec names a teacher checkpoint: there is no teacher to train (the TrainTeacher stage should have been skipped)');
    return { ...common, name: 'teacher', model: teacher.model, train: teacher.train, provenance: { runUri, modelId } };
  }
  const student = spec.students.find((s) => s.name === job.student);
  if (!student) throw new Error(`--student ${job.student} is not in the spec (students: ${spec.students.map((s) => s.name).join(', ')})`);
  if (!student.seeds.includes(job.seed)) throw new Error(`--seed ${job.seed} is not among students.${student.name}.seeds [${student.seeds.join(', ')}]`);
  const teacherDir = hasTeacherCheckpoint(spec) ? toUri(spec.teacher.checkpoint) : layout.teacherModel;
  return {
    ...common,
    name: `${student.name}-seed${job.seed}`,
    model: student.model,
    train: { ...student.train, seed: job.seed },
    distill: {
      teacherDir,
      options: student.distill,
      cacheUri: spec.cache.enabled ? layout.cache : undefined,
      // The run's one cache holds every student's layers (what the CacheTeacher stage wrote).
      cacheLayers: (teacher, data) => cachedLayersForSpec(spec, teacher, data),
    },
    provenance: { runUri, modelId, student: student.name },
  };
}

/** Runs a training job once per run: skipped when its stage marker is valid (resume). */
export async function runTrainerJob(spec: JobSpec, job: TrainerJobArgs, hooks: TrainStageHooks = {}): Promise<{ result: TrainJobResult; skipped: boolean }> {
  const runUri = runUriOfSpec(job.specUri);
  const { stage } = trainerJobStage(job);
  const args = trainJobArgs(spec, job, hooks);
  // A student depends on its teacher: a retrained teacher (other weights) makes it stale.
  const inputHash = args.distill ? fingerprint({ teacher: await weightsSha256(args.distill.teacherDir), job: args.name }) : undefined;
  return runStageOnce(
    runUri,
    stage,
    async () => {
      const result = await runTrainJob(args);
      const files = [...['model.json', 'model.bin', 'train-log.jsonl'].map((f) => `${args.modelDir}/${f}`), ...result.onnxFiles];
      return { outputs: files, result };
    },
    { inputHash },
  );
}

/** sha256 of a saved model's weights, as recorded in its model.json. */
async function weightsSha256(modelDir: string): Promise<string> {
  const uri = joinUri(toUri(modelDir), 'model.json');
  const index = JSON.parse((await storageFor(uri).get(uri)).toString('utf8')) as { sha256?: string };
  if (!index.sha256) throw new Error(`${uri} has no weights checksum: it is not a model saved by amad-distill`);
  return index.sha256;
}
