/**
 * The numbers the report states, computed once from ReportData: per model and metric the
 * spread over seeds, the speed-up over the teacher, the share of teacher quality kept, and the
 * paired comparison of each AMAD student against every other student trained on the same seeds.
 * The HTML, metrics.json and the Markdown summary all read these, so they always agree.
 */
import { z } from 'zod';
import { pairedComparison, summarizeSeeds } from '../eval/stats/seeds';
import type { MetricDef, ModelReport, ReportData } from './schema';

const SeedSummarySchema = z.strictObject({ mean: z.number(), std: z.number(), n: z.number().int(), min: z.number(), max: z.number() });

export const ModelSummarySchema = z.strictObject({
  id: z.string(),
  label: z.string(),
  role: z.enum(['teacher', 'student']),
  method: z.string().nullable(),
  status: z.enum(['ok', 'failed']),
  error: z.string().nullable(),
  /** metric key → spread over seeds (absent when no seed reported it). */
  metrics: z.record(z.string(), SeedSummarySchema),
  params: z.number().nullable(),
  flops: z.number().nullable(),
  fileBytes: z.number().nullable(),
  latencyMs: z.strictObject({
    batch1: z.strictObject({ p50: z.number(), p95: z.number() }).nullable(),
    batch32: z.strictObject({ p50: z.number(), p95: z.number() }).nullable(),
    /** Every runtime timed (the first gives batch1/batch32); absent in reports made before runtimes were recorded. */
    byRuntime: z.array(z.strictObject({ runtime: z.string(), batch1: z.strictObject({ p50: z.number(), p95: z.number() }), batch32: z.strictObject({ p50: z.number(), p95: z.number() }) })).optional(),
  }),
  /** Teacher p50 latency at batch 1 ÷ this model's (null without both measurements). */
  speedupOverTeacher: z.number().nullable(),
  /** This model's primary-metric mean ÷ the teacher's (for lower-is-better metrics: teacher ÷ model). */
  teacherQualityKept: z.number().nullable(),
});
export type ModelSummary = z.infer<typeof ModelSummarySchema>;

export const ComparisonSchema = z.strictObject({
  metric: z.string(),
  a: z.string(),
  b: z.string(),
  /** Seeds both models report, in order. */
  seeds: z.array(z.number().int()),
  meanDiff: z.number(),
  std: z.number(),
  n: z.number().int(),
  t: z.number().nullable(),
  df: z.number().int(),
  p: z.number().nullable(),
});
export type Comparison = z.infer<typeof ComparisonSchema>;

/** The machine-readable report/metrics.json. */
export const MetricsSummarySchema = z.strictObject({
  runId: z.string(),
  task: z.string(),
  createdAt: z.string(),
  primaryMetric: z.string(),
  metrics: z.array(z.strictObject({ key: z.string(), label: z.string(), unit: z.string(), scale: z.number(), higherIsBetter: z.boolean() })),
  models: z.array(ModelSummarySchema),
  comparisons: z.array(ComparisonSchema),
  backend: z.string(),
  /** Runtimes of the evaluation and of the latency figures; absent in reports made before they were recorded. */
  inference: z.strictObject({ evaluation: z.array(z.string()), latency: z.array(z.string()) }).optional(),
  runTimeSeconds: z.number(),
  estimatedCostUsd: z.number().nullable(),
  failures: z.array(z.strictObject({ stage: z.string(), target: z.string().nullable(), message: z.string() })),
});
export type MetricsSummary = z.infer<typeof MetricsSummarySchema>;

function metricSummaries(m: ModelReport, metrics: readonly MetricDef[]): ModelSummary['metrics'] {
  const out: ModelSummary['metrics'] = {};
  for (const def of metrics) {
    const values = m.seeds.map((s) => s.metrics[def.key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[def.key] = summarizeSeeds(values);
  }
  return out;
}

/** Finite number or null (JSON has no Infinity/NaN). */
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** An AMAD student's method as the report names it: "AMAD (kl)", "AMAD (mse)", … */
export function isAmadMethod(method: string | undefined): boolean {
  return method !== undefined && /^AMAD\b/.test(method);
}

/** Paired comparisons on the primary metric: each ok AMAD student vs each other ok student, over shared seeds (≥ 2). */
function comparisons(data: ReportData, primary: MetricDef): Comparison[] {
  const students = data.models.filter((m) => m.role === 'student' && m.status === 'ok');
  const out: Comparison[] = [];
  for (const a of students.filter((m) => isAmadMethod(m.method))) {
    for (const b of students) {
      if (b === a) continue;
      const bySeed = new Map(b.seeds.map((s) => [s.seed, s.metrics[primary.key]]));
      const pairs = a.seeds
        .map((s) => [s.seed, s.metrics[primary.key], bySeed.get(s.seed)] as const)
        .filter((p): p is readonly [number, number, number] => p[1] !== undefined && p[2] !== undefined);
      if (pairs.length < 2) continue;
      const c = pairedComparison(pairs.map((p) => p[1]), pairs.map((p) => p[2]));
      out.push({ metric: primary.key, a: a.id, b: b.id, seeds: pairs.map((p) => p[0]), meanDiff: c.meanDiff, std: c.std, n: c.n, t: finiteOrNull(c.t), df: c.df, p: finiteOrNull(c.p) });
    }
  }
  return out;
}

/** Every number the report states, from validated report data. */
export function buildMetricsSummary(data: ReportData): MetricsSummary {
  const primary = data.metrics[0]!;
  const teacher = data.models.find((m) => m.role === 'teacher');
  const teacherMetrics = teacher && teacher.status === 'ok' ? metricSummaries(teacher, data.metrics) : {};
  const teacherP50 = teacher?.status === 'ok' ? teacher.latencyMs.batch1?.p50 : undefined;
  const models = data.models.map((m): ModelSummary => {
    const metrics = m.status === 'ok' ? metricSummaries(m, data.metrics) : {};
    const p50 = m.latencyMs.batch1?.p50;
    const mine = metrics[primary.key]?.mean;
    const ref = teacherMetrics[primary.key]?.mean;
    let kept: number | null = null;
    if (mine !== undefined && ref !== undefined) kept = finiteOrNull(primary.higherIsBetter ? mine / ref : ref / mine);
    return {
      id: m.id,
      label: m.label,
      role: m.role,
      method: m.method ?? null,
      status: m.status,
      error: m.error ?? null,
      metrics,
      params: m.params,
      flops: m.flops,
      fileBytes: m.fileBytes,
      latencyMs: { batch1: m.latencyMs.batch1, batch32: m.latencyMs.batch32, byRuntime: m.latencyMs.byRuntime },
      speedupOverTeacher: teacherP50 !== undefined && p50 !== undefined && p50 > 0 && m.status === 'ok' ? teacherP50 / p50 : null,
      teacherQualityKept: kept,
    };
  });
  return {
    runId: data.runId,
    task: data.task,
    createdAt: data.createdAt,
    primaryMetric: primary.key,
    metrics: data.metrics.map((d) => ({ key: d.key, label: d.label, unit: d.unit, scale: d.scale, higherIsBetter: d.higherIsBetter })),
    models,
    comparisons: comparisons(data, primary),
    backend: data.backend,
    inference: data.inference,
    runTimeSeconds: data.runTimeSeconds,
    estimatedCostUsd: data.estimatedCost?.usd ?? null,
    failures: [
      // A failed model is a failure even if the producer did not list it; listed ones are not repeated.
      ...data.models
        .filter((m) => m.status === 'failed' && !data.failures.some((f) => f.target === m.id))
        .map((m) => ({ stage: m.role === 'teacher' ? 'train teacher' : 'train student', target: m.id, message: m.error ?? 'failed' })),
      ...data.failures.map((f) => ({ stage: f.stage, target: f.target ?? null, message: f.message })),
    ],
  };
}
