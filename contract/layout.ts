/**
 * Where a run's artifacts live, and how a stage says "done".
 *
 *     <root>/runs/<runId>/
 *       spec.json                      normalised job spec (Validate)
 *       data/                          tokenizer, <split>/shard-*.bin, manifest.json (PrepareData)
 *       models/teacher/                trained teacher (TrainTeacher)
 *       models/<student>/seed-<n>/     trained students (TrainStudent)
 *       checkpoints/<model>/           training checkpoints (resume inside a job)
 *       cache/                         teacher attention maps and logits (CacheTeacher)
 *       eval/<model>.json              merged metrics per model; eval/parts/ per shard (Evaluate)
 *       selection/                     candidates' validation parts and scores, selection.json (SelectCandidates)
 *       report/                        index.html, metrics.json, summary.md (Report)
 *       failure.json                   what failed and what was kept (Failure)
 *       _stages/<stage>/_SUCCESS       completion markers
 *
 * A model id is `teacher` or `<student>/seed-<n>`, the same path under models/ and eval/.
 *
 * Completion markers: a stage writes its outputs, then `commitStage` writes `_SUCCESS` holding the
 * sha256 of every output file and the stage's JSON result. `isStageComplete` re-hashes the outputs,
 * so a missing or modified output makes the stage incomplete again and a resumed run redoes it.
 * The marker is written last: a stage that dies midway leaves no marker and is redone whole.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { joinUri, storageFor, StorageNotFoundError, toUri } from './storage';

/** `<root>/runs/<runId>` as a URI (root: a local folder, file:// or s3:// prefix). */
export function runUriFor(artifactRoot: string, runId: string): string {
  return joinUri(toUri(artifactRoot), 'runs', runId);
}

/** Model id of a student seed: `<student>/seed-<n>`. */
export function studentModelId(student: string, seed: number): string {
  return `${student}/seed-${seed}`;
}

export const TEACHER_MODEL_ID = 'teacher';

/** URIs of a run's artifacts. */
export function runLayout(runUri: string) {
  const at = (...p: string[]) => joinUri(runUri, ...p);
  return {
    root: runUri,
    spec: at('spec.json'),
    data: at('data'),
    teacherModel: at('models', TEACHER_MODEL_ID),
    /** Folder of a model (`teacher` or `<student>/seed-<n>`). */
    model: (modelId: string) => at('models', modelId),
    studentModel: (student: string, seed: number) => at('models', studentModelId(student, seed)),
    checkpoints: (modelId: string) => at('checkpoints', modelId),
    trainLog: (modelId: string) => at('models', modelId, 'train-log.jsonl'),
    cache: at('cache'),
    evalFile: (modelId: string) => at('eval', `${modelId}.json`),
    evalPart: (modelId: string, shardIndex: number) => at('eval', 'parts', modelId, `shard-${shardIndex}.json`),
    /** Candidate selection: one model's validation predictions on one shard. */
    valEvalPart: (modelId: string, shardIndex: number) => at('selection', 'parts', modelId, `shard-${shardIndex}.json`),
    /** Candidate selection: one model's validation metrics. */
    valScore: (modelId: string) => at('selection', 'val', `${modelId}.json`),
    /** Candidate selection: every candidate's validation score and the choice per student. */
    selection: at('selection', 'selection.json'),
    reportDir: at('report'),
    reportIndex: at('report', 'index.html'),
    reportMetrics: at('report', 'metrics.json'),
    reportSummary: at('report', 'summary.md'),
    failure: at('failure.json'),
    stagesDir: at('_stages'),
    marker: (stage: string) => at('_stages', stage, '_SUCCESS'),
  };
}

/** Stage ids: one per unit of work that can be skipped on resume. */
export const Stage = {
  validate: 'validate',
  prepareData: 'prepare-data',
  trainTeacher: 'train-teacher',
  cacheTeacherShard: (shardIndex: number) => `cache-teacher/shard-${shardIndex}`,
  trainStudent: (student: string, seed: number) => `train-student/${studentModelId(student, seed)}`,
  evaluate: (modelId: string, shardIndex: number) => `evaluate/${modelId}/shard-${shardIndex}`,
  /** A candidate's evaluation on one validation shard (candidate selection). */
  evaluateVal: (modelId: string, shardIndex: number) => `evaluate-val/${modelId}/shard-${shardIndex}`,
  selectCandidates: 'select-candidates',
  mergeEval: 'merge-eval',
  report: 'report',
} as const;

const STAGE_PATTERN = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

function checkStage(stage: string): void {
  if (!STAGE_PATTERN.test(stage) || stage.split('/').includes('..')) {
    throw new Error(`invalid stage id "${stage}": use path segments of letters, digits, "-", "_", "." (e.g. "train-student/small/seed-0")`);
  }
}

export const StageMarkerSchema = z.strictObject({
  version: z.literal(1),
  stage: z.string(),
  committedAt: z.string(),
  /** Output files, relative to the run folder when inside it, else absolute URIs. */
  outputs: z.array(z.strictObject({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  /** The stage's JSON result, returned again when the stage is skipped. */
  result: z.unknown().optional(),
  /**
   * Fingerprint of what the stage consumed (see `fingerprint`). A stage re-run with other inputs
   * (e.g. a student that failed before and trained now) is not complete, even with intact outputs.
   */
  inputHash: z.string().optional(),
});
export type StageMarker = z.infer<typeof StageMarkerSchema>;

/** sha256 (hex) and size of one object, streamed (models and caches can be large). */
export async function hashObject(uri: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of await storageFor(uri).getStream(uri)) {
    const b = chunk as Buffer;
    size += b.length;
    h.update(b);
  }
  return { sha256: h.digest('hex'), size };
}

function resolveOutput(runUri: string, p: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : joinUri(runUri, p);
}

function relativeToRun(runUri: string, uri: string): string {
  const base = runUri.replace(/\/+$/, '') + '/';
  return uri.startsWith(base) ? uri.slice(base.length) : uri;
}

/**
 * Records a stage as complete. `outputs` are files or folders (ending in `/`), relative to the
 * run folder or absolute URIs; folders are expanded to every file beneath them. An empty or
 * missing folder is an error: a stage that claims outputs must have written them.
 */
export async function commitStage(
  runUri: string,
  stage: string,
  outputs: readonly string[],
  result?: unknown,
  opts: { readonly inputHash?: string } = {},
): Promise<StageMarker> {
  checkStage(stage);
  const files: string[] = [];
  for (const out of outputs) {
    const uri = resolveOutput(runUri, out);
    if (out.endsWith('/')) {
      const listed = await storageFor(uri).list(uri);
      if (listed.length === 0) throw new Error(`commitStage(${stage}): output folder ${uri} is empty or missing`);
      files.push(...listed);
    } else files.push(uri);
  }
  const entries = [];
  for (const uri of [...new Set(files)].sort()) {
    try {
      entries.push({ path: relativeToRun(runUri, uri), ...(await hashObject(uri)) });
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw new Error(`commitStage(${stage}): output ${uri} does not exist`);
      throw e;
    }
  }
  const marker: StageMarker = { version: 1, stage, committedAt: new Date().toISOString(), outputs: entries, result, ...(opts.inputHash ? { inputHash: opts.inputHash } : {}) };
  const markerUri = runLayout(runUri).marker(stage);
  await storageFor(markerUri).put(markerUri, JSON.stringify(marker, null, 2));
  return marker;
}

/** The stage's marker, or null when absent or unreadable (a corrupt marker means "not done"). */
export async function readStageMarker(runUri: string, stage: string): Promise<StageMarker | null> {
  checkStage(stage);
  const uri = runLayout(runUri).marker(stage);
  let text: string;
  try {
    text = (await storageFor(uri).get(uri)).toString('utf8');
  } catch (e) {
    if (e instanceof StorageNotFoundError) return null;
    throw e;
  }
  try {
    const parsed = StageMarkerSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.stage === stage ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface VerifyOptions {
  /**
   * `hash` (default) re-hashes every output; `size` only checks existence and size (cheap for
   * large S3 outputs, but misses same-size edits).
   */
  readonly verify?: 'hash' | 'size';
  /** When given, the marker must have been committed with this input fingerprint. */
  readonly inputHash?: string;
}

/** True when the stage's marker exists and every recorded output is present and unchanged. */
export async function isStageComplete(runUri: string, stage: string, opts: VerifyOptions = {}): Promise<boolean> {
  const marker = await readStageMarker(runUri, stage);
  if (!marker) return false;
  if (opts.inputHash !== undefined && marker.inputHash !== opts.inputHash) return false;
  for (const o of marker.outputs) {
    const uri = resolveOutput(runUri, o.path);
    try {
      if (opts.verify === 'size') {
        if ((await storageFor(uri).size(uri)) !== o.size) return false;
      } else {
        const actual = await hashObject(uri);
        if (actual.sha256 !== o.sha256 || actual.size !== o.size) return false;
      }
    } catch (e) {
      if (e instanceof StorageNotFoundError) return false;
      throw e;
    }
  }
  return true;
}

/** Ids of every stage with a marker (not verified), sorted: "what was kept" in failure.json and status. */
export async function listCommittedStages(runUri: string): Promise<string[]> {
  const dir = runLayout(runUri).stagesDir;
  const prefix = dir.replace(/\/+$/, '') + '/';
  const files = await storageFor(dir).list(dir);
  return files
    .filter((u) => u.startsWith(prefix) && u.endsWith('/_SUCCESS'))
    .map((u) => u.slice(prefix.length, -'/_SUCCESS'.length))
    .sort();
}

export interface StageOutcome<T> {
  readonly result: T;
  /** True when a valid marker made the stage skip its work (resume). */
  readonly skipped: boolean;
}

/**
 * The uniform resume wrapper of every stage: when the stage's marker is valid, returns the result
 * recorded in it without running `work`; otherwise runs `work`, commits its outputs and result,
 * and returns the result.
 */
export async function runStageOnce<T>(
  runUri: string,
  stage: string,
  work: () => Promise<{ outputs: readonly string[]; result: T }>,
  opts: VerifyOptions = {},
): Promise<StageOutcome<T>> {
  if (await isStageComplete(runUri, stage, opts)) {
    const marker = await readStageMarker(runUri, stage);
    return { result: marker?.result as T, skipped: true };
  }
  const { outputs, result } = await work();
  await commitStage(runUri, stage, outputs, result, { inputHash: opts.inputHash });
  return { result, skipped: false };
}

/** JSON with object keys sorted, so equal values always serialise (and hash) the same. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/** sha256 of a JSON value (key order ignored): the input fingerprint of a stage. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

/**
 * Fingerprint of a committed stage's outputs (their paths and hashes), or null without a marker.
 * A downstream stage includes it in its input fingerprint, so it re-runs when the upstream
 * outputs changed (a retrained model), and only then.
 */
export async function outputsFingerprint(runUri: string, stage: string): Promise<string | null> {
  const marker = await readStageMarker(runUri, stage);
  return marker ? fingerprint(marker.outputs.map((o) => [o.path, o.sha256])) : null;
}
