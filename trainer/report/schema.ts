/**
 * Everything the run report shows, as one zod schema. The report Lambda assembles a `ReportData`
 * from the run's artifacts (spec, eval files, train logs, cached alignment weights) and
 * `renderReport` turns it into HTML, metrics.json and a Markdown summary. Validating here means
 * a broken producer fails with a field path instead of rendering a misleading page.
 *
 * Conventions: metric values are stored as computed (e.g. VQA accuracy as a fraction in [0, 1]);
 * each metric's `scale` and `unit` say how to display it. Latencies are milliseconds per call.
 */
import { z } from 'zod';
import { GroupSelectionSchema } from '../eval/select-candidates';

const finite = (what: string) => z.number({ error: `${what} must be a number` }).refine(Number.isFinite, `${what} must be finite`);
const nonNegative = (what: string) => finite(what).refine((v) => v >= 0, `${what} must be ≥ 0`);
const count = (what: string) => z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).nonnegative(`${what} must be ≥ 0`);

/** A rectangular matrix `[rows][cols]` of finite numbers. */
export const MatrixSchema = z
  .array(z.array(finite('matrix entry')).min(1, 'matrix rows must not be empty'))
  .min(1, 'matrix must have at least one row')
  .refine((m) => m.every((r) => r.length === m[0]!.length), 'matrix must be rectangular (every row the same length)');
export type Matrix = z.infer<typeof MatrixSchema>;

/** An RGB image, 8 bits per channel, row-major `[height][width][3]`, base64 of the raw bytes. */
export const RgbImageSchema = z
  .strictObject({
    width: z.number().int().positive('width must be > 0').max(4096, 'width must be ≤ 4096 (samples are thumbnails)'),
    height: z.number().int().positive('height must be > 0').max(4096, 'height must be ≤ 4096 (samples are thumbnails)'),
    rgbBase64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'rgbBase64 must be base64'),
  })
  .superRefine((img, ctx) => {
    const bytes = Buffer.from(img.rgbBase64, 'base64').length;
    if (bytes !== img.width * img.height * 3) {
      ctx.addIssue({ code: 'custom', path: ['rgbBase64'], message: `holds ${bytes} bytes, expected width·height·3 = ${img.width * img.height * 3}` });
    }
  });
export type RgbImage = z.infer<typeof RgbImageSchema>;

/** Packs raw RGB bytes `[H, W, 3]` into the report's image form. */
export function encodeRgbImage(rgb: Uint8Array, width: number, height: number): RgbImage {
  if (rgb.length !== width * height * 3) throw new RangeError(`encodeRgbImage: got ${rgb.length} bytes, expected width·height·3 = ${width * height * 3}`);
  return { width, height, rgbBase64: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength).toString('base64') };
}

export const MetricDefSchema = z.strictObject({
  /** Key used in every `metrics` record, e.g. "vqaAccuracy", "bleu4", "ciderD". */
  key: z.string().min(1),
  /** Human name, e.g. "VQA accuracy". */
  label: z.string().min(1),
  /** Unit shown after displayed values and on axes, e.g. "%". @default "" (a unitless score) */
  unit: z.string().default(''),
  /** Display multiplier (100 shows a fraction as a percentage). @default 1 */
  scale: finite('scale').default(1),
  /** Whether larger is better (drives "share of teacher quality kept" and "worst" samples). @default true */
  higherIsBetter: z.boolean().default(true),
});
export type MetricDef = z.infer<typeof MetricDefSchema>;

const LatencyPairSchema = z.strictObject({ p50: nonNegative('latency p50'), p95: nonNegative('latency p95') });

export const LearningPointSchema = z.strictObject({
  step: count('step'),
  /** Loss parts at this step (nats), e.g. { total, gt, kd, attn }. */
  loss: z.record(z.string(), finite('loss')),
  /** Validation metric at this step, if evaluated (same key as `learningCurve.valMetric`). */
  val: finite('val').optional(),
});

export const ModelReportSchema = z
  .strictObject({
    /** Stable id, e.g. "teacher", "student-amad", "student-one-to-one". */
    id: z.string().min(1),
    role: z.enum(['teacher', 'student']),
    /** Display name. */
    label: z.string().min(1),
    /** Distillation method of a student as the report names it (stages/report.ts methodLabel: "AMAD (kl)", "one-to-one", "mean-head", "logit KD only", "MiniLMv2 relations", …). */
    method: z.string().optional(),
    status: z.enum(['ok', 'failed']),
    /** Why a failed model failed (required when status is "failed"). */
    error: z.string().optional(),
    /** One entry per training seed: metric key → value. */
    seeds: z.array(z.strictObject({ seed: z.number().int(), metrics: z.record(z.string(), finite('metric value')) })).default([]),
    params: count('params').nullable().default(null),
    /** Forward FLOPs per example (trainer/eval flopsPerExample). */
    flops: nonNegative('flops').nullable().default(null),
    /** Size of the saved model on disk, bytes. */
    fileBytes: count('fileBytes').nullable().default(null),
    /** Measured latency per call, ms, at batch 1 and batch 32. */
    latencyMs: z
      .strictObject({
        batch1: LatencyPairSchema.nullable().default(null),
        batch32: LatencyPairSchema.nullable().default(null),
        /** Every runtime timed in the same pass (the first gives batch1/batch32 above), e.g. ONNX Runtime and tfjs wasm. */
        byRuntime: z.array(z.strictObject({ runtime: z.string().min(1), batch1: LatencyPairSchema, batch32: LatencyPairSchema })).default([]),
      })
      .prefault({}),
    learningCurve: z
      .strictObject({
        /** Metric key of `val` (one of the report's metrics). */
        valMetric: z.string().optional(),
        points: z.array(LearningPointSchema).default([]),
      })
      .prefault({}),
  })
  .superRefine((m, ctx) => {
    if (m.status === 'failed' && !m.error) ctx.addIssue({ code: 'custom', path: ['error'], message: `model "${m.id}" failed: set error to the failure message` });
  });
export type ModelReport = z.infer<typeof ModelReportSchema>;

/** Heads of one teacher layer → heads of one student layer (rows sum to 1: softmax over student heads). */
export const AlignmentSchema = z
  .strictObject({
    /** Student model id. */
    modelId: z.string().min(1),
    /** Attention kind, e.g. "fusion self-attention", "decoder cross-attention". */
    module: z.string().min(1),
    teacherLayer: count('teacherLayer'),
    studentLayer: count('studentLayer'),
    /** a_ij early in training, `[Ht][Hs]`, and the step it was measured at. */
    early: z.strictObject({ step: count('step'), weights: MatrixSchema }),
    /** a_ij late in training, `[Ht][Hs]`. */
    late: z.strictObject({ step: count('step'), weights: MatrixSchema }),
    /** a_ij of single examples at the late step, `[E][Ht][Hs]`: a flat batch mean can hide sharp but disagreeing per-example alignments. */
    lateExamples: z.array(MatrixSchema).default([]),
    /** Mean over the batch's examples of the normalised row entropy of a_ij (1 = uniform), early and late; absent when not logged. */
    entropy: z.strictObject({ early: finite('entropy.early'), late: finite('entropy.late') }).optional(),
    /** Mean cosine between different student heads' maps at the late step (1 = the student heads are copies of each other). */
    studentHeadCosine: finite('studentHeadCosine').optional(),
  })
  .superRefine((a, ctx) => {
    const shape = (m: Matrix) => `${m.length}×${m[0]!.length}`;
    if (shape(a.early.weights) !== shape(a.late.weights)) {
      ctx.addIssue({ code: 'custom', path: ['late', 'weights'], message: `shape ${shape(a.late.weights)} differs from early ${shape(a.early.weights)}; both are [teacher heads][student heads]` });
    }
  });
export type Alignment = z.infer<typeof AlignmentSchema>;

export const AttentionSampleSchema = z.strictObject({
  exampleId: z.string().min(1),
  image: RgbImageSchema,
  /** What is shown, e.g. "question token 'color' → image patches, fusion layer 3". */
  caption: z.string(),
  /**
   * `patch-grid`: each head map is `[gridRows][gridCols]` over the image patches and is drawn
   * over the image; `matrix`: a query × key map drawn on its own.
   */
  kind: z.enum(['patch-grid', 'matrix']),
  maps: z
    .array(z.strictObject({ modelId: z.string().min(1), layer: count('layer'), heads: z.array(MatrixSchema).min(1, 'at least one head map') }))
    .min(1),
});
export type AttentionSample = z.infer<typeof AttentionSampleSchema>;

export const SamplePredictionSchema = z.strictObject({
  exampleId: z.string().min(1),
  image: RgbImageSchema.optional(),
  /** Question (VQA) or source sentence (translation); empty for captioning. */
  input: z.string().default(''),
  references: z.array(z.string()).default([]),
  /** Each model's output and its per-example score on the primary metric. */
  outputs: z.array(z.strictObject({ modelId: z.string().min(1), output: z.string(), score: finite('score').nullable().default(null) })),
});
export type SamplePrediction = z.infer<typeof SamplePredictionSchema>;

export const FailureSchema = z.strictObject({
  /** Pipeline stage, e.g. "train student", "evaluate". */
  stage: z.string().min(1),
  /** Model id or shard the failure concerns, if any. */
  target: z.string().optional(),
  message: z.string().min(1),
});

export const ReportDataSchema = z
  .strictObject({
    runId: z.string().min(1),
    task: z.enum(['vqa', 'caption', 'translate']),
    /** ISO time the report was generated. */
    createdAt: z.string().min(1),
    /** The normalised job spec, shown in full. */
    spec: z.json(),
    /** Package/runtime versions, e.g. { node: "20.19.0", "@tensorflow/tfjs": "4.22.0" }. */
    software: z.record(z.string(), z.string()),
    /** tfjs backend the run used, e.g. "wasm", "tensorflow (CUDA)". */
    backend: z.string().min(1),
    /** Runtimes the evaluation's predictions and the latency figures came from (latency: the speed-ups' runtime first). */
    inference: z.strictObject({ evaluation: z.array(z.string()).default([]), latency: z.array(z.string()).default([]) }).prefault({}),
    /** Wall-clock run time, seconds. */
    runTimeSeconds: nonNegative('runTimeSeconds'),
    /** Estimated cost; null when unknown (e.g. local runs). */
    estimatedCost: z.strictObject({ usd: nonNegative('estimatedCost.usd'), basis: z.string() }).nullable().default(null),
    /** Metrics in display order; the first is the primary metric (speed/quality trade-off, worst samples). */
    metrics: z.array(MetricDefSchema).min(1, 'name at least one metric'),
    models: z.array(ModelReportSchema).min(1, 'at least one model'),
    alignment: z.array(AlignmentSchema).default([]),
    attentionSamples: z.array(AttentionSampleSchema).default([]),
    samplePredictions: z.array(SamplePredictionSchema).default([]),
    failures: z.array(FailureSchema).default([]),
    /** Candidate selection on the validation split: per student entry, every candidate's score and the choice. */
    selection: z.array(GroupSelectionSchema).default([]),
  })
  .superRefine((r, ctx) => {
    const ids = new Set<string>();
    r.models.forEach((m, i) => {
      if (ids.has(m.id)) ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate model id "${m.id}"` });
      ids.add(m.id);
    });
    if (r.models.filter((m) => m.role === 'teacher').length > 1) {
      ctx.addIssue({ code: 'custom', path: ['models'], message: 'at most one model may have role "teacher"' });
    }
    const metricKeys = new Set(r.metrics.map((m) => m.key));
    r.models.forEach((m, i) =>
      m.seeds.forEach((s, j) => {
        for (const k of Object.keys(s.metrics)) {
          if (!metricKeys.has(k)) ctx.addIssue({ code: 'custom', path: ['models', i, 'seeds', j, 'metrics', k], message: `unknown metric "${k}": add it to metrics[] or fix the key` });
        }
      }),
    );
    const refModel = (path: (string | number)[], id: string) => {
      if (!ids.has(id)) ctx.addIssue({ code: 'custom', path, message: `no model with id "${id}"` });
    };
    r.alignment.forEach((a, i) => refModel(['alignment', i, 'modelId'], a.modelId));
    r.attentionSamples.forEach((s, i) => s.maps.forEach((m, j) => refModel(['attentionSamples', i, 'maps', j, 'modelId'], m.modelId)));
    r.samplePredictions.forEach((s, i) => s.outputs.forEach((o, j) => refModel(['samplePredictions', i, 'outputs', j, 'modelId'], o.modelId)));
  });

/** Input form (defaults optional). */
export type ReportDataInput = z.input<typeof ReportDataSchema>;
/** Validated form. */
export type ReportData = z.output<typeof ReportDataSchema>;

/** Thrown when report data does not match the schema; lists every bad field. */
export class ReportDataError extends Error {
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'ReportDataError';
  }
}

/** Validates report data (applying defaults). @throws ReportDataError naming each bad field. */
export function parseReportData(input: unknown): ReportData {
  const r = ReportDataSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    throw new ReportDataError('invalid report data:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  return r.data;
}
