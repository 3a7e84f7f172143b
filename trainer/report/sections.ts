/**
 * The report's HTML sections, one function each. Every function takes validated data plus the
 * precomputed summary and returns an HTML fragment in which all data-derived text is escaped.
 */
import { esc } from './escape';
import { fmtBytes, fmtCount, fmtDuration, fmtNum } from './format';
import { imagePng, matrixPng, matrixRange, overlayPng } from './png';
import type { Alignment, MetricDef, ModelReport, ReportData, SamplePrediction } from './schema';
import type { MetricsSummary, ModelSummary } from './summary';
import { barChart, heatmap, lineChart } from './svg';

/** Hands out page-unique ids for chart aria references. */
export class IdSource {
  private n = 0;
  next(prefix: string): string {
    return `${prefix}-${++this.n}`;
  }
}

/** Samples shown in full, and how many of the worst are listed separately. */
const SAMPLES_SHOWN = 6;
const WORST_SHOWN = 5;

/** Unit as appended to a displayed number ("%" sticks to it, other units get a space). */
function unitSuffix(def: MetricDef): string {
  return def.unit === '%' ? '%' : def.unit ? ' ' + def.unit : '';
}

/** A metric value as displayed: scaled, with its unit. */
export function fmtMetric(def: MetricDef, v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${fmtNum(v * def.scale, digits)}${unitSuffix(def)}`;
}

/** Axis title of a metric: "VQA accuracy (%)". */
export function metricAxis(def: MetricDef): string {
  return def.unit ? `${def.label} (${def.unit})` : `${def.label} (score)`;
}

/** "mean ± std (n=k)" of one model's metric, or — / failed; `showN: false` when a header states n. */
export function fmtSpread(def: MetricDef, m: ModelSummary, showN = true): string {
  if (m.status === 'failed') return 'failed';
  const s = m.metrics[def.key];
  if (!s) return '—';
  const n = showN ? ` (n=${s.n})` : '';
  return s.n > 1 ? `${fmtNum(s.mean * def.scale, 3)} ± ${fmtNum(s.std * def.scale, 2)}${unitSuffix(def)}${n}` : `${fmtMetric(def, s.mean)}${n}`;
}

/** The seed count shared by every reported metric of every model, or null when they differ. */
function commonSeedCount(summary: MetricsSummary): number | null {
  const ns = new Set(summary.models.flatMap((m) => Object.values(m.metrics).map((s) => s.n)));
  return ns.size === 1 ? [...ns][0]! : null;
}

function fmtLatency(p: { p50: number; p95: number } | null): string {
  return p ? `${fmtNum(p.p50, 3)} / ${fmtNum(p.p95, 3)}` : '—';
}

/** " · evaluation on … · latency on …" (empty for results without runtime records). */
export function inferenceLine(data: ReportData): string {
  const { evaluation, latency } = data.inference;
  return (evaluation.length ? ` · evaluation on ${evaluation.join('; ')}` : '') + (latency.length ? ` · latency on ${latency.join(' and ')} (speed-ups: ${latency[0]})` : '');
}

/** The same measurement on the other runtimes, under the primary figure. */
function otherRuntimes(m: ModelSummary, batch: 'batch1' | 'batch32'): string {
  return (m.latencyMs.byRuntime ?? [])
    .slice(1)
    .map((r) => `<br><span class="muted">${esc(`${r.runtime}: ${fmtLatency(r[batch])}`)}</span>`)
    .join('');
}

function statusBadge(status: 'ok' | 'failed'): string {
  return `<span class="badge ${status}">${status === 'ok' ? 'ok' : 'failed'}</span>`;
}

const TOC: readonly (readonly [string, string])[] = [
  ['results', 'Results'], ['charts', 'Charts'], ['curves', 'Learning curves'], ['alignment', 'Head alignment'],
  ['attention', 'Attention maps'], ['samples', 'Samples'], ['failures', 'Failures'], ['run', 'Run details'],
];

export function headerSection(data: ReportData, summary: MetricsSummary): string {
  const failed = summary.models.filter((m) => m.status === 'failed');
  return (
    `<header class="top"><h1>AMAD distillation report: run ${esc(data.runId)}</h1>` +
    `<dl class="facts"><dt>Task</dt><dd>${esc(data.task)}</dd>` +
    `<dt>Generated</dt><dd>${esc(data.createdAt)}</dd>` +
    `<dt>Backend</dt><dd>${esc(data.backend)}</dd>` +
    (data.inference.evaluation.length ? `<dt>Evaluation on</dt><dd>${esc(data.inference.evaluation.join('; '))}</dd>` : '') +
    (data.inference.latency.length ? `<dt>Latency on</dt><dd>${esc(data.inference.latency.join(' and '))} <span class="muted">(speed-ups: ${esc(data.inference.latency[0]!)})</span></dd>` : '') +
    `<dt>Run time</dt><dd>${esc(fmtDuration(data.runTimeSeconds))}</dd>` +
    `<dt>Estimated cost</dt><dd>${data.estimatedCost ? `${esc(`$${data.estimatedCost.usd.toFixed(2)}`)} <span class="muted">(${esc(data.estimatedCost.basis)})</span>` : 'not estimated'}</dd>` +
    `<dt>Models</dt><dd>${summary.models.length} (${failed.length === 0 ? 'all ok' : `<span class="badge failed">${failed.length} failed</span> ${esc(failed.map((m) => m.label).join(', '))}`})</dd></dl>` +
    `<nav class="toc" aria-label="Sections">${TOC.map(([id, text]) => `<a href="#${id}">${text}</a>`).join(' ')}</nav></header>`
  );
}

export function headlineSection(data: ReportData, summary: MetricsSummary): string {
  const primary = data.metrics[0]!;
  const n = commonSeedCount(summary);
  const spreadNote = n === null ? 'mean ± std (n seeds)' : `mean ± std, ${n} seed${n === 1 ? '' : 's'}`;
  const head =
    '<tr><th scope="col" class="text">Model</th>' +
    data.metrics.map((d) => `<th scope="col">${esc(metricAxis(d))}<br><span class="muted">${esc(spreadNote)}</span></th>`).join('') +
    '<th scope="col">Parameters</th><th scope="col">FLOPs / example</th><th scope="col">File size</th>' +
    '<th scope="col">Latency batch 1<br><span class="muted">p50 / p95 (ms)</span></th><th scope="col">Latency batch 32<br><span class="muted">p50 / p95 (ms)</span></th>' +
    `<th scope="col">Speed-up<br><span class="muted">over teacher</span></th><th scope="col">Teacher quality<br><span class="muted">kept (${esc(primary.label)})</span></th></tr>`;
  const columns = 1 + data.metrics.length + 7;
  const rows = summary.models
    .map((m) => {
      const kind = m.role === 'teacher' ? 'teacher' : `student · ${m.method ?? 'method not given'}`;
      const cells = [
        `<th scope="row" class="text">${esc(m.label)} ${statusBadge(m.status)}<br><span class="muted kind">${esc(kind)}</span></th>`,
        ...data.metrics.map((d) => `<td>${esc(fmtSpread(d, m, n === null))}</td>`),
        `<td>${esc(fmtCount(m.params))}</td>`,
        `<td>${esc(fmtCount(m.flops, 'FLOP'))}</td>`,
        `<td>${esc(fmtBytes(m.fileBytes))}</td>`,
        `<td>${esc(fmtLatency(m.latencyMs.batch1))}${otherRuntimes(m, 'batch1')}</td>`,
        `<td>${esc(fmtLatency(m.latencyMs.batch32))}${otherRuntimes(m, 'batch32')}</td>`,
        `<td>${m.role === 'teacher' ? '1×' : m.speedupOverTeacher === null ? '—' : esc(`${fmtNum(m.speedupOverTeacher, 3)}×`)}</td>`,
        `<td>${m.teacherQualityKept === null ? '—' : esc(`${fmtNum(m.teacherQualityKept * 100, 3)}%`)}</td>`,
      ];
      // A failed model keeps its row (so it is not silently missing) and states its error below it.
      const errorRow = m.status === 'failed' ? `<tr class="failed"><td class="text" colspan="${columns}"><div class="error">${esc(`${m.label} failed: ${m.error ?? 'no error message recorded'}`)}</div></td></tr>` : '';
      return `<tr class="${m.status}">${cells.join('')}</tr>${errorRow}`;
    })
    .join('');
  let comparisons = '';
  if (summary.comparisons.length > 0) {
    const labelOf = (id: string) => summary.models.find((m) => m.id === id)?.label ?? id;
    comparisons =
      `<h3>AMAD against the other students (paired over seeds, ${esc(primary.label)})</h3>` +
      '<div class="table-wrap"><table><caption>Δ = AMAD − other, per shared seed; t is the paired t statistic, p its two-sided p-value (Student t, df = n − 1).</caption>' +
      '<thead><tr><th scope="col" class="text">AMAD student</th><th scope="col" class="text">compared with</th><th scope="col">mean Δ</th><th scope="col">std of Δ</th><th scope="col">seeds</th><th scope="col">t</th><th scope="col">p (two-sided)</th></tr></thead><tbody>' +
      summary.comparisons
        .map(
          (c) =>
            `<tr><td class="text">${esc(labelOf(c.a))}</td><td class="text">${esc(labelOf(c.b))}</td><td>${esc(fmtNum(c.meanDiff * primary.scale, 3))}${esc(primary.unit === '%' ? ' pp' : primary.unit ? ' ' + primary.unit : '')}</td>` +
            `<td>${esc(fmtNum(c.std * primary.scale, 3))}</td><td>${c.n}</td><td>${esc(c.t === null ? '±∞' : fmtNum(c.t, 3))}</td><td>${esc(c.p === null ? '—' : fmtNum(c.p, 3))}</td></tr>`,
        )
        .join('') +
      '</tbody></table></div>';
  }
  return (
    '<section id="results"><h2>Results</h2>' +
    `<div class="table-wrap"><table><caption>Headline results per model</caption><thead>${head}</thead><tbody>${rows}</tbody></table></div>` +
    `<p class="note">Metrics: mean ± one sample standard deviation over training seeds (n seeds). Speed-up: teacher latency ÷ model latency, batch 1, p50. Teacher quality kept: model ÷ teacher on ${esc(primary.label)}.</p>${comparisons}</section>`
  );
}

export function chartsSection(data: ReportData, summary: MetricsSummary, ids: IdSource): string {
  const failed = summary.models.filter((m) => m.status === 'failed').map((m) => m.label);
  const figures = data.metrics.map((def) => {
    const shown = summary.models.filter((m) => m.metrics[def.key]);
    if (shown.length === 0) return `<figure><p class="note">No model reported ${esc(def.label)}.</p></figure>`;
    const maxN = Math.max(...shown.map((m) => m.metrics[def.key]!.n));
    const svg = barChart({
      id: ids.next('bar'),
      title: `${def.label} by model`,
      desc: `Bar chart of ${def.label} for ${shown.length} models; bars are means over seeds, error bars one standard deviation.`,
      xLabel: 'model',
      yLabel: metricAxis(def),
      bars: shown.map((m) => ({ label: m.label, value: m.metrics[def.key]!.mean * def.scale, err: m.metrics[def.key]!.std * def.scale })),
      note: `bar = mean over seeds (up to n=${maxN}); error bar = ± 1 sample std`,
    });
    const missing = failed.length > 0 ? ` Not shown (failed): ${esc(failed.join(', '))}.` : '';
    return `<figure>${svg}<figcaption>${esc(def.label)}, ${def.higherIsBetter ? 'higher is better' : 'lower is better'}.${missing}</figcaption></figure>`;
  });
  return `<section id="charts"><h2>Metrics by model</h2><div class="grid two">${figures.join('')}</div></section>`;
}

export function curvesSection(data: ReportData, ids: IdSource): string {
  const figures: string[] = [];
  for (const m of data.models) {
    const pts = m.learningCurve.points;
    if (pts.length === 0) continue;
    const keys = [...new Set(pts.flatMap((p) => Object.keys(p.loss)))];
    figures.push(
      `<figure>${lineChart({
        id: ids.next('loss'),
        title: `${m.label}: training loss`,
        desc: `Training loss parts (${keys.join(', ')}) of ${m.label} against training step.`,
        xLabel: 'training step',
        yLabel: 'loss (nats)',
        series: keys.map((k) => ({ name: k, points: pts.filter((p) => p.loss[k] !== undefined).map((p) => [p.step, p.loss[k]!] as const) })),
      })}<figcaption>${esc(m.label)}${m.status === 'failed' ? ' (failed; curve up to the failure)' : ''}: loss parts per step.</figcaption></figure>`,
    );
    const valPts = pts.filter((p) => p.val !== undefined);
    if (valPts.length > 0) {
      const def = data.metrics.find((d) => d.key === m.learningCurve.valMetric);
      const scale = def?.scale ?? 1;
      const label = def ? metricAxis(def) : `${m.learningCurve.valMetric ?? 'validation metric'} (score)`;
      figures.push(
        `<figure>${lineChart({
          id: ids.next('val'),
          title: `${m.label}: validation ${def?.label ?? 'metric'}`,
          desc: `Validation ${def?.label ?? 'metric'} of ${m.label} against training step.`,
          xLabel: 'training step',
          yLabel: label,
          series: [{ name: `validation ${def?.label ?? ''}`.trim(), points: valPts.map((p) => [p.step, p.val! * scale] as const) }],
        })}<figcaption>${esc(m.label)}: validation metric during training.</figcaption></figure>`,
      );
    }
  }
  const body = figures.length > 0 ? `<div class="grid two">${figures.join('')}</div>` : '<p class="note">No learning curves were recorded.</p>';
  return `<section id="curves"><h2>Learning curves</h2>${body}</section>`;
}

/** "s0 ← t0, t3; s1 ← t1, t2": each teacher head goes to the student head with its largest a_ij. */
export function absorbed(weights: readonly (readonly number[])[]): string {
  const hs = weights[0]?.length ?? 0;
  const groups: number[][] = Array.from({ length: hs }, () => []);
  weights.forEach((row, i) => groups[row.indexOf(Math.max(...row))]!.push(i));
  return groups.map((g, j) => `s${j} ← ${g.length ? g.map((i) => `t${i}`).join(', ') : 'none'}`).join('; ');
}

export function alignmentSection(data: ReportData, ids: IdSource): string {
  if (data.alignment.length === 0) return '<section id="alignment"><h2>Head alignment (a<sub>ij</sub>)</h2><p class="note">No alignment weights were recorded (no AMAD student, or it failed before recording).</p></section>';
  const labelOf = (id: string) => data.models.find((m) => m.id === id)?.label ?? id;
  const blocks = data.alignment.map((a: Alignment) => {
    const { max: maxEarly } = matrixRange(a.early.weights);
    const { max: maxLate } = matrixRange(a.late.weights);
    const max = Math.max(maxEarly, maxLate, 1e-12);
    const ht = a.early.weights.length;
    const hs = a.early.weights[0]!.length;
    const one = (phase: 'early' | 'late') => {
      const w = a[phase];
      return `<figure>${heatmap({
        id: ids.next('aij'),
        title: `${phase === 'early' ? 'Early' : 'Late'} (step ${w.step})`,
        desc: `Alignment weights a_ij of ${labelOf(a.modelId)}, ${a.module}, teacher layer ${a.teacherLayer} to student layer ${a.studentLayer}, at step ${w.step}: ${ht} teacher heads by ${hs} student heads.`,
        xLabel: 'student head j',
        yLabel: 'teacher head i',
        matrix: w.weights,
        min: 0,
        max,
        valueLabel: 'a_ij (weight)',
        rowLabel: (i) => `t${i}`,
        colLabel: (j) => `s${j}`,
      })}</figure>`;
    };
    // Single examples at the late step, beside the batch mean (same colour scale).
    const examples = a.lateExamples.map(
      (w, e) =>
        `<figure>${heatmap({
          id: ids.next('aij'),
          title: `Late, example ${e + 1} of the batch`,
          desc: `Alignment weights a_ij of ${labelOf(a.modelId)} for one example at step ${a.late.step}: ${ht} teacher heads by ${hs} student heads.`,
          xLabel: 'student head j',
          yLabel: 'teacher head i',
          matrix: w,
          min: 0,
          max: Math.max(max, ...w.flat()),
          valueLabel: 'a_ij (weight)',
          rowLabel: (i) => `t${i}`,
          colLabel: (j) => `s${j}`,
        })}</figure>`,
    );
    const stats = [
      a.entropy ? `per-example a<sub>ij</sub> entropy (1 = uniform): ${esc(fmtNum(a.entropy.early, 3))} at step ${a.early.step} → ${esc(fmtNum(a.entropy.late, 3))} at step ${a.late.step}` : '',
      a.studentHeadCosine !== undefined ? `student heads' map cosine (1 = copies): ${esc(fmtNum(a.studentHeadCosine, 3))}` : '',
      `teacher heads absorbed by each student head (late, argmax of the batch mean): ${esc(absorbed(a.late.weights))}`,
    ].filter(Boolean);
    return (
      `<h3>${esc(labelOf(a.modelId))}: ${esc(a.module)}, teacher layer ${a.teacherLayer} → student layer ${a.studentLayer}</h3>` +
      `<div class="grid two">${one('early')}${one('late')}${examples.join('')}</div><p class="note">${stats.join(' · ')}</p>`
    );
  });
  return (
    '<section id="alignment"><h2>Head alignment (a<sub>ij</sub>)</h2>' +
    '<p class="note">Each row is one teacher head; its weights over the student heads sum to 1 (softmax of map cosine similarity). A row concentrated on one column means that teacher head mainly teaches that student head. Colour scale shared by early and late.</p>' +
    blocks.join('') +
    '</section>'
  );
}

export function attentionSection(data: ReportData): string {
  if (data.attentionSamples.length === 0) return '<section id="attention"><h2>Attention maps</h2><p class="note">No attention samples were recorded.</p></section>';
  const labelOf = (id: string) => data.models.find((m) => m.id === id)?.label ?? id;
  const blocks = data.attentionSamples.map((s) => {
    const img = imagePng(s.image);
    const rows = s.maps.map((m) => {
      const heads = m.heads
        .map((h, k) => {
          const png = s.kind === 'patch-grid' ? overlayPng(s.image, h) : matrixPng(h);
          const alt = `${labelOf(m.modelId)} layer ${m.layer} head ${k} attention${s.kind === 'patch-grid' ? ' over the image' : ' (query rows × key columns)'}`;
          return `<figure><img src="${png.dataUri}" width="${png.displayWidth}" height="${png.displayHeight}" alt="${esc(alt)}"><figcaption>head ${k}</figcaption></figure>`;
        })
        .join('');
      const input = `<figure class="input"><img src="${img.dataUri}" width="${img.displayWidth}" height="${img.displayHeight}" alt="${esc(`input image of example ${s.exampleId}`)}"><figcaption>input image</figcaption></figure>`;
      return `<h4>${esc(labelOf(m.modelId))}, layer ${m.layer} (${m.heads.length} heads)</h4><div class="maps">${input}${heads}</div>`;
    });
    return `<div class="sample-attn"><h3>Example ${esc(s.exampleId)}: ${esc(s.caption)}</h3>${rows.join('')}</div>`;
  });
  return (
    '<section id="attention"><h2>Attention maps</h2>' +
    '<p class="note">Colour (viridis, dark = low, yellow = high) is the attention weight scaled to each map’s maximum. Patch-grid maps are drawn over the image at 60% opacity.</p>' +
    blocks.join('') +
    '</section>'
  );
}

/** Mean per-example score of the ok students (the teacher when there is none). */
function studentScore(s: SamplePrediction, models: readonly ModelReport[]): number | null {
  const ok = new Set(models.filter((m) => m.status === 'ok' && m.role === 'student').map((m) => m.id));
  let scores = s.outputs.filter((o) => ok.has(o.modelId) && o.score !== null).map((o) => o.score!);
  if (scores.length === 0) scores = s.outputs.filter((o) => o.score !== null).map((o) => o.score!);
  return scores.length === 0 ? null : scores.reduce((a, b) => a + b, 0) / scores.length;
}

function sampleCard(s: SamplePrediction, data: ReportData): string {
  const primary = data.metrics[0]!;
  const labelOf = (id: string) => data.models.find((m) => m.id === id)?.label ?? id;
  const img = s.image ? imagePng(s.image) : null;
  const picture = img ? `<img src="${img.dataUri}" width="${img.displayWidth}" height="${img.displayHeight}" alt="${esc(`image of example ${s.exampleId}`)}">` : '<span class="muted">(no image)</span>';
  const refs = s.references.length > 0 ? `<p><strong>Reference${s.references.length > 1 ? 's' : ''}:</strong> ${s.references.map(esc).join(' · ')}</p>` : '';
  const outputs =
    `<div class="table-wrap"><table><thead><tr><th scope="col" class="text">Model</th><th scope="col" class="text">Output</th><th scope="col">${esc(primary.label)}</th></tr></thead><tbody>` +
    s.outputs.map((o) => `<tr><td class="text">${esc(labelOf(o.modelId))}</td><td class="text">${esc(o.output)}</td><td>${esc(fmtMetric(primary, o.score))}</td></tr>`).join('') +
    '</tbody></table></div>';
  return (
    `<article class="sample"><div>${picture}<div class="muted">#${esc(s.exampleId)}</div></div>` +
    `<div>${s.input ? `<p><strong>${data.task === 'translate' ? 'Source' : 'Question'}:</strong> ${esc(s.input)}</p>` : ''}${refs}${outputs}</div></article>`
  );
}

export function samplesSection(data: ReportData): string {
  if (data.samplePredictions.length === 0) return '<section id="samples"><h2>Sample predictions</h2><p class="note">No sample predictions were recorded.</p></section>';
  const primary = data.metrics[0]!;
  const scored = data.samplePredictions.map((s) => ({ s, score: studentScore(s, data.models) })).filter((x) => x.score !== null);
  scored.sort((x, y) => (primary.higherIsBetter ? x.score! - y.score! : y.score! - x.score!));
  // Only examples worse than the best-scored one count as "worst" (a perfect example never does).
  const best = scored.length > 0 ? scored[scored.length - 1]!.score! : 0;
  const worst = scored.filter((x) => x.score !== best).slice(0, WORST_SHOWN).map((x) => x.s);
  const shown = data.samplePredictions.filter((s) => !worst.includes(s)).slice(0, SAMPLES_SHOWN);
  return (
    '<section id="samples"><h2>Sample predictions</h2>' +
    `<h3>Worst examples (lowest mean student ${esc(primary.label)})</h3>${worst.length > 0 ? worst.map((s) => sampleCard(s, data)).join('') : '<p class="note">No per-example scores.</p>'}` +
    (shown.length > 0 ? `<h3>Other examples</h3>${shown.map((s) => sampleCard(s, data)).join('')}` : '') +
    '</section>'
  );
}

export function failuresSection(summary: MetricsSummary): string {
  if (summary.failures.length === 0) return '<section id="failures"><h2>Failures</h2><p>None: every stage and model finished.</p></section>';
  return (
    '<section id="failures"><h2>Failures</h2><div class="table-wrap"><table><thead><tr><th scope="col" class="text">Stage</th><th scope="col" class="text">Concerns</th><th scope="col" class="text">Error</th></tr></thead><tbody>' +
    summary.failures.map((f) => `<tr class="failed"><td class="text">${esc(f.stage)}</td><td class="text">${esc(f.target ?? '—')}</td><td class="text"><div class="error">${esc(f.message)}</div></td></tr>`).join('') +
    '</tbody></table></div></section>'
  );
}

export function runSection(data: ReportData): string {
  const versions = Object.entries(data.software)
    .map(([k, v]) => `<tr><td class="text">${esc(k)}</td><td class="text">${esc(v)}</td></tr>`)
    .join('');
  return (
    '<section id="run"><h2>Run details</h2>' +
    `<dl class="facts"><dt>Run id</dt><dd>${esc(data.runId)}</dd><dt>Backend</dt><dd>${esc(data.backend)}</dd><dt>Run time</dt><dd>${esc(fmtDuration(data.runTimeSeconds))} (${esc(fmtNum(data.runTimeSeconds, 6))} s)</dd>` +
    `<dt>Estimated cost</dt><dd>${data.estimatedCost ? esc(`$${data.estimatedCost.usd.toFixed(4)} — ${data.estimatedCost.basis}`) : 'not estimated'}</dd></dl>` +
    `<h3>Software versions</h3><div class="table-wrap"><table><thead><tr><th scope="col" class="text">Component</th><th scope="col" class="text">Version</th></tr></thead><tbody>${versions || '<tr><td class="text" colspan="2">not recorded</td></tr>'}</tbody></table></div>` +
    `<h3>Job spec</h3><pre><code>${esc(JSON.stringify(data.spec, null, 2))}</code></pre></section>`
  );
}

/** Candidate selection: every candidate's validation score (mean and per seed) and which one was chosen, and why. */
export function selectionSection(data: ReportData): string {
  if (data.selection.length === 0) return '';
  const primary = data.metrics[0]!;
  const scale = primary.key === data.selection[0]?.metric ? primary.scale : 1;
  const v = (x: number | null) => (x === null ? '—' : fmtNum(x * scale, 4));
  const blocks = data.selection.map((g) => {
    const rows = g.candidates
      .map((c) => {
        const chosen = c.name === g.selected;
        const values = Object.entries(c.values)
          .map(([k, x]) => `${k} = ${x}`)
          .join(', ');
        const seeds = c.seeds.map((s) => `seed ${s.seed}: ${v(s.score)}`).join('; ') || 'not scored';
        return `<tr${chosen ? ' class="chosen"' : ''}><td class="text">${esc(c.name)}${chosen ? ' <strong>(selected)</strong>' : ''}</td><td class="text">${esc(values)}</td><td>${esc(v(c.mean))}</td><td class="text">${esc(seeds)}</td></tr>`;
      })
      .join('');
    return (
      `<h3>${esc(g.student)}: ${g.selected ? `selected ${esc(g.selected)}` : 'nothing selected'}</h3><p class="note">${esc(g.reason)}. Validation metric: ${esc(g.metric)}${scale !== 1 ? ` (×${scale})` : ''}, mean over seeds. Only the selected candidate was evaluated on the evaluation split.</p>` +
      `<div class="table-wrap"><table><thead><tr><th scope="col" class="text">Candidate</th><th scope="col" class="text">Values</th><th scope="col">Validation (mean)</th><th scope="col" class="text">Per seed</th></tr></thead><tbody>${rows}</tbody></table></div>`
    );
  });
  return `<section id="selection"><h2>Candidate selection (validation split)</h2><p class="note">Each student entry that listed candidates trained every candidate; the one with the best mean validation score was kept (ties go to the paper's setting: variant kl, τ = 1, α<sub>attn</sub> = 1).</p>${blocks.join('')}</section>`;
}
