/**
 * THE pipeline: one Amazon States Language definition, deployed by the CDK stack (which fills the
 * `${...}` placeholders through `definitionSubstitutions`) and run on one machine by the local
 * executor (cli/local-executor.ts), which overrides every Task state by its state name.
 *
 * JSONPath only, inline Map only: aws-local-stepfunctions has no JSONata and no distributed Map.
 * Lambda Tasks use the function ARN as `Resource` (not `arn:aws:states:::lambda:invoke`) so the
 * state input is the function's event and its return value is the state result, identically in
 * AWS and in the local executor (no `Payload` envelope to unwrap).
 *
 *   Validate → PreparePlacement ─lambda─► PreparePlan ─► PrepareVocabulary → PrepareChunks (Map over
 *                │                          └─(already prepared)─┐     chunk indices) ─┐
 *                └─batch─► PrepareDataJob (one CPU job) ─────────┴──────────────────────┴► PrepareData (merge)
 *   → HasTeacherCheckpoint ─no─► TrainTeacher ─┐
 *                                       └─yes─────────────────────────┴► IsCacheEnabled
 *   ─yes─► CacheTeacher (Map over train shards) ─┐
 *   └─no──────────────────────────────────────────┴► TrainStudents (Map over student × seed; a
 *   failed job is recorded, the others go on) → HasCandidates ─yes─► EvaluateCandidates (Map over
 *   candidate models × validation shards) → SelectCandidates ─┐ └─no─► NoCandidates ─┐
 *   → SelectEvalSplit → Evaluate (Map over models ×
 *   Map over shards) → MergeEval → Report → Notify → Succeeded
 *   any failure → <State>Failed → RecordFailure (→ FailureRecordLost when it fails) → NotifyFailure → RunFailed
 *
 * Retries: only errors that say "the service hiccupped" are retried, with exponential backoff and
 * jitter. A Lambda that throws its own error fails the run (a bug or bad data; re-running it gives
 * the same answer). Batch job failures are NOT retried here: Spot reclaims are retried by the job
 * definition's retry strategy inside the same `.sync` task, and a trainer that crashes would crash
 * again. A job over `jobTimeoutMinutes` is stopped by Batch (attempt timeout) and not retried: it
 * would run out again after burning the same GPU hours. `States.Timeout` (the 7-day backstop, or
 * a Lambda over 15 min) is not retried for the same reason.
 */

/** Placeholders the CDK stack substitutes (definitionSubstitutions keys). */
export const SUBSTITUTIONS = [
  'ValidateFunctionArn',
  'PrepareDataFunctionArn',
  'PreparePlanFunctionArn',
  'PrepareVocabularyFunctionArn',
  'PrepareChunkFunctionArn',
  'CacheTeacherFunctionArn',
  'EvaluateFunctionArn',
  'MergeEvalFunctionArn',
  'SelectCandidatesFunctionArn',
  'ReportFunctionArn',
  'FailureFunctionArn',
  'JobQueueArn',
  'TrainerJobDefinitionArn',
  'NotifyTopicArn',
  'CpuJobQueueArn',
  'StageCpuJobDefinitionArn',
] as const;
export type SubstitutionKey = (typeof SUBSTITUTIONS)[number];

/** Task state names: the keys of the local executor's handler registry. */
export const TaskState = {
  validate: 'Validate',
  prepareData: 'PrepareData',
  preparePlan: 'PreparePlan',
  prepareVocabulary: 'PrepareVocabulary',
  prepareChunk: 'PrepareChunk',
  trainTeacher: 'TrainTeacher',
  cacheTeacherShard: 'CacheTeacherShard',
  trainStudent: 'TrainStudent',
  evaluateShard: 'EvaluateShard',
  evaluateCandidateShard: 'EvaluateCandidateShard',
  selectCandidates: 'SelectCandidates',
  mergeEval: 'MergeEval',
  report: 'Report',
  notify: 'Notify',
  recordFailure: 'RecordFailure',
  notifyFailure: 'NotifyFailure',
  // The same stages as Batch jobs, where the planner placed them (contract/placement).
  prepareDataJob: 'PrepareDataJob',
  cacheTeacherShardJob: 'CacheTeacherShardJob',
  evaluateShardJob: 'EvaluateShardJob',
} as const;
export type TaskStateName = (typeof TaskState)[keyof typeof TaskState];

/** Task states that invoke a Lambda function (in-process locally). */
export const LAMBDA_TASKS: readonly TaskStateName[] = [
  TaskState.validate,
  TaskState.prepareData,
  TaskState.preparePlan,
  TaskState.prepareVocabulary,
  TaskState.prepareChunk,
  TaskState.cacheTeacherShard,
  TaskState.evaluateShard,
  TaskState.evaluateCandidateShard,
  TaskState.selectCandidates,
  TaskState.mergeEval,
  TaskState.report,
  TaskState.recordFailure,
];
/** Task states that submit a Batch training job (a child process locally). */
export const BATCH_TASKS: readonly TaskStateName[] = [TaskState.trainTeacher, TaskState.trainStudent, TaskState.prepareDataJob, TaskState.cacheTeacherShardJob, TaskState.evaluateShardJob];
/** Task states that publish to SNS (a log line locally). */
export const NOTIFY_TASKS: readonly TaskStateName[] = [TaskState.notify, TaskState.notifyFailure];

/** The top-level states a failure is attributed to (each gets a `<State>Failed` marker state). */
export const TOP_LEVEL_STAGES = ['Validate', 'PrepareData', 'TrainTeacher', 'CacheTeacher', 'TrainStudents', 'Evaluate', 'MergeEval', 'Report', 'EvaluateCandidates', 'SelectCandidates'] as const;

/** Lambda Task timeout: the Lambda maximum (15 min); a stage that needs more belongs on Batch. */
export const LAMBDA_TIMEOUT_SECONDS = 900;
/**
 * Backstop of a Batch Task (7 days). It must be explicit: without TimeoutSeconds the local
 * interpreter times Tasks out after 60 s. Batch enforces the spec's per-job limit itself.
 */
export const BATCH_BACKSTOP_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** Fan-out width of the Lambda Maps (each item is one Lambda invocation). */
export const LAMBDA_MAP_CONCURRENCY = 16;
/**
 * Models evaluated at once by the outer Evaluate Map. Each runs an inner Map of up to
 * LAMBDA_MAP_CONCURRENCY shard invocations, so at most 2 × 16 = 32 model Lambdas run at once
 * (unbounded, a run with 40 models would start 640).
 */
export const EVALUATE_MODEL_CONCURRENCY = 2;

const sub = (key: SubstitutionKey) => '${' + key + '}';

/** Transient Lambda service errors (throttling, service faults, SDK network errors). */
const LAMBDA_RETRY = {
  ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
  IntervalSeconds: 2,
  MaxAttempts: 6,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};
/** Transient Batch API errors while submitting/polling (throttling, service faults). */
const BATCH_RETRY = {
  ErrorEquals: ['Batch.AWSBatchException', 'Batch.ServerException', 'Batch.TooManyRequestsException'],
  IntervalSeconds: 5,
  MaxAttempts: 5,
  BackoffRate: 2,
  MaxDelaySeconds: 120,
  JitterStrategy: 'FULL',
};
const SNS_RETRY = {
  ErrorEquals: ['SNS.SdkClientException', 'SNS.InternalErrorException', 'SNS.ThrottledException'],
  IntervalSeconds: 2,
  MaxAttempts: 4,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
};

const runRef = { 'runId.$': '$.run.runId', 'runUri.$': '$.run.runUri', 'specUri.$': '$.run.specUri' };
/** One (model, shard) item of the inner evaluation Maps, whose input is one item of the outer Map over models. */
const modelShardItem = {
  'runId.$': '$.runId',
  'runUri.$': '$.runUri',
  'specUri.$': '$.specUri',
  'model.$': '$.model',
  'shardUri.$': '$$.Map.Item.Value',
  'shardIndex.$': '$$.Map.Item.Index',
};
const failedStateName = (stage: string) => `${stage}Failed`;
const catchTo = (stage: string) => [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: failedStateName(stage) }];

/** A Lambda Task; without `parameters` the function receives the state input as is. */
function lambdaTask(fn: SubstitutionKey, parameters: Record<string, unknown> | null, rest: Record<string, unknown>) {
  return { Type: 'Task', Resource: sub(fn), ...(parameters ? { Parameters: parameters } : {}), TimeoutSeconds: LAMBDA_TIMEOUT_SECONDS, Retry: [LAMBDA_RETRY], ...rest };
}

/**
 * A Batch training job. Its time limit is Batch's own per-attempt timeout (from the spec), so a
 * Spot retry inside Batch gets a fresh budget; the Task's TimeoutSeconds is only a backstop for
 * a job stuck outside Batch's control.
 */
function batchTask(jobPath: string, timeoutPath: string, rest: Record<string, unknown>) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::batch:submitJob.sync',
    Parameters: {
      'JobName.$': `${jobPath}.jobName`,
      JobQueue: sub('JobQueueArn'),
      JobDefinition: sub('TrainerJobDefinitionArn'),
      ContainerOverrides: { 'Command.$': `${jobPath}.command` },
      Timeout: { 'AttemptDurationSeconds.$': timeoutPath },
    },
    TimeoutSeconds: BATCH_BACKSTOP_TIMEOUT_SECONDS,
    // The .sync result is the whole DescribeJobs record (KBs); keep what later states need.
    ResultSelector: { 'jobId.$': '$.JobId', 'status.$': '$.Status' },
    Retry: [BATCH_RETRY],
    ...rest,
  };
}

/**
 * A Lambda stage run as a Batch job (the planner placed it there): the trainer container runs the
 * same handler on the same event (`--stage <state> --event <json>`, lambdas/stage-job.ts). The
 * event (at `eventPath`) must carry `timeoutSeconds`; `jobName` is an intrinsic naming the job.
 */
function stageJobTask(stage: TaskStateName, queue: 'gpu' | 'cpu', jobName: string, rest: Record<string, unknown>, eventPath = '$') {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::batch:submitJob.sync',
    Parameters: {
      'JobName.$': jobName,
      JobQueue: sub(queue === 'gpu' ? 'JobQueueArn' : 'CpuJobQueueArn'),
      JobDefinition: sub(queue === 'gpu' ? 'TrainerJobDefinitionArn' : 'StageCpuJobDefinitionArn'),
      ContainerOverrides: { 'Command.$': `States.Array('--stage', '${stage}', '--event', States.JsonToString(${eventPath}))` },
      Timeout: { 'AttemptDurationSeconds.$': `${eventPath}.timeoutSeconds` },
    },
    TimeoutSeconds: BATCH_BACKSTOP_TIMEOUT_SECONDS,
    ResultSelector: { 'jobId.$': '$.JobId', 'status.$': '$.Status' },
    Retry: [BATCH_RETRY],
    ...rest,
  };
}

/** A Choice on `placementPath` ("lambda" | "batch"): the Lambda state, else the Batch job state. */
function placementChoice(placementPath: string, lambdaState: string, batchState: string) {
  return { Type: 'Choice', Choices: [{ Variable: placementPath, StringEquals: 'batch', Next: batchState }], Default: lambdaState };
}

/** The state machine definition with `${...}` placeholders (see SUBSTITUTIONS). */
export function buildDefinition(): Record<string, unknown> {
  const states: Record<string, unknown> = {
    Validate: {
      // The execution input as is: { runId, artifactRoot } and the spec inline or its URI (specUri).
      ...lambdaTask('ValidateFunctionArn', null, {
        // The state becomes { run: <plan> }: the submitted spec is not carried further (size).
        // (ResultPath "$" is the default; spelled out, aws-local-stepfunctions 3.0 mishandles it.)
        ResultSelector: { 'run.$': '$' },
        Next: 'PreparePlacement',
      }),
      Catch: catchTo('Validate'),
    },
    // Placed on Lambda (contract/placement), preparation fans out below; placed on Batch, one CPU
    // job prepares everything (PrepareDataJob) and PrepareData reads its committed result.
    PreparePlacement: placementChoice('$.run.placement.prepare', 'PreparePlan', 'PrepareDataJobInput'),
    // Preparation fans out (trainer/data/prep): every step's failure is a PrepareData failure.
    // Only chunk indices travel in the state ($.prep.chunks); chunk contents stay in storage.
    PreparePlan: {
      ...lambdaTask('PreparePlanFunctionArn', runRef, { ResultPath: '$.prep', Next: 'IsDataPrepared' }),
      Catch: catchTo('PrepareData'),
    },
    IsDataPrepared: {
      Type: 'Choice',
      Choices: [{ Variable: '$.prep.complete', BooleanEquals: true, Next: 'PrepareData' }],
      Default: 'PrepareVocabulary',
    },
    PrepareVocabulary: {
      ...lambdaTask('PrepareVocabularyFunctionArn', runRef, { ResultPath: null, Next: 'PrepareChunks' }),
      Catch: catchTo('PrepareData'),
    },
    PrepareChunks: {
      Type: 'Map',
      ItemsPath: '$.prep.chunks',
      ItemSelector: { ...runRef, 'chunk.$': '$$.Map.Item.Value' },
      MaxConcurrency: LAMBDA_MAP_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'PrepareChunk',
        States: { PrepareChunk: lambdaTask('PrepareChunkFunctionArn', null, { End: true }) },
      },
      // Chunk results are read from storage by the merge; the state keeps none of them.
      ResultPath: null,
      Next: 'PrepareData',
      Catch: catchTo('PrepareData'),
    },
    PrepareData: {
      ...lambdaTask('PrepareDataFunctionArn', runRef, { ResultPath: '$.data', Next: 'HasTeacherCheckpoint' }),
      Catch: catchTo('PrepareData'),
    },
    // On the CPU queue the job's result is its jobId, not the data output: the Lambda then reads
    // it back from the stage's committed marker (a completed stage returns its recorded result).
    PrepareDataJobInput: { Type: 'Pass', Parameters: { ...runRef, 'timeoutSeconds.$': '$.run.jobTimeoutSeconds' }, ResultPath: '$.prepareJob', Next: 'PrepareDataJob' },
    PrepareDataJob: {
      ...stageJobTask(TaskState.prepareData, 'cpu', "States.Format('{}-prepare', $.run.runId)", { ResultPath: null, Next: 'PrepareData' }, '$.prepareJob'),
      Catch: catchTo('PrepareData'),
    },
    HasTeacherCheckpoint: {
      Type: 'Choice',
      Choices: [{ Variable: '$.run.teacher.trainRequired', BooleanEquals: false, Next: 'IsCacheEnabled' }],
      Default: 'TrainTeacher',
    },
    TrainTeacher: batchTask('$.run.teacher.job', '$.run.jobTimeoutSeconds', {
      ResultPath: '$.teacherJob',
      Next: 'IsCacheEnabled',
      Catch: catchTo('TrainTeacher'),
    }),
    IsCacheEnabled: {
      Type: 'Choice',
      Choices: [{ Variable: '$.run.cacheEnabled', BooleanEquals: true, Next: 'CacheTeacher' }],
      Default: 'TrainStudents',
    },
    CacheTeacher: {
      Type: 'Map',
      ItemsPath: '$.data.shards.train',
      ItemSelector: {
        ...runRef,
        'teacherUri.$': '$.run.teacher.modelUri',
        'shardUri.$': '$$.Map.Item.Value',
        'shardIndex.$': '$$.Map.Item.Index',
        'placement.$': '$.run.placement.cacheTeacher',
        'timeoutSeconds.$': '$.run.jobTimeoutSeconds',
      },
      MaxConcurrency: LAMBDA_MAP_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'CacheTeacherPlacement',
        States: {
          CacheTeacherPlacement: placementChoice('$.placement', 'CacheTeacherShard', 'CacheTeacherShardJob'),
          CacheTeacherShard: lambdaTask('CacheTeacherFunctionArn', null, { End: true }),
          CacheTeacherShardJob: stageJobTask(TaskState.cacheTeacherShard, 'gpu', "States.Format('{}-cache-{}', $.runId, $.shardIndex)", { End: true }),
        },
      },
      // Cache files are found through the layout; per-shard results would only grow the state.
      ResultPath: null,
      Next: 'TrainStudents',
      Catch: catchTo('CacheTeacher'),
    },
    TrainStudents: {
      Type: 'Map',
      ItemsPath: '$.run.studentJobs',
      ItemSelector: {
        'job.$': '$$.Map.Item.Value',
        'timeoutSeconds.$': '$.run.jobTimeoutSeconds',
        // Fields a failed job's Cause may lack (merged under it before they are read: see TrimFailure).
        failureDefaults: { JobId: 'unknown', StatusReason: 'unknown' },
      },
      MaxConcurrencyPath: '$.run.maxParallelJobs',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'TrainStudent',
        States: {
          TrainStudent: batchTask('$.job', '$.timeoutSeconds', {
            ResultPath: '$.result',
            Next: 'StudentSucceeded',
            // One student's failure must not stop the others: record it and end the iteration.
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'IsBatchFailure' }],
          }),
          // A failed job's Cause is the whole Batch job description as a JSON string (KBs: attempts,
          // container, log stream). Keep only what the failure report needs — error name, job id,
          // status reason — so many failed students cannot push the state past 256 KB
          // (States.DataLimitExceeded, which no Catch catches).
          IsBatchFailure: {
            Type: 'Choice',
            Choices: [{ And: [{ Variable: '$.error.Cause', IsString: true }, { Variable: '$.error.Cause', StringMatches: '{*' }], Next: 'TrimFailure' }],
            Default: 'StudentFailedWithoutJob',
          },
          TrimFailure: {
            Type: 'Pass',
            Parameters: { 'description.$': 'States.JsonMerge($.failureDefaults, States.StringToJson($.error.Cause), false)' },
            ResultPath: '$.failure',
            Next: 'StudentFailed',
          },
          StudentSucceeded: {
            Type: 'Pass',
            Parameters: { 'student.$': '$.job.student', 'seed.$': '$.job.seed', 'modelId.$': '$.job.modelId', status: 'SUCCEEDED', 'jobId.$': '$.result.jobId' },
            End: true,
          },
          StudentFailed: {
            Type: 'Pass',
            Parameters: {
              'student.$': '$.job.student',
              'seed.$': '$.job.seed',
              'modelId.$': '$.job.modelId',
              status: 'FAILED',
              error: { 'Error.$': '$.error.Error', Cause: { 'jobId.$': '$.failure.description.JobId', 'statusReason.$': '$.failure.description.StatusReason' } },
            },
            End: true,
          },
          // Not a Batch job description (e.g. States.Timeout): the error name is what is known.
          StudentFailedWithoutJob: {
            Type: 'Pass',
            Parameters: { 'student.$': '$.job.student', 'seed.$': '$.job.seed', 'modelId.$': '$.job.modelId', status: 'FAILED', error: { 'Error.$': '$.error.Error', Cause: null } },
            End: true,
          },
        },
      },
      ResultPath: '$.students',
      Next: 'HasCandidates',
      Catch: catchTo('TrainStudents'),
    },
    // Candidate selection (students that list `candidates`): score every candidate on the
    // validation split, keep the best per student; only those reach the evaluation split.
    // (`IsPresent` first: a run validated before candidates existed has no such field.)
    HasCandidates: {
      Type: 'Choice',
      Choices: [{ And: [{ Variable: '$.run.hasCandidates', IsPresent: true }, { Variable: '$.run.hasCandidates', BooleanEquals: true }], Next: 'EvaluateCandidates' }],
      Default: 'NoCandidates',
    },
    NoCandidates: { Type: 'Pass', Parameters: { 'models.$': '$.run.models', selectionUri: null }, ResultPath: '$.selection', Next: 'SelectEvalSplit' },
    EvaluateCandidates: {
      Type: 'Map',
      ItemsPath: '$.run.candidateModels',
      ItemSelector: { ...runRef, 'model.$': '$$.Map.Item.Value', 'shards.$': '$.data.shards.val' },
      // Same bound as Evaluate: at most 2 × 16 evaluate invocations at once.
      MaxConcurrency: EVALUATE_MODEL_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'EvaluateCandidate',
        States: {
          EvaluateCandidate: {
            Type: 'Map',
            ItemsPath: '$.shards',
            ItemSelector: {
              ...modelShardItem,
              split: 'val',
            },
            MaxConcurrency: LAMBDA_MAP_CONCURRENCY,
            ItemProcessor: {
              ProcessorConfig: { Mode: 'INLINE' },
              // The Evaluate Lambda again (state names are unique per machine): `split: 'val'` routes its output.
              StartAt: 'EvaluateCandidateShard',
              States: { EvaluateCandidateShard: lambdaTask('EvaluateFunctionArn', null, { End: true }) },
            },
            ResultPath: null,
            End: true,
          },
        },
      },
      ResultPath: null,
      Next: 'SelectCandidates',
      Catch: catchTo('EvaluateCandidates'),
    },
    SelectCandidates: {
      ...lambdaTask(
        'SelectCandidatesFunctionArn',
        { ...runRef, 'candidateModels.$': '$.run.candidateModels', 'valShards.$': '$.data.shards.val', 'students.$': '$.students', 'models.$': '$.run.models' },
        { ResultPath: '$.selection', Next: 'SelectEvalSplit' },
      ),
      Catch: catchTo('SelectCandidates'),
    },
    SelectEvalSplit: {
      Type: 'Choice',
      Choices: [{ Variable: '$.run.evalSplit', StringEquals: 'val', Next: 'UseValShards' }],
      Default: 'UseTestShards',
    },
    UseValShards: { Type: 'Pass', InputPath: '$.data.shards.val', ResultPath: '$.evalShards', Next: 'Evaluate' },
    UseTestShards: { Type: 'Pass', InputPath: '$.data.shards.test', ResultPath: '$.evalShards', Next: 'Evaluate' },
    Evaluate: {
      Type: 'Map',
      // The run's models plus the selected candidates (SelectCandidates / NoCandidates).
      ItemsPath: '$.selection.models',
      ItemSelector: {
        ...runRef,
        'model.$': '$$.Map.Item.Value',
        'shards.$': '$.evalShards',
        'modelIndex.$': '$$.Map.Item.Index',
        'placement.$': '$.run.placement.evaluate',
        'timeoutSeconds.$': '$.run.jobTimeoutSeconds',
      },
      MaxConcurrency: EVALUATE_MODEL_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'EvaluateModel',
        States: {
          EvaluateModel: {
            Type: 'Map',
            ItemsPath: '$.shards',
            ItemSelector: {
              ...modelShardItem,
              'modelIndex.$': '$.modelIndex',
              'placement.$': '$.placement',
              'timeoutSeconds.$': '$.timeoutSeconds',
            },
            MaxConcurrency: LAMBDA_MAP_CONCURRENCY,
            ItemProcessor: {
              ProcessorConfig: { Mode: 'INLINE' },
              StartAt: 'EvaluatePlacement',
              States: {
                EvaluatePlacement: placementChoice('$.placement', 'EvaluateShard', 'EvaluateShardJob'),
                EvaluateShard: lambdaTask('EvaluateFunctionArn', null, { End: true }),
                EvaluateShardJob: stageJobTask(TaskState.evaluateShard, 'gpu', "States.Format('{}-eval-{}-{}', $.runId, $.modelIndex, $.shardIndex)", { End: true }),
              },
            },
            ResultPath: null,
            End: true,
          },
        },
      },
      // Per-shard results are merged from storage (eval/parts/) by MergeEval.
      ResultPath: null,
      Next: 'MergeEval',
      Catch: catchTo('Evaluate'),
    },
    MergeEval: {
      ...lambdaTask(
        'MergeEvalFunctionArn',
        { ...runRef, 'models.$': '$.selection.models', 'evalShards.$': '$.evalShards', 'students.$': '$.students' },
        { ResultPath: '$.evaluation', Next: 'Report' },
      ),
      Catch: catchTo('MergeEval'),
    },
    Report: {
      ...lambdaTask('ReportFunctionArn', { ...runRef, 'evaluation.$': '$.evaluation', 'students.$': '$.students' }, { ResultPath: '$.report', Next: 'Notify' }),
      Catch: catchTo('Report'),
    },
    Notify: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sns:publish',
      TimeoutSeconds: 60,
      Parameters: {
        TopicArn: sub('NotifyTopicArn'),
        Subject: 'amad-distill run succeeded',
        // The Report Lambda's text: run, headline numbers, `amad report <runId> --url` (no link).
        'Message.$': '$.report.notification',
        MessageAttributes: { runId: { DataType: 'String', 'StringValue.$': '$.run.runId' } },
      },
      ResultPath: null,
      Retry: [SNS_RETRY],
      // A lost notification must not turn a finished run into a failed one.
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notifyError', Next: 'Succeeded' }],
      Next: 'Succeeded',
    },
    Succeeded: { Type: 'Succeed' },
    RecordFailure: {
      ...lambdaTask('FailureFunctionArn', { 'state.$': '$' }, { ResultPath: '$.failureRecord', Next: 'NotifyFailure' }),
      // Still notify when the failure record cannot be written.
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failureRecordError', Next: 'FailureRecordLost' }],
    },
    // NotifyFailure reads $.failureRecord.notification: give it a text when RecordFailure failed.
    FailureRecordLost: {
      Type: 'Pass',
      Parameters: {
        'notification.$': "States.Format('amad-distill: a run failed ({}) and its failure record could not be written ({}): see the execution in the Step Functions console.', $.error.Error, $.failureRecordError.Error)",
      },
      ResultPath: '$.failureRecord',
      Next: 'NotifyFailure',
    },
    NotifyFailure: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sns:publish',
      TimeoutSeconds: 60,
      Parameters: {
        TopicArn: sub('NotifyTopicArn'),
        Subject: 'amad-distill run failed',
        // The RecordFailure Lambda's text: run, failed state, error, the commands to look closer.
        'Message.$': '$.failureRecord.notification',
      },
      ResultPath: null,
      Retry: [SNS_RETRY],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notifyError', Next: 'RunFailed' }],
      Next: 'RunFailed',
    },
    RunFailed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
  };
  // Each top-level stage's Catch goes through a Pass that names the stage, so RecordFailure
  // knows what failed (a Catch can only attach the error, not static data).
  for (const stage of TOP_LEVEL_STAGES) {
    states[failedStateName(stage)] = { Type: 'Pass', Result: stage, ResultPath: '$.failedState', Next: 'RecordFailure' };
  }
  return {
    Comment: 'amad-distill: distil a vision-language teacher into students with fewer attention heads (AMAD). One definition for AWS and the local executor.',
    StartAt: 'Validate',
    States: states,
  };
}

/**
 * Replaces `${Key}` placeholders in every string of the definition (what Step Functions does with
 * definitionSubstitutions). @throws Error listing placeholders left without a value.
 */
export function substituteDefinition<T>(definition: T, values: Partial<Record<SubstitutionKey, string>>): T {
  const missing = new Set<string>();
  const text = JSON.stringify(definition).replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, key: string) => {
    const v = (values as Record<string, string | undefined>)[key];
    if (v === undefined) {
      missing.add(key);
      return whole;
    }
    return JSON.stringify(v).slice(1, -1);
  });
  if (missing.size) throw new Error(`no value for definition placeholder(s): ${[...missing].join(', ')}`);
  return JSON.parse(text) as T;
}

/** Plausible ARNs for every placeholder (local runs and validation; never called). */
export function localSubstitutions(region = 'local-1', account = '000000000000'): Record<SubstitutionKey, string> {
  const fn = (name: string) => `arn:aws:lambda:${region}:${account}:function:amad-${name}`;
  return {
    ValidateFunctionArn: fn('validate'),
    PrepareDataFunctionArn: fn('prepare-data'),
    PreparePlanFunctionArn: fn('prepare-plan'),
    PrepareVocabularyFunctionArn: fn('prepare-vocabulary'),
    PrepareChunkFunctionArn: fn('prepare-chunk'),
    CacheTeacherFunctionArn: fn('cache-teacher'),
    EvaluateFunctionArn: fn('evaluate'),
    MergeEvalFunctionArn: fn('merge-eval'),
    SelectCandidatesFunctionArn: fn('select-candidates'),
    ReportFunctionArn: fn('report'),
    FailureFunctionArn: fn('failure'),
    JobQueueArn: `arn:aws:batch:${region}:${account}:job-queue/amad-local`,
    TrainerJobDefinitionArn: `arn:aws:batch:${region}:${account}:job-definition/amad-trainer:1`,
    NotifyTopicArn: `arn:aws:sns:${region}:${account}:amad-local`,
    CpuJobQueueArn: `arn:aws:batch:${region}:${account}:job-queue/amad-local-cpu`,
    StageCpuJobDefinitionArn: `arn:aws:batch:${region}:${account}:job-definition/amad-stage-cpu:1`,
  };
}
