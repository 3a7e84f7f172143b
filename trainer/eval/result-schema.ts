/**
 * The two files the Evaluate stage writes, as zod schemas (each is read back by another process:
 * the merge reads the parts, the report reads the merged result, so both are validated):
 *
 *     eval/parts/<model>/shard-<i>.json   EvalPart: one model's predictions on one shard
 *     eval/<model>.json                   EvalResult: corpus metrics, per-example scores, cost
 *
 * Metric keys (values as computed: fractions in [0, 1]; CIDEr on its usual 0..10 scale):
 *   VQA          vqaAccuracy  official VQA v2 accuracy (only when the data has the human answers)
 *                accuracy     exact match with the label answer (single-answer data, e.g. synthetic)
 *                softScore    mean soft score min(#annotators / 3, 1) of the chosen answer
 *   captioning   bleu1..bleu4 (pycocoevalcap Bleu), ciderD (pycocoevalcap Cider), cider (original)
 *   translation  bleu4 (NLTK corpus_bleu, no smoothing), bleu4Method1 (smoothing method1)
 * `metricNotes` says, per key, which definition and which text normalisation produced it.
 */
import { z } from 'zod';

const finite = (what: string) => z.number({ error: `${what} must be a number` }).refine(Number.isFinite, `${what} must be finite`);
const nonNegative = (what: string) => finite(what).refine((v) => v >= 0, `${what} must be ≥ 0`);
const count = (what: string) => z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).nonnegative(`${what} must be ≥ 0`);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256');

export const EvalTaskSchema = z.enum(['vqa', 'captioning', 'translation']);
export const EvalSplitSchema = z.enum(['val', 'test']);

/** How generation outputs were decoded (null for VQA). */
export const DecodingSchema = z.strictObject({
  /** 1 = greedy. */
  beamSize: z.number().int().positive(),
  /** α of the GNMT length penalty ((5 + len) / 6)^α. */
  lengthPenalty: nonNegative('lengthPenalty'),
  /** Most generated tokens (EOS included). */
  maxLength: z.number().int().positive(),
});
export type Decoding = z.infer<typeof DecodingSchema>;

/** One model's predictions on one shard of the evaluation split. */
export const EvalPartSchema = z
  .strictObject({
    version: z.literal(1),
    modelId: z.string().min(1),
    /** Where the model was loaded from, and its weights' sha256 (the merge measures cost on the same model). */
    modelUri: z.string().min(1),
    modelSha256: Sha256,
    task: EvalTaskSchema,
    split: EvalSplitSchema,
    shardIndex: count('shardIndex'),
    /** Examples evaluated (0 when the shard lies beyond maxExamples). */
    count: count('count'),
    /** Example ids in data order. */
    ids: z.array(z.string().min(1)),
    /** Answer string (VQA) or decoded text (generation), per example id. */
    predictions: z.record(z.string(), z.string()),
    /** VQA: soft score min(#annotators / 3, 1) of the chosen answer; empty for generation (sentence scores need the corpus). */
    perExample: z.record(z.string(), finite('perExample score')),
    /**
     * VQA: what the accuracy compares with: `human-answers` (every annotator's answer) or `label`
     * (the label answer's string; empty list when the label answer has no class, so nothing can match).
     */
    references: z.record(z.string(), z.array(z.string())).optional(),
    referenceKind: z.enum(['human-answers', 'label']).optional(),
    decoding: DecodingSchema.nullable(),
    /** The runtime the predictions came from, e.g. "onnxruntime 1.31.1, 2 threads" or "tfjs-wasm, 1 thread" (absent in older parts). */
    runtime: z.string().min(1).optional(),
    createdAt: z.string().min(1),
  })
  .superRefine((p, ctx) => {
    if (p.ids.length !== p.count) ctx.addIssue({ code: 'custom', path: ['ids'], message: `lists ${p.ids.length} ids but count is ${p.count}` });
    if (new Set(p.ids).size !== p.ids.length) ctx.addIssue({ code: 'custom', path: ['ids'], message: 'example ids must be unique' });
    const missing = p.ids.filter((id) => !(id in p.predictions));
    if (missing.length) ctx.addIssue({ code: 'custom', path: ['predictions'], message: `no prediction for id(s) ${missing.slice(0, 5).join(', ')}` });
    if (p.task === 'vqa' && (!p.references || !p.referenceKind)) {
      ctx.addIssue({ code: 'custom', path: ['references'], message: 'VQA parts need references and referenceKind' });
    }
  });
export type EvalPart = z.infer<typeof EvalPartSchema>;

export const LatencySummarySchema = z.strictObject({
  p50: nonNegative('latency p50'),
  p95: nonNegative('latency p95'),
  mean: nonNegative('latency mean'),
});

export const LatencySchema = z.strictObject({
  /** tfjs backend the timings were taken on (tf.getBackend()). */
  backend: z.string().min(1),
  /** Untimed warm-up calls and timed calls per measurement. */
  warmup: count('warmup'),
  runs: z.number().int().positive(),
  /** One forward pass, batch 1, ms (generation: teacher-forced over the full decoder length = the cost of one decoding step). */
  batch1: LatencySummarySchema,
  /** The same at batch 32. */
  batch32: LatencySummarySchema,
  /** Generation: a whole greedy decode of one example, ms. */
  decodeBatch1: LatencySummarySchema.optional(),
});

export const CostSchema = z.strictObject({
  /** Trainable parameters. */
  params: count('params'),
  /** Forward FLOPs per example from the config (trainer/eval flopsPerExample; generation: one teacher-forced pass over the full target length). */
  flops: nonNegative('flops'),
  /** Size of the weights file (model.bin), bytes. */
  weightBytes: count('weightBytes'),
  latency: LatencySchema,
  /** How the numbers were obtained and what they do not cover. */
  notes: z.array(z.string()),
});

export const PerExampleSchema = z.strictObject({
  id: z.string().min(1),
  /** The example's score on `perExampleMetric`. */
  score: finite('score'),
  prediction: z.string(),
});

/** Maximum per-example entries stored; above it the lowest and highest scores are kept. */
export const MAX_PER_EXAMPLE = 5000;

export const EvalResultSchema = z
  .strictObject({
    version: z.literal(1),
    modelId: z.string().min(1),
    task: EvalTaskSchema,
    split: EvalSplitSchema,
    /** Examples evaluated. */
    count: z.number().int().positive(),
    metrics: z.record(z.string(), finite('metric')),
    /** Key of `metrics` that ranks models (VQA: vqaAccuracy or accuracy; captioning: ciderD; translation: bleu4). */
    primaryMetric: z.string().min(1),
    /** Per metric key: its definition, tokenisation and reference source. */
    metricNotes: z.record(z.string(), z.string()),
    /** Sentence-level score every `perExample` entry carries (e.g. "ciderD": per-image CIDEr-D). */
    perExampleMetric: z.string().min(1),
    /** Per example, in data order; at most MAX_PER_EXAMPLE (then the lowest and highest scores are kept). */
    perExample: z.array(PerExampleSchema).max(MAX_PER_EXAMPLE),
    /** True when `perExample` was capped. */
    perExampleTruncated: z.boolean(),
    /** Generation decoding settings; null for VQA. */
    decoding: DecodingSchema.nullable(),
    model: z.strictObject({ uri: z.string().min(1), sha256: Sha256 }),
    cost: CostSchema,
    /** ISO time of the merge. */
    evaluatedAt: z.iso.datetime(),
  })
  .superRefine((r, ctx) => {
    if (!(r.primaryMetric in r.metrics)) ctx.addIssue({ code: 'custom', path: ['primaryMetric'], message: `"${r.primaryMetric}" is not a key of metrics` });
    const ids = new Set<string>();
    r.perExample.forEach((e, i) => {
      if (ids.has(e.id)) ctx.addIssue({ code: 'custom', path: ['perExample', i, 'id'], message: `duplicate example id "${e.id}"` });
      ids.add(e.id);
    });
    if (!r.perExampleTruncated && r.perExample.length !== r.count) {
      ctx.addIssue({ code: 'custom', path: ['perExample'], message: `holds ${r.perExample.length} entries for ${r.count} examples but perExampleTruncated is false` });
    }
    if ((r.task === 'vqa') !== (r.decoding === null)) ctx.addIssue({ code: 'custom', path: ['decoding'], message: 'decoding is null exactly for VQA' });
  });
export type EvalResult = z.infer<typeof EvalResultSchema>;
