/**
 * The runs index: one row per run (`runs/index.json`, `runs/index.html`, and `amad runs` in a
 * terminal), so a team sees every run it has made and reaches each report in one click.
 *
 * A row is made from the run's own records: its spec (task), its Validate marker (start time),
 * and then either its report's metrics.json (succeeded) or its failure.json (failed); a run with
 * neither yet is "running". This module only shapes rows and renders them; writing them is
 * trainer/stages/runs-index.ts.
 *
 * The page is self-contained like the report (inline style and script, nothing fetched), and its
 * links are relative to `runs/`, so it works from the run folder, a downloaded copy of the
 * bucket's `runs/`, or any server that serves the bucket with the reader's credentials.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { esc } from './escape';
import { fmtDuration, fmtNum } from './format';
import type { MetricsSummary } from './summary';

export const RUN_STATUSES = ['succeeded', 'failed', 'running'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const MetricRefSchema = z.strictObject({ key: z.string(), label: z.string(), unit: z.string(), scale: z.number(), higherIsBetter: z.boolean() });

export const RunRowSchema = z.strictObject({
  runId: z.string().min(1),
  /** Data task (vqa, captioning, translation); null when the spec never validated. */
  task: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  /** When the run was first validated (ISO); null when it never was. */
  startedAt: z.string().nullable(),
  /** When this row was recorded (ISO). */
  updatedAt: z.string(),
  /** The report's primary metric (succeeded runs). */
  primaryMetric: MetricRefSchema.nullable(),
  /** Teacher's primary metric, mean over seeds, as computed (e.g. a fraction for accuracy). */
  teacherMetric: z.number().nullable(),
  /** The student with the best mean primary metric, its value and its speed-up over the teacher. */
  bestStudent: z.strictObject({ id: z.string(), label: z.string(), metric: z.number(), speedup: z.number().nullable() }).nullable(),
  /** Wall-clock seconds from validation to the report or the failure. */
  runTimeSeconds: z.number().nullable(),
  /** Link relative to `runs/`: the report page, or the failure record; null while running. */
  link: z.string().nullable(),
  /** Failed runs: the state that failed and the error, so the index says why without the record. */
  failure: z.strictObject({ state: z.string().nullable(), error: z.string() }).nullable(),
});
export type RunRow = z.infer<typeof RunRowSchema>;

export const RunsIndexSchema = z.strictObject({
  version: z.literal(1),
  generatedAt: z.string(),
  runs: z.array(RunRowSchema),
});
export type RunsIndex = z.infer<typeof RunsIndexSchema>;

/** Links relative to the `runs/` folder that holds index.html. */
export const reportLink = (runId: string) => `${runId}/report/index.html`;
export const failureLink = (runId: string) => `${runId}/failure.json`;

interface RowBase {
  readonly runId: string;
  readonly task: string | null;
  readonly startedAt: string | null;
  readonly now: Date;
}

/** A run that has started and has neither reported nor failed. */
export function runningRow(b: RowBase): RunRow {
  return { runId: b.runId, task: b.task, status: 'running', startedAt: b.startedAt, updatedAt: b.now.toISOString(), primaryMetric: null, teacherMetric: null, bestStudent: null, runTimeSeconds: null, link: null, failure: null };
}

/** A row that only knows the run and its status (when its records cannot be read). */
export function bareRow(runId: string, status: RunStatus, now: Date): RunRow {
  const row = runningRow({ runId, task: null, startedAt: null, now });
  return { ...row, status, link: status === 'succeeded' ? reportLink(runId) : status === 'failed' ? failureLink(runId) : null };
}

/** A run whose report was written: its headline numbers from the report's metrics.json. */
export function succeededRow(b: RowBase, summary: MetricsSummary): RunRow {
  const def = summary.metrics.find((m) => m.key === summary.primaryMetric) ?? null;
  const teacher = summary.models.find((m) => m.role === 'teacher' && m.status === 'ok');
  const key = summary.primaryMetric;
  let best: RunRow['bestStudent'] = null;
  for (const m of summary.models) {
    const v = m.metrics[key]?.mean;
    if (m.role !== 'student' || m.status !== 'ok' || v === undefined) continue;
    const better = best === null || (def?.higherIsBetter === false ? v < best.metric : v > best.metric);
    if (better) best = { id: m.id, label: m.label, metric: v, speedup: m.speedupOverTeacher };
  }
  return {
    ...runningRow(b),
    status: 'succeeded',
    primaryMetric: def,
    teacherMetric: teacher?.metrics[key]?.mean ?? null,
    bestStudent: best,
    runTimeSeconds: summary.runTimeSeconds,
    link: reportLink(b.runId),
  };
}

/** A run that failed: which state, the error, and the time from validation to the failure. */
export function failedRow(b: RowBase, failure: { failedState: string | null; error: string; failedAt: string }): RunRow {
  const start = b.startedAt ? Date.parse(b.startedAt) : NaN;
  const end = Date.parse(failure.failedAt);
  return {
    ...runningRow(b),
    status: 'failed',
    runTimeSeconds: Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null,
    link: failureLink(b.runId),
    failure: { state: failure.failedState, error: failure.error },
  };
}

/** Newest first (by start, then id), so the latest runs lead the table. */
export function sortRows(rows: readonly RunRow[]): RunRow[] {
  return [...rows].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || a.runId.localeCompare(b.runId));
}

/** A metric value as displayed (scaled, with its unit). */
export function fmtMetric(value: number | null | undefined, def: RunRow['primaryMetric']): string {
  if (value === null || value === undefined || !def) return '—';
  return `${fmtNum(value * def.scale, 3)}${def.unit ? ` ${def.unit}` : ''}`;
}

const fmtSpeedup = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${fmtNum(v, 3)}×`);
const fmtDate = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC') : '—');

/** The table's columns: header, the cell text of a row, and the value the page sorts by. */
const COLUMNS: readonly { header: string; text: (r: RunRow) => string; sort: (r: RunRow) => string | number }[] = [
  { header: 'Run', text: (r) => r.runId, sort: (r) => r.runId },
  { header: 'Started', text: (r) => fmtDate(r.startedAt), sort: (r) => r.startedAt ?? '' },
  { header: 'Task', text: (r) => r.task ?? '—', sort: (r) => r.task ?? '' },
  { header: 'Status', text: (r) => r.status + (r.failure ? ` (${r.failure.state ?? '?'})` : ''), sort: (r) => r.status },
  { header: 'Metric', text: (r) => r.primaryMetric?.label ?? '—', sort: (r) => r.primaryMetric?.label ?? '' },
  { header: 'Teacher', text: (r) => fmtMetric(r.teacherMetric, r.primaryMetric), sort: (r) => r.teacherMetric ?? -Infinity },
  { header: 'Best student', text: (r) => r.bestStudent?.label ?? '—', sort: (r) => r.bestStudent?.label ?? '' },
  { header: 'Student', text: (r) => fmtMetric(r.bestStudent?.metric, r.primaryMetric), sort: (r) => r.bestStudent?.metric ?? -Infinity },
  { header: 'Speed-up', text: (r) => fmtSpeedup(r.bestStudent?.speedup), sort: (r) => r.bestStudent?.speedup ?? -Infinity },
  { header: 'Run time', text: (r) => (r.runTimeSeconds === null ? '—' : fmtDuration(r.runTimeSeconds)), sort: (r) => r.runTimeSeconds ?? -Infinity },
];

/** The same table as plain text for a terminal (`amad runs`): aligned columns, newest first. */
export function formatRunsTable(rows: readonly RunRow[]): string[] {
  const header = [...COLUMNS.map((c) => c.header), 'Open with'];
  const body = sortRows(rows).map((r) => [...COLUMNS.map((c) => c.text(r)), r.status === 'running' ? `amad status ${r.runId}` : `amad report ${r.runId} --url`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

// Click a header to sort by it (again to reverse). Values come from data-sort (numbers when numeric).
const SORT_SCRIPT = `(() => {
  const table = document.getElementById('runs');
  const body = table.tBodies[0];
  table.querySelectorAll('th button').forEach((btn, col) => {
    btn.addEventListener('click', () => {
      const th = btn.parentElement;
      const asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach((h) => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      const key = (tr) => { const v = tr.cells[col].dataset.sort; const n = Number(v); return v !== '' && Number.isFinite(n) ? n : v; };
      const rows = [...body.rows].sort((a, b) => { const x = key(a), y = key(b); const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)); return asc ? c : -c; });
      rows.forEach((r) => body.appendChild(r));
    });
  });
})();`;

const INDEX_CSS = `
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; }
main { max-width: 1280px; margin: 0 auto; padding: 12px 14px 40px; }
h1 { font-size: 1.45rem; margin: 8px 0; border-bottom: 3px solid #0072B2; }
.muted { color: #555; font-size: 0.9rem; }
.table-wrap { overflow-x: auto; border: 1px solid #d0d0d0; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { padding: 6px 8px; border-bottom: 1px solid #d0d0d0; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort=ascending] button::after { content: " ▲"; }
th[aria-sort=descending] button::after { content: " ▼"; }
.badge { border-radius: 4px; padding: 1px 6px; font-size: 0.85rem; }
.succeeded { background: #e5f5e0; color: #006d2c; } .failed { background: #fde0dd; color: #b30000; } .running { background: #eef3fb; color: #0072B2; }
`;

const NUMERIC_HEADERS = new Set(['Teacher', 'Student', 'Speed-up', 'Run time']);

/** `runs/index.html`: the sortable table, one self-contained page. */
export function renderRunsIndexHtml(index: RunsIndex): string {
  const rows = sortRows(index.runs);
  const head = `<tr>${COLUMNS.map((c) => `<th scope="col"><button type="button">${esc(c.header)}</button></th>`).join('')}<th scope="col">Open</th></tr>`;
  const body = rows
    .map((r) => {
      const cells = COLUMNS.map((c) => {
        const cls = NUMERIC_HEADERS.has(c.header) ? ' class="num"' : '';
        const sort = c.sort(r);
        const sortAttr = esc(typeof sort === 'number' && !Number.isFinite(sort) ? '' : String(sort));
        const text = c.header === 'Status' ? `<span class="badge ${r.status}">${esc(c.text(r))}</span>` : esc(c.text(r));
        const title = c.header === 'Status' && r.failure ? ` title="${esc(r.failure.error)}"` : '';
        return `<td${cls} data-sort="${sortAttr}"${title}>${text}</td>`;
      }).join('');
      const open = r.link ? `<a href="${esc(r.link)}">${r.status === 'failed' ? 'failure record' : 'report'}</a>` : '<span class="muted">in progress</span>';
      return `<tr data-run="${esc(r.runId)}">${cells}<td>${open}</td></tr>`;
    })
    .join('');
  const scriptHash = createHash('sha256').update(SORT_SCRIPT).digest('base64');
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    // Nothing is fetched: inline style, this one inline script (by hash), no images.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'">` +
    `<title>amad-distill runs</title><style>${INDEX_CSS}</style></head><body><main>` +
    `<h1>amad-distill runs</h1><p class="muted">${rows.length} run(s); generated ${esc(fmtDate(index.generatedAt))}. Click a column to sort. ` +
    'Each run opens with <code>amad report &lt;run&gt; --url</code>; this page and <code>amad runs</code> show the same table.</p>' +
    `<div class="table-wrap"><table id="runs"><thead>${head}</thead><tbody>${body}</tbody></table></div>` +
    `</main><script>${SORT_SCRIPT}</script></body></html>\n`
  );
}

/**
 * The run notification's text (SNS e-mail): the run, its status, its headline numbers and the
 * command that opens its report. Deliberately no link: a presigned URL in an e-mail would outlive
 * the reader's access; `amad report <runId> --url` signs one with the reader's own credentials.
 */
export function notificationText(row: RunRow): string {
  const time = row.runTimeSeconds === null ? '' : `, run time ${fmtDuration(row.runTimeSeconds)}`;
  const lines: string[] = [];
  if (row.status === 'succeeded') {
    lines.push(`amad-distill run ${row.runId} succeeded (${row.task ?? 'unknown task'}${time}).`);
    if (row.primaryMetric) {
      lines.push(`Teacher ${row.primaryMetric.label}: ${fmtMetric(row.teacherMetric, row.primaryMetric)}`);
      lines.push(
        row.bestStudent
          ? `Best student: ${row.bestStudent.label}: ${fmtMetric(row.bestStudent.metric, row.primaryMetric)}, ${fmtSpeedup(row.bestStudent.speedup)} the teacher's speed`
          : 'No student finished.',
      );
    }
    lines.push(`Open the report: amad report ${row.runId} --url`);
  } else if (row.status === 'failed') {
    lines.push(`amad-distill run ${row.runId} failed in ${row.failure?.state ?? 'an unknown state'}${time ? ` (${time.slice(2)})` : ''}: ${row.failure?.error ?? 'no error recorded'}`);
    lines.push(`Open the failure record: amad report ${row.runId} --url`);
    lines.push(`Where it stopped: amad status ${row.runId} --aws`);
  } else {
    lines.push(`amad-distill run ${row.runId} is running: amad status ${row.runId} --aws`);
  }
  lines.push('Every run: amad runs');
  return lines.join('\n');
}
