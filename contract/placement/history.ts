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

/** The shape of a run that decides its history: how many items each Map gets and where they run. */
export interface RunShape {
  readonly teacherTrained: boolean;
  readonly prepare: { readonly placement: 'lambda' | 'batch'; readonly chunks: number };
  /** null: the cache is disabled. */
  readonly cache: { readonly placement: 'lambda' | 'batch'; readonly shards: number } | null;
  readonly studentJobs: number;
  /** Models evaluated (the teacher and every student job). */
  readonly models: number;
  readonly evaluate: { readonly placement: 'lambda' | 'batch'; readonly shards: number };
  /** Candidate selection (students with `candidates`): candidate models × validation shards; absent/null: none. */
  readonly candidates?: { readonly models: number; readonly valShards: number } | null;
}

/**
 * Events of a successful run of the definition in contract/state-machine.ts: every state on the
 * success path, each placed stage's Map items as placed (a placement Choice, then a Lambda or a
 * Batch task). test/cli/aws-limits.test.ts checks it against a local run's counted events.
 */
export function runEvents(r: RunShape): number {
  const task = (p: 'lambda' | 'batch') => (p === 'batch' ? EVENTS.batchTask : EVENTS.lambdaTask);
  let n = EVENTS.execution;
  n += EVENTS.lambdaTask; // Validate
  n += EVENTS.passOrChoice; // PreparePlacement
  n +=
    r.prepare.placement === 'lambda'
      ? EVENTS.lambdaTask + EVENTS.passOrChoice + EVENTS.lambdaTask + mapEvents(r.prepare.chunks, EVENTS.lambdaTask) // PreparePlan, IsDataPrepared, PrepareVocabulary, PrepareChunks
      : EVENTS.passOrChoice + EVENTS.batchTask; // PrepareDataJobInput, PrepareDataJob
  n += EVENTS.lambdaTask; // PrepareData (merge)
  n += EVENTS.passOrChoice; // HasTeacherCheckpoint
  if (r.teacherTrained) n += EVENTS.batchTask;
  n += EVENTS.passOrChoice; // IsCacheEnabled
  if (r.cache) n += mapEvents(r.cache.shards, EVENTS.passOrChoice + task(r.cache.placement));
  n += mapEvents(r.studentJobs, EVENTS.batchTask + EVENTS.passOrChoice); // TrainStudent + StudentSucceeded
  n += EVENTS.passOrChoice; // HasCandidates
  n += r.candidates
    ? mapEvents(r.candidates.models, mapEvents(r.candidates.valShards, EVENTS.lambdaTask)) + EVENTS.lambdaTask // EvaluateCandidates, SelectCandidates
    : EVENTS.passOrChoice; // NoCandidates
  n += 2 * EVENTS.passOrChoice; // SelectEvalSplit, Use*Shards
  n += mapEvents(r.models, mapEvents(r.evaluate.shards, EVENTS.passOrChoice + task(r.evaluate.placement)));
  n += 2 * EVENTS.lambdaTask + EVENTS.snsTask + EVENTS.passOrChoice; // MergeEval, Report, Notify, Succeeded
  return n;
}

/** Events of a successful run with this plan; null when the data counts are unknown. */
export function successfulRunEvents(plan: PlacementPlan, opts: { teacherTrained: boolean; studentJobs: number; candidates?: RunShape['candidates'] }): number | null {
  const stage = (name: string) => plan.stages.find((s) => s.stage === name);
  const prepare = stage('prepare');
  const cache = stage('cacheTeacher');
  const evaluate = stage('evaluate');
  if (!prepare?.invocations || !evaluate?.invocations) return null;
  const models = 1 + opts.studentJobs; // the teacher is evaluated whether trained or given
  return runEvents({
    teacherTrained: opts.teacherTrained,
    prepare: { placement: prepare.placement, chunks: prepare.invocations },
    cache: cache?.invocations ? { placement: cache.placement, shards: cache.invocations } : null,
    studentJobs: opts.studentJobs,
    models,
    evaluate: { placement: evaluate.placement, shards: Math.ceil(evaluate.invocations / models) },
    candidates: opts.candidates ?? null,
  });
}
