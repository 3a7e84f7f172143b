/**
 * The command line of a training job, the only thing the container (or the local child process)
 * receives: `--job <spec uri> --role teacher` or `--job <spec uri> --role student --student <name>
 * --seed <n>`. Built by the Validate stage, parsed by the trainer entry point and by the local
 * executor (which checks the job's stage marker before spawning it).
 */
import { z } from 'zod';
import { Stage, studentModelId, TEACHER_MODEL_ID } from './layout';
import { RUN_ID_PATTERN, STUDENT_NAME_PATTERN } from './spec';

export type TrainerJobArgs =
  | { readonly specUri: string; readonly role: 'teacher' }
  | { readonly specUri: string; readonly role: 'student'; readonly student: string; readonly seed: number };

/** The container command of a job (arguments after the entry point). */
export function buildTrainerCommand(job: TrainerJobArgs): string[] {
  const base = ['--job', job.specUri, '--role', job.role];
  return job.role === 'teacher' ? base : [...base, '--student', job.student, '--seed', String(job.seed)];
}

const ArgsSchema = z.discriminatedUnion('role', [
  z.strictObject({ specUri: z.string().min(1), role: z.literal('teacher') }),
  z.strictObject({
    specUri: z.string().min(1),
    role: z.literal('student'),
    student: z.string().regex(STUDENT_NAME_PATTERN, '--student must be a student name from the spec'),
    seed: z.coerce.number().int().nonnegative('--seed must be an integer ≥ 0'),
  }),
]);

/** Parses a trainer command line (flags in any order). @throws Error naming the bad or missing flag */
export function parseTrainerCommand(argv: readonly string[]): TrainerJobArgs {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected trainer argument "${a}" (expected --job, --role, --student, --seed)`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`trainer flag ${a} needs a value`);
    flags[a.slice(2)] = value;
    i++;
  }
  const { job, role, ...rest } = flags;
  const r = ArgsSchema.safeParse({ specUri: job, role, ...rest });
  if (!r.success) {
    const flag = (p: PropertyKey | undefined) => (p === 'specUri' ? '--job' : p === undefined ? 'arguments' : `--${String(p)}`);
    const msg = r.error.issues
      .map((i) => (i.code === 'unrecognized_keys' ? `unknown flag(s) ${i.keys.map((k) => `--${k}`).join(', ')}` : `${flag(i.path[0])}: ${i.message}`))
      .join('; ');
    throw new Error(`invalid trainer command [${argv.join(' ')}]: ${msg}`);
  }
  return r.data;
}

/** The run folder of a job: the spec lives at `<runUri>/spec.json`. */
export function runUriOfSpec(specUri: string): string {
  if (!specUri.endsWith('/spec.json')) throw new Error(`job spec URI ${specUri} is not a run's spec.json (expected <run>/spec.json)`);
  return specUri.slice(0, -'/spec.json'.length);
}

/** Stage id and model id of a training job. */
export function trainerJobStage(job: TrainerJobArgs): { stage: string; modelId: string } {
  return job.role === 'teacher'
    ? { stage: Stage.trainTeacher, modelId: TEACHER_MODEL_ID }
    : { stage: Stage.trainStudent(job.student, job.seed), modelId: studentModelId(job.student, job.seed) };
}

/** Batch job names: ≤ 128 characters of letters, digits, "-" and "_". */
export function trainerJobName(runId: string, job: TrainerJobArgs): string {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error(`invalid runId "${runId}"`);
  return job.role === 'teacher' ? `${runId}-teacher` : `${runId}-${job.student}-seed${job.seed}`;
}

/**
 * A Lambda stage run as a Batch job (the planner placed it there: contract/placement): the
 * container receives `--stage <TaskStateName> --event <the Lambda's event as JSON>`, built by the
 * state machine with intrinsic functions, and runs the same handler code as the Lambda.
 */
export const STAGE_JOB_FLAG = '--stage';

export interface StageJobArgs {
  /** The Lambda Task state this job stands in for (TaskState.cacheTeacherShard, ...). */
  readonly stage: string;
  readonly event: unknown;
}

/** True when a container command is a stage job (not a training job). */
export const isStageCommand = (argv: readonly string[]): boolean => argv[0] === STAGE_JOB_FLAG;

/** Parses `--stage <name> --event <json>`. @throws Error naming the bad flag */
export function parseStageCommand(argv: readonly string[]): StageJobArgs {
  if (argv.length !== 4 || argv[0] !== STAGE_JOB_FLAG || argv[2] !== '--event') {
    throw new Error(`invalid stage command [${argv.join(' ')}]: expected --stage <state name> --event <json>`);
  }
  let event: unknown;
  try {
    event = JSON.parse(argv[3]);
  } catch (e) {
    throw new Error(`invalid stage command: --event is not JSON (${(e as Error).message})`);
  }
  return { stage: argv[1], event };
}
