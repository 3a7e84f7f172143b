/**
 * The ML cores of the Lambda stages. The handlers in lambdas/ parse events, skip completed
 * stages and commit markers; these functions do the work. Each writes only under the URIs it is
 * given and returns the files it wrote (the handler hashes them into the stage marker).
 *
 */
import type { ModelRef, StudentResult } from '../../contract/events';
import type { JobSpec } from '../../contract/spec';
import { runLayout } from '../../contract/layout';
import { cacheOneShard } from './cache-teacher';
import { buildRunReport } from './report';

export interface StageFiles {
  /** URIs of every file written (hashed into the stage's _SUCCESS marker). */
  readonly outputs: readonly string[];
}

export interface CacheTeacherShardArgs {
  readonly runUri: string;
  readonly spec: JobSpec;
  /** Folder of the trained teacher (tfjs model). */
  readonly teacherUri: string;
  /** The data shard to run the teacher on. */
  readonly shardUri: string;
  readonly shardIndex: number;
  /** Folder for this run's cache (`<run>/cache`); the shard's files go beneath it. */
  readonly cacheDir: string;
}

/** Runs the teacher over one shard and writes the selected layers' attention maps and logits. */
export async function cacheTeacherShard(args: CacheTeacherShardArgs): Promise<StageFiles> {
  const outputs = await cacheOneShard({ spec: args.spec, dataUri: runLayout(args.runUri).data, teacherUri: args.teacherUri, shardUri: args.shardUri, cacheDir: args.cacheDir });
  return { outputs };
}

export interface EvaluateShardArgs {
  readonly runUri: string;
  readonly spec: JobSpec;
  readonly model: ModelRef;
  readonly shardUri: string;
  readonly shardIndex: number;
  /** Where to write this shard's partial results (JSON, `eval/parts/<model>/shard-<i>.json`). */
  readonly outUri: string;
  /** The runtime that runs the model. @default 'auto' (ONNX Runtime when it loads and model.onnx exists) */
  readonly runtime?: 'auto' | 'tfjs' | 'onnxruntime';
}

export interface MergeEvaluationsArgs {
  readonly runUri: string;
  readonly spec: JobSpec;
  readonly modelId: string;
  /** Partial results of every shard, in shard order. */
  readonly partUris: readonly string[];
  /** Where to write the model's merged metrics (`eval/<model>.json`). */
  readonly outUri: string;
}

export { evaluateShard, mergeEvaluations } from './evaluate';

export interface BuildReportArgs {
  readonly runUri: string;
  readonly spec: JobSpec;
  /** modelId → merged metrics file. */
  readonly evalFiles: Readonly<Record<string, string>>;
  /** Models without results and why (e.g. a failed student). */
  readonly missing: readonly { modelId: string; reason: string }[];
  /** Outcome of every student job. */
  readonly students: readonly StudentResult[];
  /** `report/` folder: index.html, metrics.json, summary.md. */
  readonly reportDir: string;
}

/** Builds the HTML report, metrics.json and summary.md. */
export async function buildReport(args: BuildReportArgs): Promise<StageFiles> {
  return { outputs: await buildRunReport(args) };
}
