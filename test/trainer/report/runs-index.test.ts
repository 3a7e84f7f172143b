/** The runs index rows, table, page and notification text (trainer/report/runs-index.ts), and that report pages reference no other object. */
import { renderReport } from '../../../trainer/report';
import { failedRow, formatRunsTable, notificationText, renderRunsIndexHtml, runningRow, succeededRow, type RunRow } from '../../../trainer/report/runs-index';
import type { MetricsSummary, ModelSummary } from '../../../trainer/report/summary';
import { makeReportFixture } from './fixture';

const now = new Date('2026-12-01T10:00:00Z');
const spread = (mean: number) => ({ mean, std: 0.01, n: 3, min: mean - 0.01, max: mean + 0.01 });
const model = (id: string, role: 'teacher' | 'student', status: 'ok' | 'failed', acc: number | null, speedup: number | null): ModelSummary => ({
  id, label: id === 'teacher' ? 'Teacher (8 heads)' : `Student ${id}`, role, method: role === 'student' ? id : null, status, error: status === 'failed' ? 'oom' : null,
  metrics: acc === null ? {} : { vqaAccuracy: spread(acc) }, params: 1, flops: 1, fileBytes: 1, latencyMs: { batch1: null, batch32: null },
  speedupOverTeacher: speedup, teacherQualityKept: null,
});
const summary = (higherIsBetter = true): MetricsSummary => ({
  runId: 'r-ok', task: 'vqa', createdAt: '2026-12-01T09:30:00Z', primaryMetric: 'vqaAccuracy',
  metrics: [{ key: 'vqaAccuracy', label: 'VQA accuracy (official)', unit: '%', scale: 100, higherIsBetter }],
  models: [
    model('teacher', 'teacher', 'ok', 0.72, 1),
    model('amad', 'student', 'ok', 0.66, 3.28),
    model('one-to-one', 'student', 'ok', 0.62, 3.3),
    model('big', 'student', 'failed', null, null), // failed: never "best"
  ],
  comparisons: [], backend: 'wasm', runTimeSeconds: 754, estimatedCostUsd: null, failures: [],
});

describe('rows from the runs\' records', () => {
  test('succeeded: teacher metric, best student by the primary metric with its speed-up, run time, report link', () => {
    const row = succeededRow({ runId: 'r-ok', task: 'vqa', startedAt: '2026-12-01T09:17:00Z', now }, summary());
    expect(row).toMatchObject({
      status: 'succeeded', task: 'vqa', teacherMetric: 0.72, runTimeSeconds: 754, link: 'r-ok/report/index.html', failure: null,
      bestStudent: { id: 'amad', metric: 0.66, speedup: 3.28 },
    });
    // Lower-is-better metrics pick the smallest value.
    expect(succeededRow({ runId: 'r-ok', task: 'vqa', startedAt: null, now }, summary(false)).bestStudent?.id).toBe('one-to-one');
  });

  test('failed: the failed state, the error, the time from validation to the failure, a link to the record', () => {
    const row = failedRow({ runId: 'r-bad', task: 'captioning', startedAt: '2026-12-01T09:00:00Z', now }, { failedState: 'TrainTeacher', error: 'States.TaskFailed', failedAt: '2026-12-01T09:02:30Z' });
    expect(row).toMatchObject({ status: 'failed', runTimeSeconds: 150, link: 'r-bad/failure.json', failure: { state: 'TrainTeacher', error: 'States.TaskFailed' } });
  });
});

describe('the table, the page and the notification', () => {
  const rows: RunRow[] = [
    succeededRow({ runId: 'r-ok', task: 'vqa', startedAt: '2026-12-01T09:17:00Z', now }, summary()),
    failedRow({ runId: 'r-bad', task: 'captioning', startedAt: '2026-12-01T09:00:00Z', now }, { failedState: 'TrainTeacher', error: 'States.TaskFailed', failedAt: '2026-12-01T09:02:30Z' }),
    runningRow({ runId: 'r-new', task: 'translation', startedAt: '2026-12-01T09:50:00Z', now }),
  ];

  test('amad runs: one aligned line per run, newest first, with the command that opens each', () => {
    const lines = formatRunsTable(rows);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^Run\s+Started\s+Task\s+Status\s+Metric\s+Teacher\s+Best student\s+Student\s+Speed-up\s+Run time\s+Open with$/);
    expect(lines[2]).toMatch(/^r-new\s+2026-12-01 09:50 UTC\s+translation\s+running\s+—.*amad status r-new$/);
    expect(lines[3]).toMatch(/^r-ok\s+2026-12-01 09:17 UTC\s+vqa\s+succeeded\s+VQA accuracy \(official\)\s+72\.0 %\s+Student amad\s+66\.0 %\s+3\.28×\s+12 min 34 s\s+amad report r-ok --url$/);
    expect(lines[4]).toMatch(/^r-bad\s+.*failed \(TrainTeacher\).*2 min 30 s\s+amad report r-bad --url$/);
  });

  test('the page: one row per run with its relative link, sortable headers, nothing fetched', () => {
    const html = renderRunsIndexHtml({ version: 1, generatedAt: now.toISOString(), runs: rows });
    expect(html.match(/<tr data-run=/g)).toHaveLength(3);
    expect(html).toContain('<a href="r-ok/report/index.html">report</a>');
    expect(html).toContain('<a href="r-bad/failure.json">failure record</a>');
    expect(html).toContain('title="States.TaskFailed"');
    expect(html.match(/<th scope="col"><button type="button">/g)).toHaveLength(10);
    expect(externalReferences(html, ['r-ok/report/index.html', 'r-bad/failure.json'])).toEqual([]);
  });

  test('the notification names the run, its status and numbers, and the command; never a URL', () => {
    const ok = notificationText(rows[0]!);
    expect(ok.split('\n')).toEqual([
      'amad-distill run r-ok succeeded (vqa, run time 12 min 34 s).',
      'Teacher VQA accuracy (official): 72.0 %',
      "Best student: Student amad: 66.0 %, 3.28× the teacher's speed",
      'Open the report: amad report r-ok --url',
      'Every run: amad runs',
    ]);
    const bad = notificationText(rows[1]!);
    expect(bad).toMatch(/^amad-distill run r-bad failed in TrainTeacher \(run time 2 min 30 s\): States\.TaskFailed\nOpen the failure record: amad report r-bad --url/);
    for (const text of [ok, bad]) expect(text).not.toMatch(/https?:\/\/|X-Amz-/);
  });
});

/**
 * Every reference in a page to something outside it: src/href/action/url(...)/@import values that
 * are not data: URIs, in-page anchors or the allowed links. A report must have none, so one
 * presigned URL shows all of it.
 */
function externalReferences(html: string, allowedLinks: readonly string[] = []): string[] {
  const refs = [
    ...[...html.matchAll(/\b(?:src|href|action|poster|srcset|xlink:href|data)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => m[1] ?? m[2] ?? ''),
    ...[...html.matchAll(/url\(\s*['"]?([^'")]*)/gi)].map((m) => m[1]!),
    ...[...html.matchAll(/@import\s+['"]([^'"]+)/gi)].map((m) => m[1]!),
  ];
  return refs.filter((r) => !r.startsWith('data:') && !r.startsWith('#') && !allowedLinks.includes(r));
}

test('the report HTML references no other object (one presigned URL shows everything)', () => {
  for (const failStudent of [false, true]) {
    const { html } = renderReport(makeReportFixture({ failStudent }));
    expect(html.length).toBeGreaterThan(1000);
    expect(html).toMatch(/<img [^>]*src="data:image\/png;base64,/); // images are inline, and the check sees them
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain(`content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`);
  }
  // The check itself catches a stylesheet, a script, an image and a CSS url() that would be fetched.
  expect(externalReferences('<link rel="stylesheet" href="style.css"><script src="a.js"></script><img src="x.png"><div style="background:url(y.png)">')).toEqual(['style.css', 'a.js', 'x.png', 'y.png']);
});
