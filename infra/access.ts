/**
 * Which artifact keys each compute unit may touch: the least-privilege table, in one place so it
 * can be checked against the run layout in contract/layout.ts (runs/<id>/spec.json, data/,
 * models/, checkpoints/, cache/, eval/, report/, failure.json, _stages/<stage>/_SUCCESS).
 *
 * Each stage reads only the parts of a run it uses: its inputs, and, to decide whether to skip
 * (contract/layout `runStageOnce`), its own completion marker and outputs, plus the markers of
 * the stages whose outputs it consumes. It writes only its own outputs and marker folder.
 *
 * Why not narrower (IAM cannot express it):
 *   - The run id is a wildcard: runs are created after deploy and a Lambda role belongs to the
 *     function, not to one execution, so a stage may read the same kind of file of every run.
 *     (Per-run credentials would need an AssumeRole with a session policy on every invocation.)
 *   - IAM's `*` also matches "/": `runs/*\/data/*` covers `runs/<id>/data/…` at any depth, and
 *     equally a key like `runs/<id>/models/x/data/y`. No IAM wildcard stops at one segment, so a
 *     pattern is a key-prefix *family*, not a single folder.
 *   - `models/*` (teachers given as checkpoints) is read whole: which teacher a spec names is
 *     decided per run, and Validate confines it to the artifact bucket's datasets/models/runs
 *     prefixes and the deployer's listed buckets (contract/deployment-policy.ts).
 */
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { HandlerName } from './functions/handler-specs';
import type { ArtifactBucket } from './storage/artifact-bucket';

export interface PrefixAccess {
  /** Key patterns relative to `runs/<id>/` that may be read. */
  readonly readRun: readonly string[];
  /** `jobs/*` read (job specs dropped into the bucket). */
  readonly readJobs: boolean;
  /** `datasets/*` read (raw public-layout datasets). */
  readonly readDatasets: boolean;
  /**
   * `models/*` read: teachers given as `teacher.checkpoint` in a spec. A teacher trained by an
   * earlier run (`runs/<id>/models/teacher`) is covered by a `models/*` entry of readRun; one in
   * another bucket needs the deployer's readableBuckets.
   */
  readonly readModels: boolean;
  /** Key patterns relative to `runs/<id>/` that may be written (and deleted). */
  readonly writeRun: readonly string[];
  /**
   * The runs index: `runs/_index/*` (one row per run) and `runs/index.html|json`
   * (trainer/stages/runs-index.ts): read (the writer rebuilds the index from every run's row)
   * and written.
   */
  readonly writeRunsIndex?: boolean;
}

const NONE: PrefixAccess = { readRun: [], readJobs: false, readDatasets: false, readModels: false, writeRun: [] };

/** Completion markers of a stage (`_stages/<stage>/…`, sub-stages included). */
const marker = (stage: string) => `_stages/${stage}/*`;

export const HANDLER_ACCESS: Readonly<Record<HandlerName, PrefixAccess>> = {
  // Refuses a conflicting spec by reading the existing one; reads nothing a spec names. Lists the
  // run as running in the runs index.
  validate: { ...NONE, readRun: ['spec.json', marker('validate')], writeRun: ['spec.json', marker('validate')], writeRunsIndex: true },
  // Fanned-out preparation (trainer/data/prep): plan and vocabulary read the spec, the source and
  // an ONNX teacher's sidecar and tokenizer (models/: they fix the plan, the vocabulary and the
  // merge's normalisation); a chunk reads only the plan's files under data/ and the images.
  'prepare-plan': { ...NONE, readRun: ['spec.json', 'data/*'], readDatasets: true, readModels: true, writeRun: ['data/*'] },
  'prepare-vocabulary': { ...NONE, readRun: ['spec.json', 'data/*'], readDatasets: true, readModels: true, writeRun: ['data/*'] },
  'prepare-chunk': { ...NONE, readRun: ['data/*'], readDatasets: true, writeRun: ['data/*'] },
  // Merges the chunks (or, placed on Batch / with no plan, prepares everything in one process).
  'prepare-data': { ...NONE, readRun: ['spec.json', 'data/*', marker('prepare-data')], readDatasets: true, readModels: true, writeRun: ['data/*', marker('prepare-data')] },
  // The teacher: this run's (models/teacher, marker train-teacher), an earlier run's, or models/.
  'cache-teacher': {
    ...NONE,
    readRun: ['spec.json', 'data/*', 'models/*', 'cache/*', marker('train-teacher'), marker('cache-teacher')],
    readModels: true,
    writeRun: ['cache/*', marker('cache-teacher')],
  },
  // Per-shard parts only; the merged eval/<model>.json belongs to merge-eval. Skips a model whose
  // training stage (teacher or student) did not complete.
  // (Candidates' validation parts too: selection/parts/, for candidate selection.)
  evaluate: {
    ...NONE,
    readRun: ['spec.json', 'data/*', 'models/*', 'eval/parts/*', 'selection/parts/*', marker('train-teacher'), marker('train-student'), marker('evaluate'), marker('evaluate-val')],
    readModels: true,
    writeRun: ['eval/parts/*', marker('evaluate'), 'selection/parts/*', marker('evaluate-val')],
  },
  'merge-eval': { ...NONE, readRun: ['spec.json', 'eval/*', marker('evaluate'), marker('merge-eval')], writeRun: ['eval/*', marker('merge-eval')] },
  // Scores the candidates' validation parts (data/ holds the references) and writes the choice.
  'select-candidates': {
    ...NONE,
    readRun: ['spec.json', 'data/*', 'selection/*', marker('evaluate-val'), marker('select-candidates')],
    writeRun: ['selection/val/*', 'selection/selection.json', marker('select-candidates')],
  },
  // Train logs and the models themselves (attention maps), a teacher checkpoint possibly in models/.
  report: {
    ...NONE,
    readRun: ['spec.json', 'data/*', 'models/*', 'eval/*', 'report/*', 'selection/*', marker('validate'), marker('merge-eval'), marker('report')],
    readModels: true,
    writeRun: ['report/*', marker('report')],
    writeRunsIndex: true,
  },
  // Lists the markers (s3:ListBucket) for "what was kept"; reads back what the runs index row
  // needs (the validate marker, the spec, its own record).
  failure: { ...NONE, readRun: ['spec.json', 'failure.json', marker('validate')], writeRun: ['failure.json'], writeRunsIndex: true },
  // Reads the spec of an S3-triggered run; writes nothing (validate does).
  'start-run': { ...NONE, readJobs: true },
  // Re-reads a failed job file for its run id; records the failure like the failure stage.
  'request-failed': { ...NONE, readJobs: true, readRun: ['spec.json', 'failure.json', marker('validate')], writeRun: ['failure.json'], writeRunsIndex: true },
};

/**
 * The Batch trainer job (teacher and student training): data shards from the run's data/, the
 * teacher (online distillation without a cache, or its weights' checksum) from models/ of this
 * or an earlier run or the bucket's models/, the teacher cache, its own checkpoints and outputs.
 */
export const TRAINER_ACCESS: PrefixAccess = {
  readRun: ['spec.json', 'data/*', 'models/*', 'checkpoints/*', 'cache/*', marker('train-teacher'), marker('train-student')],
  readJobs: false,
  readDatasets: false,
  readModels: true,
  writeRun: ['models/*', 'checkpoints/*', marker('train-teacher'), marker('train-student')],
};

/** Everything any of `rows` may do. */
export function unionAccess(...rows: PrefixAccess[]): PrefixAccess {
  const uniq = (xs: string[]) => [...new Set(xs)];
  return {
    readRun: uniq(rows.flatMap((r) => r.readRun)),
    readJobs: rows.some((r) => r.readJobs),
    readDatasets: rows.some((r) => r.readDatasets),
    readModels: rows.some((r) => r.readModels),
    writeRun: uniq(rows.flatMap((r) => r.writeRun)),
    writeRunsIndex: rows.some((r) => r.writeRunsIndex === true),
  };
}

/**
 * The GPU queue's job role: training, and the model stages the planner may place on the GPU
 * queue instead of Lambda (lambdas/stage-job.ts runs their handlers: cache-teacher, evaluate).
 */
export const GPU_JOB_ACCESS: PrefixAccess = unionAccess(TRAINER_ACCESS, HANDLER_ACCESS['cache-teacher'], HANDLER_ACCESS.evaluate);

/** The CPU queue's job role: data preparation placed on Batch (lambdas/stage-job.ts, prepare-data). */
export const CPU_JOB_ACCESS: PrefixAccess = HANDLER_ACCESS['prepare-data'];

/** Applies one row of the table to a grantee. */
export function grantPrefixAccess(artifacts: ArtifactBucket, grantee: iam.IGrantable, access: PrefixAccess): void {
  if (access.readRun.length > 0) artifacts.grantReadRun(grantee, ...access.readRun);
  if (access.readJobs) artifacts.grantReadJobs(grantee);
  if (access.readDatasets) artifacts.grantReadDatasets(grantee);
  if (access.readModels) artifacts.grantReadModels(grantee);
  if (access.writeRun.length > 0) artifacts.grantWriteRun(grantee, ...access.writeRun);
  if (access.writeRunsIndex) {
    artifacts.grantReadRunsIndex(grantee);
    artifacts.grantWriteRunsIndex(grantee);
  }
}
