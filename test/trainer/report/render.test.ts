/** Report data schema, the rendered HTML/metrics.json/Markdown, failed students and escaping. */
import {
  MetricsSummarySchema,
  ReportDataError,
  ReportDataSchema,
  encodeRgbImage,
  isAmadMethod,
  parseReportData,
  renderReport,
} from '../../../trainer/report';
import { methodLabel } from '../../../trainer/stages/report';
import { makeReportFixture } from './fixture';

describe('ReportDataSchema', () => {
  test('the fixture survives a JSON round trip and validates', () => {
    // GIVEN report data as the report Lambda would read it from JSON
    const json = JSON.parse(JSON.stringify(makeReportFixture({ failStudent: true })));
    // WHEN parsed THEN it validates and keeps every model
    const r = ReportDataSchema.safeParse(json);
    expect(r.success).toBe(true);
    expect(r.success && r.data.models.map((m) => m.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'failed']);
  });

  test('a failed model without an error message is rejected naming the field', () => {
    const data = makeReportFixture();
    data.models[1] = { ...data.models[1]!, status: 'failed', error: undefined };
    expect(() => parseReportData(data)).toThrow(ReportDataError);
    expect(() => parseReportData(data)).toThrow(/models\.1\.error: model "student-amad" failed/);
  });

  test('unknown metric keys, dangling model ids, ragged matrices and wrong image sizes are rejected', () => {
    const data = makeReportFixture();
    data.models[0]!.seeds![0]!.metrics = { bleu9: 0.1 };
    data.alignment![0]!.modelId = 'nobody';
    data.alignment![0]!.late.weights = [[0.5, 0.5], [1]];
    data.samplePredictions![0]!.image = { width: 4, height: 4, rgbBase64: Buffer.alloc(10).toString('base64') };
    let issues: string[] = [];
    try {
      parseReportData(data);
    } catch (e) {
      issues = (e as ReportDataError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^models\.0\.seeds\.0\.metrics\.bleu9: unknown metric "bleu9"/),
        expect.stringMatching(/^alignment\.0\.modelId: no model with id "nobody"/),
        expect.stringMatching(/^alignment\.0\.late\.weights: .*rectangular/),
        expect.stringMatching(/^samplePredictions\.0\.image\.rgbBase64: holds 10 bytes, expected width·height·3 = 48/),
      ]),
    );
  });

  test('encodeRgbImage checks the byte count', () => {
    expect(encodeRgbImage(new Uint8Array(12), 2, 2)).toEqual({ width: 2, height: 2, rgbBase64: Buffer.alloc(12).toString('base64') });
    expect(() => encodeRgbImage(new Uint8Array(11), 2, 2)).toThrow(/11 bytes, expected width·height·3 = 12/);
  });
});

describe('renderReport', () => {
  const rendered = renderReport(makeReportFixture({ failStudent: true }));

  test('the HTML is self-contained: no scripts, no external URLs, images as PNG data URIs', () => {
    const { html } = rendered;
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    const imgs = html.match(/<img [^>]*>/g) ?? [];
    expect(imgs.length).toBeGreaterThan(0);
    for (const img of imgs) {
      expect(img).toMatch(/src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
      expect(img).toMatch(/alt="[^"]+"/);
    }
    expect(html).toContain('@media print');
    expect(html).toContain('name="viewport"');
  });

  test('every chart is an accessible SVG with a title and named axes', () => {
    const svgs = rendered.html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs.length).toBe(2 + 4 * 2 + 1 + 2);
    for (const svg of svgs) {
      expect(svg).toMatch(/role="img"/);
      expect(svg).toMatch(/<title id="[^"]+">[^<]+<\/title><desc id="[^"]+">[^<]+<\/desc>/);
    }
    expect(rendered.html).toContain('training step');
    expect(rendered.html).toContain('loss (nats)');
    expect(rendered.html).toContain('VQA accuracy (%)');
    expect(rendered.html).toContain('student head j');
    expect(rendered.html).toContain('teacher head i');
  });

  test('a failed student is shown as failed with its error, and other models still render', () => {
    const { html, summaryMd } = rendered;
    // Escaped error text, in the headline table and the failures section.
    const escapedError = 'RangeError: &lt;oom&gt; wasm heap exhausted at step 120 (B=64) &amp; &quot;retry with microBatch&quot;';
    expect(html.split(escapedError).length - 1).toBe(2);
    expect(html).toMatch(/Student MiniLMv2 <span class="badge failed">failed<\/span>/);
    expect(html).toContain('Not shown (failed): Student MiniLMv2');
    expect(summaryMd).toContain('| Student MiniLMv2 | FAILED: train student: RangeError: <oom> wasm heap exhausted');
    expect(summaryMd).toContain('## Failures');
  });

  test('the worst examples are the lowest mean student scores, perfect ones excluded', () => {
    // Fixture: AMAD is wrong when k % 3 = 0, one-to-one when k % 4 = 0 → means q0 0, q3/q4/q6 0.5, others 1.
    const section = rendered.html.slice(rendered.html.indexOf('Worst examples'), rendered.html.indexOf('Other examples'));
    expect(section.match(/#q\d+/g)).toEqual(['#q0', '#q3', '#q4', '#q6']);
  });

  test('all data text is escaped (no injected markup)', () => {
    const data = makeReportFixture();
    data.runId = 'run-<img src=x onerror=alert(1)>';
    data.models[1]!.label = 'AMAD "<b>bold</b>"';
    const { html } = renderReport(data);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).toContain('run-&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('AMAD &quot;&lt;b&gt;bold&lt;/b&gt;&quot;');
    // The fixture's question contains "<b>?" too.
    expect(html).toContain('what colour is the disc &lt;b&gt;?');
  });

  test('metrics.json validates and states the numbers the table shows', () => {
    const summary = MetricsSummarySchema.parse(JSON.parse(rendered.metricsJson));
    const data = parseReportData(makeReportFixture({ failStudent: true }));
    const teacher = summary.models.find((m) => m.id === 'teacher')!;
    const amad = summary.models.find((m) => m.id === 'student-amad')!;
    // Recompute from the raw seeds rather than trusting the summary.
    const seedsOf = (id: string) => data.models.find((m) => m.id === id)!.seeds.map((s) => s.metrics.vqaAccuracy!);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(amad.metrics.vqaAccuracy!.mean).toBeCloseTo(mean(seedsOf('student-amad')), 12);
    expect(amad.teacherQualityKept).toBeCloseTo(mean(seedsOf('student-amad')) / mean(seedsOf('teacher')), 12);
    expect(amad.speedupOverTeacher).toBeCloseTo(41 / 12.5, 12);
    expect(teacher.speedupOverTeacher).toBeCloseTo(1, 12);
    expect(summary.models.find((m) => m.id === 'student-minilm')).toMatchObject({ status: 'failed', metrics: {}, speedupOverTeacher: null });
    expect(summary.comparisons.map((c) => `${c.a} vs ${c.b}`)).toEqual(['student-amad vs student-one-to-one', 'student-amad vs student-none']);
    expect(summary.comparisons[0]!.meanDiff).toBeCloseTo(mean(seedsOf('student-amad')) - mean(seedsOf('student-one-to-one')), 12);
    expect(summary.failures).toEqual([{ stage: 'train student', target: 'student-minilm', message: expect.stringContaining('wasm heap exhausted') }]);
    // The HTML shows the same mean.
    expect(rendered.html).toContain(`${(amad.metrics.vqaAccuracy!.mean * 100).toFixed(1)} ±`);
  });

  test('a report with no optional sections, one seed and no teacher still renders', () => {
    const minimal = {
      runId: 'r1',
      task: 'caption' as const,
      createdAt: '2026-11-27T00:00:00Z',
      spec: {},
      software: {},
      backend: 'cpu',
      runTimeSeconds: 3,
      metrics: [{ key: 'ciderD', label: 'CIDEr-D' }],
      models: [{ id: 's', label: 'Student', role: 'student' as const, status: 'ok' as const, seeds: [{ seed: 0, metrics: { ciderD: 0.8 } }] }],
    };
    const { html, metricsJson } = renderReport(minimal);
    expect(html).toContain('No alignment weights were recorded');
    expect(html).toContain('<td>0.800</td>'); // one seed: no spread, n stated in the header
    expect(html).toContain('mean ± std, 1 seed');
    const summary = MetricsSummarySchema.parse(JSON.parse(metricsJson));
    expect(summary.models[0]).toMatchObject({ teacherQualityKept: null, speedupOverTeacher: null, metrics: { ciderD: { n: 1, std: 0 } } });
  });
});

describe('paired comparisons find the AMAD students by the method names the report stage writes', () => {
  // The report stage names methods with methodLabel; the comparisons once looked for "amad" and
  // silently found no AMAD student in any real report.
  test.each([
    [{ variant: 'kl', alphaKd: 1, alphaAttn: 1 }, true],
    [{ variant: 'mse', alphaKd: 1, alphaAttn: 1 }, true],
    [{ variant: 'projected', alphaKd: 1, alphaAttn: 1 }, true],
    [{ variant: 'token', alphaKd: 0, alphaAttn: 1 }, true],
    [{ variant: 'one-to-one', alphaKd: 1, alphaAttn: 1 }, false],
    [{ variant: 'mean-head', alphaKd: 1, alphaAttn: 1 }, false],
    [{ variant: 'relation', alphaKd: 1, alphaAttn: 1 }, false],
    [{ variant: 'none', alphaKd: 1, alphaAttn: 0 }, false],
    [{ variant: 'kl', alphaKd: 1, alphaAttn: 0 }, false], // no attention term: logit KD only
  ])('%o → AMAD: %s', (distill, amad) => {
    expect(isAmadMethod(methodLabel(distill))).toBe(amad);
  });
});
