/**
 * Step Functions Standard execution history: how many events a run writes (the quota is 25,000
 * per execution, and an execution that reaches it fails). Counted per state type as the service
 * records them (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html):
 *
 * - execution: ExecutionStarted + ExecutionSucceeded/Failed                                  2
 * - Pass, Choice, Succeed, Fail: <Type>StateEntered + <Type>StateExited                      2
 * - Lambda Task: TaskStateEntered, LambdaFunctionScheduled, …Started, …Succeeded, TaskStateExited  5
 * - Batch .sync Task: TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted,
 *   TaskSucceeded, TaskStateExited                                                           6
 * - SNS Task (request-response): TaskStateEntered, Scheduled, Started, Succeeded, Exited      5
 * - Map: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited                 4
 *   + per iteration MapIterationStarted + MapIterationSucceeded                              2
 * A retry adds the function's Scheduled/Started/Failed again (3).
 */
import type { PlacementPlan } from './planner';

export const EVENTS = {
  execution: 2,
  passOrChoice: 2,
  lambdaTask: 5,
  batchTask: 6,
  snsTask: 5,
  map: 4,
  mapIteration: 2,
  retry: 3,
} as const;

/** Events of one Map over `items` iterations whose body is `perItem` events. */
export const mapEvents = (items: number, perItem: number) => EVENTS.map + items * (EVENTS.mapIteration + perItem);

/**
 * Events of a successful run of the definition in contract/state-machine.ts with this plan:
 * every state on the success path, each placed stage's Map as placed (a placement Choice, then a
 * Lambda or a Batch task per item). Preparation is counted as a Map over its chunks plus a
 * planning and a merge step (the fan-out of issue 12 item 2). null when the counts are unknown.
 */
export function successfulRunEvents(plan: PlacementPlan, opts: { teacherTrained: boolean; studentJobs: number }): number | null {
  const stage = (name: string) => plan.stages.find((s) => s.stage === name);
  const task = (s: { placement: string } | undefined) => (s?.placement === 'batch' ? EVENTS.batchTask : EVENTS.lambdaTask);
  const prepare = stage('prepare');
  const cache = stage('cacheTeacher');
  const evaluate = stage('evaluate');
  if (!prepare?.invocations || !evaluate?.invocations) return null;
  const models = 1 + opts.studentJobs; // the teacher is evaluated whether trained or given
  const evalShards = Math.ceil(evaluate.invocations / models);
  let n = EVENTS.execution;
  n += EVENTS.lambdaTask; // Validate
  n += 2 * EVENTS.lambdaTask + mapEvents(prepare.invocations, EVENTS.passOrChoice + task(prepare)); // plan, chunks, merge
  n += EVENTS.passOrChoice; // HasTeacherCheckpoint
  if (opts.teacherTrained) n += EVENTS.batchTask;
  n += EVENTS.passOrChoice; // IsCacheEnabled
  if (cache?.invocations) n += mapEvents(cache.invocations, EVENTS.passOrChoice + task(cache));
  n += mapEvents(opts.studentJobs, EVENTS.batchTask + EVENTS.passOrChoice); // TrainStudent + StudentSucceeded
  n += 2 * EVENTS.passOrChoice; // SelectEvalSplit, Use*Shards
  n += mapEvents(models, mapEvents(evalShards, EVENTS.passOrChoice + task(evaluate)));
  n += 2 * EVENTS.lambdaTask + EVENTS.snsTask + EVENTS.passOrChoice; // MergeEval, Report, Notify, Succeeded
  return n;
}
