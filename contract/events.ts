/**
 * The messages of the pipeline: the EventBridge event that requests a run, the execution input
 * of the state machine, and the input/output of every Task state. The state machine
 * (contract/state-machine.ts) moves exactly these shapes between stages; each Lambda handler
 * parses its input with the schema here, and the local executor hands the same shapes to
 * in-process handlers. Shapes stay small: a state's data is capped at 256 KB on AWS, so bulky
 * results live in storage and only URIs travel.
 */
import { z } from 'zod';
import { RunIdSchema } from './spec';

/** EventBridge `source` of run requests. */
export const EVENT_SOURCE = 'amad-distill';
/** EventBridge `detail-type` of run requests. */
export const DISTILLATION_REQUESTED = 'DistillationRequested';
/** EventBridge `detail-type` of a request start-run could not start (lambdas/request-failed). */
export const RUN_REQUEST_FAILED = 'RunRequestFailed';

const Uri = z.string().min(1);

/**
 * `detail` of a DistillationRequested event: the job spec itself plus its run id (the spec is
 * validated by the Validate stage; here only what starting an execution needs).
 * `resume: true` re-runs an existing run id (completed stages are skipped).
 */
export const DistillationRequestedDetailSchema = z.looseObject({
  runId: RunIdSchema,
  resume: z.boolean().optional(),
});
export type DistillationRequestedDetail = z.infer<typeof DistillationRequestedDetailSchema>;

/** Input of a state-machine execution (built by start-run on AWS and by `amad run` locally). */
export const ExecutionInputSchema = z
  .strictObject({
    runId: RunIdSchema,
    /** Folder/bucket prefix that holds `runs/` (s3://bucket or a local folder). */
    artifactRoot: Uri,
    /** The job spec as submitted (Validate parses it). */
    spec: z.unknown().optional(),
    /**
     * Where the submitted spec is stored instead (Validate reads it): keeps the execution input
     * small whatever the spec's size (256 KB limit of the execution input and of every state).
     */
    specUri: Uri.optional(),
  })
  .refine((i) => (i.spec === undefined) !== (i.specUri === undefined), { message: 'give exactly one of spec (inline) or specUri (the stored spec)', path: ['specUri'] });
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

/** Where `amad run` stores the spec it submits (the execution input carries this URI). */
export const submittedSpecUri = (runUri: string): string => runUri.replace(/\/+$/, '') + '/submitted-spec.json';

/** What every stage needs to find the run. */
export const RunRefSchema = z.object({
  runId: RunIdSchema,
  runUri: Uri,
  specUri: Uri,
});
export type RunRef = z.infer<typeof RunRefSchema>;

export const TrainerJobSchema = z.strictObject({
  jobName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  command: z.array(z.string()),
});

/** A model to evaluate: `stage` (when set) must be complete, else the model was not trained (failed student). */
export const ModelRefSchema = z.strictObject({
  modelId: z.string().min(1),
  modelUri: Uri,
  stage: z.string().nullable(),
});
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const StudentJobSchema = TrainerJobSchema.extend({
  student: z.string(),
  seed: z.number().int().nonnegative(),
  modelId: z.string(),
});
export type StudentJob = z.infer<typeof StudentJobSchema>;

export const PlacementSchema = z.enum(['lambda', 'batch']);

/** Output of Validate: the run plan every later state reads as `$.run`. */
export const RunPlanSchema = RunRefSchema.extend({
  teacher: z.strictObject({
    modelUri: Uri,
    /** False when the spec names a checkpoint (TrainTeacher is skipped). */
    trainRequired: z.boolean(),
    job: TrainerJobSchema.nullable(),
  }),
  cacheEnabled: z.boolean(),
  evalSplit: z.enum(['val', 'test']),
  maxParallelJobs: z.number().int().positive(),
  jobTimeoutSeconds: z.number().int().positive(),
  studentJobs: z.array(StudentJobSchema),
  /** Models evaluated on the evaluation split: the teacher and every student that is not a candidate (selected candidates join after SelectCandidates). */
  models: z.array(ModelRefSchema),
  /** Students expanded from `candidates` (scored on the validation split first); empty when the spec lists none. */
  candidateModels: z.array(ModelRefSchema).default([]),
  /** Whether the run has candidates to select among (the state machine's HasCandidates choice). */
  hasCandidates: z.boolean().default(false),
  /** Where each data-sized stage runs (contract/placement): the state machine's placement Choices read it. */
  placement: z.strictObject({ prepare: PlacementSchema, cacheTeacher: PlacementSchema, evaluate: PlacementSchema }),
});
export type RunPlan = z.infer<typeof RunPlanSchema>;

/** Input of PrepareData (the data engineer's handler, lambdas/prepare-data). */
export const PrepareDataInputSchema = RunRefSchema;
export type PrepareDataInput = z.infer<typeof PrepareDataInputSchema>;

/**
 * Output of PrepareData, read by the state machine as `$.data`: the shard URIs of every split
 * (CacheTeacher fans out over `train`, Evaluate over the evaluation split).
 */
export const PrepareDataOutputSchema = z.looseObject({
  manifestUri: Uri,
  shards: z.strictObject({ train: z.array(Uri), val: z.array(Uri), test: z.array(Uri) }),
});
export type PrepareDataOutput = z.infer<typeof PrepareDataOutputSchema>;

/** One item of the CacheTeacher Map. */
export const CacheTeacherShardInputSchema = RunRefSchema.extend({
  teacherUri: Uri,
  shardUri: Uri,
  shardIndex: z.number().int().nonnegative(),
});
export type CacheTeacherShardInput = z.infer<typeof CacheTeacherShardInputSchema>;

/** Result of one TrainStudent Map iteration (a failed job is recorded, not thrown). */
export const StudentResultSchema = z.strictObject({
  student: z.string(),
  seed: z.number().int().nonnegative(),
  modelId: z.string(),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  jobId: z.string().optional(),
  error: z.object({ Error: z.string(), Cause: z.unknown() }).optional(),
});
export type StudentResult = z.infer<typeof StudentResultSchema>;

/** One item of the Evaluate Map (model × shard). */
export const EvaluateShardInputSchema = RunRefSchema.extend({
  model: ModelRefSchema,
  shardUri: Uri,
  shardIndex: z.number().int().nonnegative(),
  /** The split the shard belongs to: `val` when scoring candidates; absent = the spec's evaluation split. */
  split: z.enum(['val', 'test']).optional(),
});
export type EvaluateShardInput = z.infer<typeof EvaluateShardInputSchema>;

/**
 * Input of SelectCandidates: every candidate model (scored from its validation parts), the
 * validation shards, the student outcomes, and the models already bound for evaluation.
 */
export const SelectCandidatesInputSchema = RunRefSchema.extend({
  candidateModels: z.array(ModelRefSchema),
  valShards: z.array(Uri),
  students: z.array(StudentResultSchema),
  models: z.array(ModelRefSchema),
});
export type SelectCandidatesInput = z.infer<typeof SelectCandidatesInputSchema>;

/** Output of SelectCandidates, read as `$.selection`: the models to evaluate (`models` plus the selected candidates). */
export const SelectCandidatesOutputSchema = z.strictObject({
  models: z.array(ModelRefSchema),
  /** selection/selection.json: every candidate's validation score and the choice (null when the run has no candidates). */
  selectionUri: Uri.nullable(),
});
export type SelectCandidatesOutput = z.infer<typeof SelectCandidatesOutputSchema>;

export const MergeEvalInputSchema = RunRefSchema.extend({
  models: z.array(ModelRefSchema),
  evalShards: z.array(Uri),
  students: z.array(StudentResultSchema),
});
export type MergeEvalInput = z.infer<typeof MergeEvalInputSchema>;

export const MergeEvalOutputSchema = z.strictObject({
  /** modelId → eval/<model>.json for every evaluated model. */
  evalFiles: z.record(z.string(), Uri),
  /** Models without results (failed or missing), with the reason. */
  missing: z.array(z.strictObject({ modelId: z.string(), reason: z.string() })),
});
export type MergeEvalOutput = z.infer<typeof MergeEvalOutputSchema>;

export const ReportInputSchema = RunRefSchema.extend({
  evaluation: MergeEvalOutputSchema,
  students: z.array(StudentResultSchema),
});
export type ReportInput = z.infer<typeof ReportInputSchema>;

export const ReportOutputSchema = z.strictObject({
  reportUri: Uri,
  metricsUri: Uri,
  summaryUri: Uri,
  /** The run notification's text (Notify publishes it): run, headline numbers, how to open the report. */
  notification: z.string(),
});
export type ReportOutput = z.infer<typeof ReportOutputSchema>;

/** The error object a Catch puts at `$.error`. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.unknown().optional() });

/**
 * Input of RecordFailure: the whole state at the time of the failure. Before Validate succeeds it
 * holds only the execution input (runId, artifactRoot); afterwards the run plan.
 */
export const FailureInputSchema = z.looseObject({
  runId: z.string().optional(),
  artifactRoot: z.string().optional(),
  run: z.looseObject({ runId: z.string(), runUri: Uri }).optional(),
  failedState: z.string().optional(),
  error: CaughtErrorSchema,
});
export type FailureInput = z.infer<typeof FailureInputSchema>;

export const FailureRecordSchema = z.strictObject({
  runId: z.string().nullable(),
  failedState: z.string().nullable(),
  error: z.string(),
  cause: z.unknown(),
  /** Stages whose outputs were committed and are kept for a resume. */
  keptStages: z.array(z.string()),
  failedAt: z.string(),
  resumeHint: z.string(),
});
export type FailureRecord = z.infer<typeof FailureRecordSchema>;
