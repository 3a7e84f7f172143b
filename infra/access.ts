/**
 * Which artifact keys each compute unit may touch: the least-privilege table, in one place so it
 * can be checked against the run layout in contract/layout.ts (runs/<id>/spec.json, data/,
 * models/, checkpoints/, cache/, eval/, report/, failure.json, _stages/<stage>/_SUCCESS).
 *
 * Every stage reads the run (its inputs and, to decide whether to skip, its own completion marker
 * and outputs) and writes only its own outputs plus its own marker folder.
 */
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { HandlerName } from './functions/handler-specs';
import type { ArtifactBucket } from './storage/artifact-bucket';

export interface PrefixAccess {
  /** `runs/*` read. */
  readonly readRuns: boolean;
  /** `jobs/*` read (job specs dropped into the bucket). */
  readonly readJobs: boolean;
  /** `datasets/*` read (raw public-layout datasets). */
  readonly readDatasets: boolean;
  /**
   * `models/*` read: teachers given as `teacher.checkpoint` in a spec. A teacher trained by an
   * earlier run (`runs/<id>/models/teacher`) is covered by readRuns; one in another bucket needs
   * its own grant.
   */
  readonly readModels: boolean;
  /** Key patterns relative to `runs/<id>/` that may be written (and deleted). */
  readonly writeRun: readonly string[];
  /** The runs index: `runs/_index/*` (one row per run) and `runs/index.html|json` (trainer/stages/runs-index.ts). */
  readonly writeRunsIndex?: boolean;
}

const NONE: PrefixAccess = { readRuns: false, readJobs: false, readDatasets: false, readModels: false, writeRun: [] };

export const HANDLER_ACCESS: Readonly<Record<HandlerName, PrefixAccess>> = {
  validate: { ...NONE, readRuns: true, readJobs: true, readModels: true, writeRun: ['spec.json', '_stages/validate/*'], writeRunsIndex: true },
  // readModels: an ONNX teacher's sidecar and tokenizer fix the plan, the vocabulary and the merge's normalisation.
  'prepare-data': { ...NONE, readRuns: true, readDatasets: true, readModels: true, writeRun: ['data/*', '_stages/prepare-data/*'] },
  'prepare-plan': { ...NONE, readRuns: true, readDatasets: true, readModels: true, writeRun: ['data/*'] },
  'prepare-vocabulary': { ...NONE, readRuns: true, readDatasets: true, readModels: true, writeRun: ['data/*'] },
  'prepare-chunk': { ...NONE, readRuns: true, readDatasets: true, writeRun: ['data/*'] },
  'cache-teacher': { ...NONE, readRuns: true, readModels: true, writeRun: ['cache/*', '_stages/cache-teacher/*'] },
  // Per-shard parts only; the merged eval/<model>.json belongs to merge-eval.
  // (candidates' validation parts too: selection/parts/, for candidate selection)
  evaluate: { ...NONE, readRuns: true, readModels: true, writeRun: ['eval/parts/*', '_stages/evaluate/*', 'selection/parts/*', '_stages/evaluate-val/*'] },
  'merge-eval': { ...NONE, readRuns: true, writeRun: ['eval/*', '_stages/merge-eval/*'] },
  'select-candidates': { ...NONE, readRuns: true, writeRun: ['selection/val/*', 'selection/selection.json', '_stages/select-candidates/*'] },
  report: { ...NONE, readRuns: true, writeRun: ['report/*', '_stages/report/*'], writeRunsIndex: true },
  failure: { ...NONE, readRuns: true, writeRun: ['failure.json'], writeRunsIndex: true },
  // Reads the spec of an S3-triggered run; writes nothing (validate does).
  'start-run': { ...NONE, readJobs: true },
};

/**
 * The Batch trainer job (teacher and student training): data shards come from the run's data/,
 * the teacher (online distillation without a cache) possibly from models/.
 */
export const TRAINER_ACCESS: PrefixAccess = {
  readRuns: true,
  readJobs: false,
  readDatasets: false,
  readModels: true,
  writeRun: ['models/*', 'checkpoints/*', '_stages/train-teacher/*', '_stages/train-student/*'],
};

/** Applies one row of the table to a grantee. */
export function grantPrefixAccess(artifacts: ArtifactBucket, grantee: iam.IGrantable, access: PrefixAccess): void {
  if (access.readRuns) artifacts.grantReadRuns(grantee);
  if (access.readJobs) artifacts.grantReadJobs(grantee);
  if (access.readDatasets) artifacts.grantReadDatasets(grantee);
  if (access.readModels) artifacts.grantReadModels(grantee);
  if (access.writeRun.length > 0) artifacts.grantWriteRun(grantee, ...access.writeRun);
  if (access.writeRunsIndex) artifacts.grantWriteRunsIndex(grantee);
}
