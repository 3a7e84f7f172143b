/**
 * Runs a Lambda stage's handler as a Batch job (trainer/main.ts `--stage <state> --event <json>`):
 * when the planner finds a stage's work too big for its function (contract/placement), the state
 * machine submits this instead of invoking the Lambda. Same handler, same event, same stage
 * markers, so a resumed run skips what either placement committed. Only the limits differ:
 * the job's are Batch's (compute.jobTimeoutMinutes), not the function's.
 */
import { TaskState } from '../contract/state-machine';
import type { StageJobArgs } from '../contract/trainer-job';

type Handler = (event: unknown) => Promise<unknown>;

/** Handler of each stage that may be placed on Batch (literal requires: bundlers must see them). */
const STAGE_HANDLERS: Readonly<Record<string, () => Handler>> = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  [TaskState.prepareData]: () => (require('./prepare-data/handler') as { handler: Handler }).handler,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  [TaskState.cacheTeacherShard]: () => (require('./cache-teacher/handler') as { handler: Handler }).handler,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  [TaskState.evaluateShard]: () => (require('./evaluate/handler') as { handler: Handler }).handler,
};

/** Runs the stage's handler on the event. @throws Error for a stage that cannot run as a job */
export async function runStageJob(job: StageJobArgs): Promise<unknown> {
  const load = STAGE_HANDLERS[job.stage];
  if (!load) throw new Error(`stage "${job.stage}" cannot run as a Batch job (expected one of ${Object.keys(STAGE_HANDLERS).join(', ')})`);
  return load()(job.event);
}
