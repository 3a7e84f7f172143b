/**
 * BuildReport: gathers a run's artifacts (spec, merged evaluations, training logs with the AMAD
 * alignment weights, the test data and the models themselves for attention samples) into the
 * report's data, validates it, and writes report/index.html, metrics.json and summary.md.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readStageMarker, runLayout, Stage, studentModelId, TEACHER_MODEL_ID } from '../../contract/layout';
import type { JobSpec } from '../../contract/spec';
import { joinUri, storageFor } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import type { PreparedDataset } from '../data/dataset';
import { openDataset } from '../data/dataset';
import type { ExampleRecord as ShardRecord } from '../data/dataset';
import { EvalResultSchema, type EvalResult } from '../eval/result-schema';
import { SelectionFileSchema } from '../eval/select-candidates';
import { loadModel } from '../model-io';
import { numPatches, type ModelConfig } from '../model/config';
import { encodeRgbImage, parseReportData, renderReport, type ReportDataInput } from '../report';
import { batchTensors } from '../jobs/task';

type ReportTask = 'vqa' | 'caption' | 'translate';
const REPORT_TASK: Record<string, ReportTask> = { vqa: 'vqa', captioning: 'caption', translation: 'translate' };

/** Metrics shown per task, primary first (keys as trainer/eval/result-schema.ts defines them). */
function metricDefs(task: string, primary: string) {
  if (task === 'vqa') {
    const label = primary === 'vqaAccuracy' ? 'VQA accuracy (official)' : 'Accuracy';
    return [
      { key: primary, label, unit: '%', scale: 100 },
      { key: 'softScore', label: 'Soft score', unit: '%', scale: 100 },
    ];
  }
  if (task === 'captioning') {
    return [
      { key: 'ciderD', label: 'CIDEr-D', unit: '', scale: 1 },
      { key: 'bleu4', label: 'BLEU-4', unit: '', scale: 100 },
      { key: 'bleu1', label: 'BLEU-1', unit: '', scale: 100 },
    ];
  }
  return [
    { key: 'bleu4', label: 'BLEU-4', unit: '', scale: 100 },
    { key: 'bleu4Method1', label: 'BLEU-4 (smoothed)', unit: '', scale: 100 },
  ];
}

const AMAD_VARIANTS = new Set(['kl', 'mse', 'token', 'projected']);
const METHOD_LABEL: Record<string, string> = {
  none: 'logit KD only',
  kl: 'AMAD (kl)',
  mse: 'AMAD (mse)',
  token: 'AMAD (token)',
  projected: 'AMAD (projected)',
  'one-to-one': 'one-to-one',
  'mean-head': 'mean-head',
  relation: 'MiniLMv2 relations',
};
/**
 * The method of a student as the report names it: variant `none` is "logit KD only" only when
 * logit distillation is on; with α_kd = 0 the student learns from the ground truth alone.
 */
export function methodLabel(d: { variant: string; alphaKd: number; alphaAttn: number }): string {
  if (d.variant === 'none' || d.alphaAttn === 0) return d.alphaKd > 0 ? 'logit KD only' : 'ground truth only (no distillation)';
  return METHOD_LABEL[d.variant] ?? d.variant;
}

const KIND_LABEL: Record<string, string> = {
  visionSelf: 'vision self-attention',
  fusionSelf: 'fusion self-attention',
  crossImage: 'text→image cross-attention',
  decoderSelf: 'decoder self-attention',
  decoderCross: 'decoder cross-attention',
};

export interface ReportInputs {
  readonly runUri: string;
  readonly spec: JobSpec;
  readonly evalFiles: Readonly<Record<string, string>>;
  readonly missing: readonly { modelId: string; reason: string }[];
  readonly students: readonly { student: string; seed: number; modelId: string; status: 'SUCCEEDED' | 'FAILED'; error?: { Error: string; Cause: unknown } }[];
  readonly reportDir: string;
}

async function readJson(uri: string): Promise<unknown> {
  return parseJson(await storageFor(uri).get(uri), uri);
}

async function readTrainLog(uri: string): Promise<Record<string, unknown>[]> {
  if (!(await storageFor(uri).exists(uri))) return [];
  return (await storageFor(uri).get(uri))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => parseJson(l, `${uri} line ${i + 1}`) as Record<string, unknown>);
}

/** ~60 points of a learning curve: every line with a validation result, plus an even sample. */
function learningCurve(lines: readonly Record<string, unknown>[], valKey: string) {
  const every = Math.max(1, Math.ceil(lines.length / 60));
  return lines
    .filter((l, i) => i % every === 0 || l.val !== undefined || i === lines.length - 1)
    .map((l) => {
      const loss: Record<string, number> = { total: l.loss as number };
      for (const [k, v] of Object.entries(l)) if (k.startsWith('loss.') && Number.isFinite(v)) loss[k.slice(5)] = v as number;
      const val = (l.val as Record<string, number> | undefined)?.[valKey];
      return { step: l.step as number, loss, ...(val !== undefined && Number.isFinite(val) ? { val } : {}) };
    });
}

export async function buildRunReport(a: ReportInputs): Promise<string[]> {
  await initBackend();
  const layout = runLayout(a.runUri);
  const data = await openDataset(layout.data);
  const task = data.manifest.task;
  const evals = new Map<string, EvalResult>();
  for (const [modelId, uri] of Object.entries(a.evalFiles)) evals.set(modelId, EvalResultSchema.parse(await readJson(uri)));
  const anyEval = [...evals.values()][0];
  const primary = anyEval?.primaryMetric ?? (task === 'vqa' ? 'accuracy' : task === 'captioning' ? 'ciderD' : 'bleu4');
  const defs = metricDefs(task, primary);
  const keys = new Set(defs.map((d) => d.key));
  const pick = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => keys.has(k)));
  const valKey = task === 'vqa' ? 'accuracy' : 'tokenAccuracy';
  const failures: { stage: string; target?: string; message: string }[] = [];
  const costOf = (e: EvalResult | undefined) =>
    e
      ? {
          params: e.cost.params,
          flops: e.cost.flops,
          fileBytes: e.cost.weightBytes,
          latencyMs: {
            batch1: { p50: e.cost.latency.batch1.p50, p95: e.cost.latency.batch1.p95 },
            batch32: { p50: e.cost.latency.batch32.p50, p95: e.cost.latency.batch32.p95 },
            byRuntime: (e.cost.latency.runtimes ?? []).map((r) => ({ runtime: r.runtime, batch1: { p50: r.batch1.p50, p95: r.batch1.p95 }, batch32: { p50: r.batch32.p50, p95: r.batch32.p95 } })),
          },
        }
      : {};

  // The teacher.
  const teacherEval = evals.get(TEACHER_MODEL_ID);
  const teacherLog = await readTrainLog(layout.trainLog(TEACHER_MODEL_ID));
  const models: ReportDataInput['models'] = [
    {
      id: TEACHER_MODEL_ID,
      role: 'teacher',
      label: `Teacher (${describeHeads(a.spec, null)})`,
      status: teacherEval ? 'ok' : 'failed',
      ...(teacherEval ? {} : { error: a.missing.find((m) => m.modelId === TEACHER_MODEL_ID)?.reason ?? 'no evaluation result' }),
      seeds: teacherEval ? [{ seed: 'model' in a.spec.teacher ? a.spec.teacher.train.seed : 0, metrics: pick(teacherEval.metrics) }] : [],
      ...costOf(teacherEval),
      // An ONNX teacher's latency is ONNX Runtime's, the students' tfjs': no speed-up across runtimes (its eval file keeps the number).
      ...('onnx' in a.spec.teacher && teacherEval ? { latencyMs: {} } : {}),
      learningCurve: { valMetric: task === 'vqa' && keys.has('accuracy') ? 'accuracy' : undefined, points: task === 'vqa' && keys.has('accuracy') ? learningCurve(teacherLog, valKey) : learningCurve(teacherLog, valKey).map(({ val: _v, ...p }) => p) },
    },
  ];

  // Candidate selection (when students listed candidates): the candidates that were not chosen
  // were never evaluated on the evaluation split; they appear in the selection table only.
  const selection = (await storageFor(layout.selection).exists(layout.selection)) ? SelectionFileSchema.parse(await readJson(layout.selection)) : undefined;
  const chosen = new Map((selection?.groups ?? []).filter((g) => g.selected).map((g) => [g.selected!, g]));

  // One row per student variant; its seeds are the spread.
  const alignment: NonNullable<ReportDataInput['alignment']> = [];
  for (const s of a.spec.students) {
    if (s.candidateOf && !chosen.has(s.name)) continue;
    const seeds: { seed: number; metrics: Record<string, number> }[] = [];
    const errors: string[] = [];
    let firstOk: EvalResult | undefined;
    let firstOkSeed: number | undefined;
    for (const seed of s.seeds) {
      const modelId = studentModelId(s.name, seed);
      const e = evals.get(modelId);
      const job = a.students.find((j) => j.modelId === modelId);
      if (e) {
        seeds.push({ seed, metrics: pick(e.metrics) });
        if (!firstOk) [firstOk, firstOkSeed] = [e, seed];
      } else {
        const why = job?.status === 'FAILED' ? `${job.error?.Error ?? 'failed'}: ${String(job.error?.Cause ?? '').slice(0, 400)}` : (a.missing.find((m) => m.modelId === modelId)?.reason ?? 'no evaluation result');
        errors.push(`seed ${seed}: ${why}`);
        failures.push({ stage: job?.status === 'FAILED' ? 'train student' : 'evaluate', target: modelId, message: why });
      }
    }
    const logLines = firstOkSeed !== undefined ? await readTrainLog(layout.trainLog(studentModelId(s.name, firstOkSeed))) : [];
    models.push({
      id: s.name,
      role: 'student',
      label: `${s.name}${s.candidateOf ? ` = ${s.candidateOf.student} selected on validation (${Object.entries(s.candidateOf.values).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''} (${describeHeads(a.spec, s.name)})`,
      method: methodLabel(s.distill),
      status: seeds.length > 0 ? 'ok' : 'failed',
      ...(seeds.length > 0 ? {} : { error: errors.join('; ') || 'no seed finished' }),
      seeds,
      ...costOf(firstOk),
      learningCurve: { valMetric: task === 'vqa' && keys.has('accuracy') ? 'accuracy' : undefined, points: task === 'vqa' && keys.has('accuracy') ? learningCurve(logLines, valKey) : learningCurve(logLines, valKey).map(({ val: _v, ...p }) => p) },
    });
    if (AMAD_VARIANTS.has(s.distill.variant)) alignment.push(...alignmentOf(s.name, logLines));
  }

  for (const m of a.missing) if (!failures.some((f) => f.target === m.modelId)) failures.push({ stage: 'evaluate', target: m.modelId, message: m.reason });

  const split = data.split(a.spec.evaluation.split);
  const records = await recordsById(split, 2000);
  const samplePredictions = await samples(data, a.spec, evals, records);
  const attentionSamples = await attentionSamplesOf(a, data, records);
  const validated = await readStageMarker(a.runUri, Stage.validate);
  const runTimeSeconds = validated ? Math.max(0, (Date.now() - Date.parse(validated.committedAt)) / 1000) : 0;

  const reportData = parseReportData({
    runId: a.runUri.replace(/\/+$/, '').split('/').pop()!,
    task: REPORT_TASK[task],
    createdAt: new Date().toISOString(),
    spec: JSON.parse(JSON.stringify(a.spec)),
    software: softwareVersions(),
    backend: ([...evals.entries()].find(([id]) => id !== TEACHER_MODEL_ID)?.[1] ?? anyEval)?.cost.latency.backend ?? tf.getBackend(), // the students' runtime
    inference: {
      evaluation: [...new Set([...evals.values()].flatMap((e) => (e.runtime ? [e.runtime] : [])))],
      latency: [...new Set([...evals.values()].flatMap((e) => (e.cost.latency.runtimes ?? []).map((r) => r.runtime)))],
    },
    runTimeSeconds,
    estimatedCost: null,
    metrics: defs,
    models,
    alignment,
    attentionSamples,
    samplePredictions,
    failures,
    selection: selection?.groups ?? [],
  } satisfies ReportDataInput);
  const { html, metricsJson, summaryMd } = renderReport(reportData);
  const out = { html: joinUri(a.reportDir, 'index.html'), metrics: joinUri(a.reportDir, 'metrics.json'), summary: joinUri(a.reportDir, 'summary.md') };
  const storage = storageFor(a.reportDir);
  await storage.put(out.metrics, metricsJson);
  await storage.put(out.summary, summaryMd);
  await storage.put(out.html, html);
  return [out.html, out.metrics, out.summary];
}

function describeHeads(spec: JobSpec, student: string | null): string {
  const arch = student === null ? ('model' in spec.teacher ? spec.teacher.model : null) : spec.students.find((s) => s.name === student)!.model;
  if (!arch) return 'onnx' in spec.teacher ? `ONNX teacher ${spec.teacher.onnx}` : 'given checkpoint';
  const h = arch.heads;
  return `${h.fusion} heads, width ${arch.width}, ${arch.visionLayers + arch.fusionLayers + arch.decoderLayers} layers`;
}

/** Early (first logged) vs late (last logged) alignment weights per mapped layer. */
function alignmentOf(modelId: string, lines: readonly Record<string, unknown>[]): NonNullable<ReportDataInput['alignment']> {
  const logged = lines.filter((l) => l.alignment && typeof l.alignment === 'object');
  if (logged.length === 0) return [];
  const first = logged[0];
  const last = logged[logged.length - 1];
  const out: NonNullable<ReportDataInput['alignment']> = [];
  for (const [key, early] of Object.entries(first.alignment as Record<string, number[][]>)) {
    const late = (last.alignment as Record<string, number[][]>)[key];
    const m = key.match(/^(\w+)\/(\d+)<-(\d+)$/);
    if (!late || !m) continue;
    // Per-example diagnostics (trainer/jobs/alignment.ts alignmentStats), when the log has them.
    type Stats = { entropy: number[]; examples: number[][][]; studentCosine: number[][] };
    const statsOf = (l: Record<string, unknown>) => (l.alignmentStats as Record<string, Stats> | undefined)?.[key];
    const [sEarly, sLate] = [statsOf(first), statsOf(last)];
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const offDiagonal = (c: number[][]) => meanOf(c.flatMap((row, i) => row.filter((_, j) => j !== i)));
    out.push({
      modelId,
      module: KIND_LABEL[m[1]] ?? m[1],
      studentLayer: Number(m[2]),
      teacherLayer: Number(m[3]),
      early: { step: first.step as number, weights: early },
      late: { step: last.step as number, weights: late },
      ...(sLate ? { lateExamples: sLate.examples } : {}),
      ...(sEarly && sLate ? { entropy: { early: meanOf(sEarly.entropy), late: meanOf(sLate.entropy) } } : {}),
      ...(sLate && sLate.studentCosine.length > 1 ? { studentHeadCosine: offDiagonal(sLate.studentCosine) } : {}),
    });
  }
  return out;
}

/** The evaluation split's records by id (at most `cap`, enough for the samples). */
async function recordsById(split: ReturnType<PreparedDataset['split']>, cap: number): Promise<Map<string, ShardRecord>> {
  const out = new Map<string, ShardRecord>();
  for (let i = 0; i < Math.min(split.size, cap); i++) {
    const r = await split.record(i);
    out.set(r.id, r);
  }
  return out;
}

/** A few typical predictions and the worst ones (lowest mean student score). */
async function samples(data: PreparedDataset, spec: JobSpec, evals: Map<string, EvalResult>, records: Map<string, ShardRecord>): Promise<NonNullable<ReportDataInput['samplePredictions']>> {
  const shown = [...evals.entries()].filter(([id]) => id === TEACHER_MODEL_ID || spec.students.some((s) => id === studentModelId(s.name, s.seeds[0])));
  if (shown.length === 0) return [];
  const perModel = new Map(shown.map(([id, e]) => [id, new Map(e.perExample.map((p) => [p.id, p]))]));
  const ids = [...perModel.values()][0];
  const candidates = [...ids.keys()].filter((id) => records.has(id));
  const studentIds = shown.map(([id]) => id).filter((id) => id !== TEACHER_MODEL_ID);
  const meanStudent = (id: string) => {
    const xs = studentIds.map((m) => perModel.get(m)?.get(id)?.score).filter((x): x is number => x !== undefined);
    return xs.length ? xs.reduce((p, q) => p + q, 0) / xs.length : 0;
  };
  const worst = [...candidates].sort((x, y) => meanStudent(x) - meanStudent(y)).slice(0, 4);
  const typical = candidates.filter((id) => !worst.includes(id)).slice(0, 4);
  const refs = data.manifest.task === 'vqa' ? undefined : await data.split(spec.evaluation.split).references();
  return [...typical, ...worst].map((id) => {
    const r = records.get(id)!;
    const S = data.manifest.imageSize;
    const references = refs ? [...(refs.get(id) ?? [])] : r.answerLabel !== undefined && r.answerLabel >= 0 ? [data.answerVocab[r.answerLabel]] : [];
    return {
      exampleId: id,
      image: encodeRgbImage(r.image, S, S),
      input: data.manifest.task === 'captioning' ? '' : data.tokenizer.decode(r.text),
      references,
      outputs: shown.map(([modelId]) => {
        const p = perModel.get(modelId)!.get(id);
        const reportId = modelId === TEACHER_MODEL_ID ? TEACHER_MODEL_ID : modelId.split('/')[0];
        return { modelId: reportId, output: p?.prediction ?? '(not evaluated)', score: p?.score ?? null };
      }),
    };
  });
}

/**
 * Attention of the teacher and each student (first seed) for two test inputs: where the first
 * text token looks in the image, per head, in the last fusion layer (single-stream: the joint
 * self-attention row of that token over the patches; two-stream: its text→image cross-attention).
 */
async function attentionSamplesOf(a: ReportInputs, data: PreparedDataset, records: Map<string, ShardRecord>): Promise<NonNullable<ReportDataInput['attentionSamples']>> {
  const picked = [...records.values()].slice(0, 2);
  if (picked.length === 0) return [];
  const layout = runLayout(a.runUri);
  // A teacher given as ONNX has no tfjs model to read maps from here (its maps are in the cache).
  const teacherIds = 'onnx' in a.spec.teacher ? [] : [TEACHER_MODEL_ID];
  const modelIds = [...teacherIds, ...a.spec.students.map((s) => studentModelId(s.name, s.seeds[0]))].filter((id) => a.evalFiles[id]);
  const batch = await data.split(a.spec.evaluation.split).batch(await indicesOf(data, a.spec, picked.map((r) => r.id)));
  const maps = new Map<string, number[][][][]>(); // modelId → [example][head][gridRow][gridCol]
  const layerOf = new Map<string, number>();
  const captionOf = new Map<string, string>();
  for (const modelId of modelIds) {
    const uri = modelId === TEACHER_MODEL_ID && 'checkpoint' in a.spec.teacher ? a.spec.teacher.checkpoint : layout.model(modelId);
    const { model } = await loadModel(uri, { name: `report-${modelId.replace(/\W/g, '-')}` });
    try {
      const c = model.config;
      const P = numPatches(c);
      const grid = Math.sqrt(P);
      const view = attentionView(c);
      if (!view) continue;
      const perExample = tf.tidy(() => {
        const bt = batchTensors(batch, c);
        const out = model.apply(bt.inputs, { training: false, returnAttention: true });
        const layers = out.attention[view.kind] ?? [];
        const m = layers[layers.length - 1]; // [B, H, Q, K]
        const sel = m.slice([0, 0, view.row, 0], [m.shape[0], m.shape[1], 1, P]).reshape([m.shape[0], m.shape[1], grid, grid]);
        layerOf.set(modelId, layers.length - 1);
        captionOf.set(modelId, view.what);
        return sel.arraySync() as number[][][][];
      });
      maps.set(modelId, perExample);
    } finally {
      model.dispose();
    }
  }
  const S = data.manifest.imageSize;
  return picked.map((r, b) => ({
    exampleId: r.id,
    image: encodeRgbImage(r.image, S, S),
    caption: `${data.manifest.task === 'captioning' ? '' : `"${data.tokenizer.decode(r.text)}": `}${captionOf.get(TEACHER_MODEL_ID) ?? captionOf.values().next().value ?? ''}`,
    kind: 'patch-grid' as const,
    maps: modelIds.filter((id) => maps.has(id)).map((id) => ({ modelId: id === TEACHER_MODEL_ID ? id : id.split('/')[0], layer: layerOf.get(id) ?? 0, heads: maps.get(id)![b] })),
  }));
}

/**
 * Which attention row over the image patches a model shows: the first text token's row of the
 * joint self-attention (single-stream), of the text→image cross-attention (two-stream), or the
 * first decoder position's cross-attention (image-only encoders, e.g. captioning).
 */
function attentionView(c: ModelConfig): { kind: 'fusionSelf' | 'crossImage' | 'decoderCross'; row: number; what: string } | undefined {
  if (c.fusionLayers > 0 && c.fusion === 'single-stream') return { kind: 'fusionSelf', row: numPatches(c), what: 'first text token → image patches, last fusion layer' };
  if (c.fusionLayers > 0) return { kind: 'crossImage', row: 0, what: 'first text token → image patches, last text→image cross-attention' };
  if (c.decoderLayers > 0) return { kind: 'decoderCross', row: 0, what: 'first generated position → image patches, last decoder cross-attention' };
  return undefined;
}

async function indicesOf(data: PreparedDataset, spec: JobSpec, ids: readonly string[]): Promise<number[]> {
  const split = data.split(spec.evaluation.split);
  const want = new Set(ids);
  const found = new Map<string, number>();
  for (let i = 0; i < split.size && found.size < want.size; i++) {
    const r = await split.record(i);
    if (want.has(r.id)) found.set(r.id, i);
  }
  return ids.map((id) => found.get(id)!);
}

/** This package's version, found by walking up from this file (works from source and from dist/). */
function projectVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'amad-distill') return pkg.version ?? 'unknown';
    }
  }
  return 'unknown';
}

function softwareVersions(): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    node: process.version,
    '@tensorflow/tfjs': pkg('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm'),
    'amad-distill': projectVersion(),
  };
}
