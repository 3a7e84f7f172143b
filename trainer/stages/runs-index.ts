/**
 * Writing the runs index (`<root>/runs/index.json` and `index.html`, trainer/report/runs-index.ts)
 * when a run starts, reports or fails, on a local folder and on S3 alike.
 *
 * Each run keeps its own row in `runs/_index/<runId>.json` (run ids start with a letter or digit,
 * so `_index` is never a run), and the index is REBUILT from those rows, never patched: two runs
 * finishing at once each write only their own row, so neither can erase the other's. The rebuild
 * is then checked: after writing the index the writer reads the rows again and rewrites until
 * what it wrote is what is there. The last writer's check happens after its own write, so every
 * row stored before that check is in the final index, and a row stored after it triggers its own,
 * later rebuild. (S3 lists and reads are strongly consistent since 2020.)
 */
import { FailureRecordSchema } from '../../contract/events';
import { readStageMarker, runLayout, Stage } from '../../contract/layout';
import { readRunSpec } from '../../contract/plan';
import { joinUri, storageFor, StorageNotFoundError } from '../../contract/storage';
import { taskOf } from '../data/source';
import { failedRow, renderRunsIndexHtml, reportLink, runningRow, RunRowSchema, RunsIndexSchema, succeededRow, sortRows, type RunRow, type RunsIndex, type RunStatus } from '../report/runs-index';
import { MetricsSummarySchema } from '../report/summary';

/** Files of the index beside the runs (`runsUri` = `<root>/runs`). */
export function runsIndexLayout(runsUri: string) {
  const rowsDir = joinUri(runsUri, '_index');
  return {
    rowsDir,
    row: (runId: string) => joinUri(rowsDir, `${runId}.json`),
    json: joinUri(runsUri, 'index.json'),
    html: joinUri(runsUri, 'index.html'),
  };
}

/** `<root>/runs` of a run folder `<root>/runs/<runId>`, and the run id. */
export function splitRunUri(runUri: string): { runsUri: string; runId: string } {
  const trimmed = runUri.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  return { runsUri: trimmed.slice(0, cut), runId: trimmed.slice(cut + 1) };
}

export interface RunsIndexOptions {
  readonly now?: () => Date;
  /** Rebuild passes before giving up on a quiet index (each pass follows a concurrent change). @default 8 */
  readonly maxPasses?: number;
  /** Test hook: runs after a pass read the rows and before it writes the index. */
  readonly beforeIndexWrite?: () => Promise<void>;
}

async function readJsonOrNull(uri: string): Promise<unknown> {
  try {
    return JSON.parse((await storageFor(uri).get(uri)).toString('utf8'));
  } catch (e) {
    if (e instanceof StorageNotFoundError) return null;
    throw e;
  }
}

/** The run's row from its own records, for the given status. */
export async function rowFromRunRecords(runUri: string, status: RunStatus, now: Date): Promise<RunRow> {
  const layout = runLayout(runUri);
  const { runId } = splitRunUri(runUri);
  const validated = await readStageMarker(runUri, Stage.validate);
  let task: string | null = null;
  try {
    task = taskOf((await readRunSpec(layout.spec)).data);
  } catch (e) {
    if (!(e instanceof StorageNotFoundError)) throw e;
  }
  const base = { runId, task, startedAt: validated?.committedAt ?? null, now };
  // A record that does not parse still gives the run its row and link, without numbers.
  if (status === 'succeeded') {
    const summary = MetricsSummarySchema.safeParse(await readJsonOrNull(layout.reportMetrics));
    return summary.success ? succeededRow(base, summary.data) : { ...runningRow(base), status, link: reportLink(runId) };
  }
  if (status === 'failed') {
    const record = FailureRecordSchema.safeParse(await readJsonOrNull(layout.failure));
    return failedRow(base, record.success ? record.data : { failedState: null, error: `unreadable failure record ${layout.failure}`, failedAt: now.toISOString() });
  }
  return runningRow(base);
}

/**
 * Every stored row under `runs/_index/`. A row that is not valid JSON or not a row is left out
 * (one bad file must not hide every run); a failed read throws, so an index is never rewritten
 * without a row that exists.
 */
export async function readRunRows(runsUri: string): Promise<RunRow[]> {
  const { rowsDir } = runsIndexLayout(runsUri);
  const uris = (await storageFor(rowsDir).list(rowsDir)).filter((u) => u.endsWith('.json'));
  const rows: RunRow[] = [];
  const CONCURRENT_READS = 16;
  for (let i = 0; i < uris.length; i += CONCURRENT_READS) {
    const batch = await Promise.all(uris.slice(i, i + CONCURRENT_READS).map((u) => readJsonOrNull(u).catch((e: unknown) => (e instanceof SyntaxError ? null : Promise.reject(e)))));
    for (const raw of batch) {
      const parsed = RunRowSchema.safeParse(raw);
      if (parsed.success) rows.push(parsed.data);
    }
  }
  return sortRows(rows);
}

/**
 * Rebuilds `runs/index.json` and `runs/index.html` from the stored rows, repeating until the rows
 * read after the write are the ones written (see the module comment). Returns the index written.
 */
export async function rebuildRunsIndex(runsUri: string, opts: RunsIndexOptions = {}): Promise<RunsIndex> {
  const files = runsIndexLayout(runsUri);
  const now = opts.now ?? (() => new Date());
  const maxPasses = opts.maxPasses ?? 8;
  let rows = await readRunRows(runsUri);
  for (let pass = 1; ; pass++) {
    await opts.beforeIndexWrite?.();
    const index: RunsIndex = RunsIndexSchema.parse({ version: 1, generatedAt: now().toISOString(), runs: rows });
    await storageFor(files.json).put(files.json, JSON.stringify(index, null, 2) + '\n');
    await storageFor(files.html).put(files.html, renderRunsIndexHtml(index));
    const after = await readRunRows(runsUri);
    if (JSON.stringify(after) === JSON.stringify(rows) || pass >= maxPasses) return index;
    rows = after;
  }
}

/**
 * Records a run's status (`running` at validation, `succeeded` after its report, `failed` after
 * its failure record) as its row, then rebuilds the index. Returns the row.
 */
export async function recordRunInIndex(runUri: string, status: RunStatus, opts: RunsIndexOptions = {}): Promise<RunRow> {
  const row = await rowFromRunRecords(runUri, status, (opts.now ?? (() => new Date()))());
  await storeRunRow(runUri, row, opts);
  return row;
}

/** Stores a row made by `rowFromRunRecords` as the run's row and rebuilds the index. */
export async function storeRunRow(runUri: string, row: RunRow, opts: RunsIndexOptions = {}): Promise<void> {
  const { runsUri, runId } = splitRunUri(runUri);
  if (row.runId !== runId) throw new Error(`storeRunRow: the row is for run ${row.runId}, the folder ${runUri} for run ${runId}`);
  const rowUri = runsIndexLayout(runsUri).row(runId);
  await storageFor(rowUri).put(rowUri, JSON.stringify(RunRowSchema.parse(row), null, 2) + '\n');
  await rebuildRunsIndex(runsUri, opts);
}

/** The index as stored, or rebuilt in memory from the rows when none is stored yet. */
export async function readRunsIndex(runsUri: string): Promise<RunsIndex> {
  const stored = await readJsonOrNull(runsIndexLayout(runsUri).json);
  if (stored !== null) return RunsIndexSchema.parse(stored);
  return { version: 1, generatedAt: new Date().toISOString(), runs: await readRunRows(runsUri) };
}
