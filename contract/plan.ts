/**
 * The run plan: what a validated spec means for the state machine (which jobs, which models,
 * which choices). Computed once by the Validate stage and carried as `$.run`.
 */
import type { RunPlan } from './events';
import { runLayout, Stage, studentModelId, TEACHER_MODEL_ID } from './layout';
import { hasTeacherCheckpoint, parseJobSpecText, type JobSpec } from './spec';
import { storageFor, toUri } from './storage';
import { buildTrainerCommand, trainerJobName } from './trainer-job';
import { planScale, type PlacementOptions } from './placement';
import { ConfigError } from '../trainer/model/config';

/** A spec whose plan does not fit the AWS limits (each problem names the stage and the fix). */
export class PlacementError extends ConfigError {
  constructor(problems: readonly string[]) {
    super(`the run does not fit the AWS limits (see \`amad plan <spec>\`):\n` + problems.map((p) => `  - ${p}`).join('\n'), problems.map((message) => ({ path: 'compute.placement', message })));
    this.name = 'PlacementError';
  }
}

/**
 * The run plan of a validated spec, with every data-sized stage placed (contract/placement).
 * @throws PlacementError when the plan does not fit (a pinned placement over its limit, ...)
 */
export function planRun(spec: JobSpec, runId: string, runUri: string, opts: PlacementOptions = {}): RunPlan {
  const base = planRunWithoutPlacement(spec, runId, runUri);
  const scale = planScale(spec, base, opts);
  if (scale.problems.length) throw new PlacementError(scale.problems);
  const placed = (stage: string, pin: 'auto' | 'lambda' | 'batch') => scale.placement.stages.find((s) => s.stage === stage)?.placement ?? (pin === 'batch' ? 'batch' : 'lambda');
  const pins = spec.compute.placement;
  return {
    ...base,
    placement: { prepare: placed('prepare', pins.prepare), cacheTeacher: placed('cacheTeacher', pins.cacheTeacher), evaluate: placed('evaluate', pins.evaluate) },
  };
}

/** The run plan without placement (what the scale planner measures the state of). */
export function planRunWithoutPlacement(spec: JobSpec, runId: string, runUri: string): Omit<RunPlan, 'placement'> {
  const layout = runLayout(runUri);
  const specUri = layout.spec;
  const given = hasTeacherCheckpoint(spec);
  const teacherJob = { specUri, role: 'teacher' as const };
  const teacherUri = given ? toUri(spec.teacher.checkpoint) : layout.teacherModel;
  const studentJobs = spec.students.flatMap((s) =>
    s.seeds.map((seed) => {
      const job = { specUri, role: 'student' as const, student: s.name, seed };
      return { student: s.name, seed, modelId: studentModelId(s.name, seed), jobName: trainerJobName(runId, job), command: buildTrainerCommand(job) };
    }),
  );
  return {
    runId,
    runUri,
    specUri,
    teacher: {
      modelUri: teacherUri,
      trainRequired: !given,
      job: given ? null : { jobName: trainerJobName(runId, teacherJob), command: buildTrainerCommand(teacherJob) },
    },
    cacheEnabled: spec.cache.enabled,
    evalSplit: spec.evaluation.split,
    maxParallelJobs: spec.compute.maxParallelJobs,
    jobTimeoutSeconds: spec.compute.jobTimeoutMinutes * 60,
    studentJobs,
    models: [
      // A given checkpoint has no stage of this run to wait for.
      { modelId: TEACHER_MODEL_ID, modelUri: teacherUri, stage: given ? null : Stage.trainTeacher },
      ...studentJobs.map((j) => ({ modelId: j.modelId, modelUri: layout.model(j.modelId), stage: Stage.trainStudent(j.student, j.seed) })),
    ],
  };
}

/** Reads and validates a run's normalised spec (`<run>/spec.json`). @throws ConfigError naming the file */
export async function readRunSpec(specUri: string): Promise<JobSpec> {
  const text = (await storageFor(specUri).get(specUri)).toString('utf8');
  return parseJobSpecText(text, specUri);
}
