/**
 * The Evaluate stage's ML core, in two steps (DESIGN.md: "Lambda per shard, then merge"):
 *
 *   evaluateShard      one model × one shard of the evaluation split → predictions, written as an
 *                      EvalPart (`eval/parts/<model>/shard-<i>.json`);
 *   mergeEvaluations   every part of one model → corpus metrics, per-example scores and the
 *                      model's cost (params, FLOPs, weight bytes, measured latency), written as
 *                      an EvalResult (`eval/<model>.json`).
 *
 * Corpus metrics are computed only at the merge: BLEU's counts and CIDEr's document
 * frequencies are corpus-wide, so per-shard averages would be wrong.
 * `evaluation.maxExamples` keeps the first N examples of the split by example index (shard
 * order), whichever shards they are in; shards beyond them write an empty part.
 * References: generation reads the split's references.json (all references per example); VQA
 * uses the human answers when the split lists a references file, else the label answer stored
 * with each record (see trainer/stages/evaluate-metrics.ts).
 */
import { z } from 'zod';
import { runLayout } from '../../contract/layout';
import { storageFor, toUri } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import { initBackend } from '../backend';
import type { Batch } from '../data/batch';
import { openDataset, type PreparedDataset, type SplitReader } from '../data/dataset';
import { tokenizerFromJson, type Tokenizer } from '../data/tokenizer';
import { EvalPartSchema, EvalResultSchema, MAX_PER_EXAMPLE, type Decoding, type EvalPart, type EvalResult } from '../eval/result-schema';
import { decodeBatch, describeRuntime, openInferenceModelAlongside, type InferenceModel } from '../inference/model';
import { pipelineBatches } from '../inference/pipeline';
import { loadModel, type ModelInfo } from '../model-io';
import { measureCost } from './evaluate-cost';
import { measureLatency } from './measure-latency';
import { captioningMetrics, translationMetrics, vqaMetrics, type TaskMetrics } from './evaluate-metrics';
import type { EvaluateShardArgs, MergeEvaluationsArgs, StageFiles } from './index';
import type { JobSpec } from '../../contract/spec';
import { evaluateShardWithOnnxTeacher, isOnnxTeacherModel, onnxTeacherCost } from '../onnx/onnx-evaluate';

/** Examples per forward pass of an ONNX teacher, whose memory per example is not known here (tfjs models and their exports use their runner's batchSize: inference/batch-size.ts). */
export const EVAL_BATCH_SIZE = 32;

/** Thrown when the model, the data and the evaluation files do not fit together; the message names the file and the fix. */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

/** Evaluates one model on one shard of the evaluation split and writes its EvalPart to `outUri`. */
export async function evaluateShard(args: EvaluateShardArgs): Promise<StageFiles> {
  await initBackend();
  const { spec, model: ref, shardIndex } = args;
  if (isOnnxTeacherModel(spec, ref.modelId)) return evaluateShardWithOnnxTeacher(args);
  const dataset = await openDataset(runLayout(args.runUri).data);
  const splitName = args.split ?? spec.evaluation.split;
  const split = dataset.split(splitName);
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= split.numShards) {
    throw new EvaluationError(`evaluateShard: shardIndex ${shardIndex} is outside the ${split.name} split's ${split.numShards} shard(s)`);
  }
  if (toUri(args.shardUri) !== split.shardUri(shardIndex)) {
    throw new EvaluationError(
      `evaluateShard: shard ${shardIndex} of the ${split.name} split is ${split.shardUri(shardIndex)}, but the stage was given ${args.shardUri}: the run plan and the prepared data disagree; re-run prepare-data`,
    );
  }
  const indices = shardExampleIndices(split, shardIndex, spec.evaluation.maxExamples);
  // ONNX Runtime when it loads and the model has its export; else the tfjs model (logged). Its
  // session is created while the shard and its images are read and checked.
  const loadShard = indices.length > 0 ? split.load(shardIndex) : Promise.resolve();
  const runner = await openInferenceModelAlongside(ref.modelUri, { pixelStats: dataset.manifest.pixelStats, runtime: args.runtime }, loadShard);
  try {
    const model = runner.info;
    checkModelFitsData(model, dataset, ref.modelUri);
    const task = dataset.manifest.task;
    const decoding: Decoding | null =
      task === 'vqa' ? null : { beamSize: spec.evaluation.beamSize, lengthPenalty: spec.evaluation.lengthPenalty, maxLength: model.metadata.config.maxTargetLength };
    const predicted = task === 'vqa' ? await predictVqaShard((b) => predictAnswers(runner, b), dataset, split, indices, runner.batchSize) : await predictGenerationShard(runner, split, indices, decoding!);

    const part: EvalPart = {
      version: 1,
      modelId: ref.modelId,
      modelUri: ref.modelUri,
      modelSha256: model.sha256,
      task,
      split: splitName,
      shardIndex,
      count: predicted.ids.length,
      ...predicted,
      decoding,
      runtime: describeRuntime(runner.runtime),
      createdAt: new Date().toISOString(),
    };
    await storageFor(args.outUri).put(args.outUri, JSON.stringify(EvalPartSchema.parse(part)));
    return { outputs: [args.outUri] };
  } finally {
    await runner.dispose();
  }
}

/** Merges one model's EvalParts into its EvalResult at `outUri` (metrics, per-example scores, cost). */
export async function mergeEvaluations(args: MergeEvaluationsArgs): Promise<StageFiles> {
  await initBackend();
  const { spec, modelId } = args;
  if (args.partUris.length === 0) throw new EvaluationError(`mergeEvaluations: model ${modelId} has no evaluation parts to merge`);
  const parts = await Promise.all(args.partUris.map(readPart));
  checkPartsAgree(parts, args.partUris, modelId);
  const first = parts[0]!;
  const { task, split: splitName } = first;
  if (splitName !== spec.evaluation.split) throw new EvaluationError(`the parts of ${modelId} evaluate the ${splitName} split, the spec asks for ${spec.evaluation.split}`);
  const dataset = await openDataset(runLayout(args.runUri).data);
  const split = dataset.split(splitName);
  const ids = mergedIds(parts, modelId, split, spec.evaluation.maxExamples);
  const predictions: Record<string, string> = Object.assign({}, ...parts.map((p) => p.predictions));
  const scored = await taskMetrics(task, parts, predictions, split, ids, dataset);
  const cost = isOnnxTeacherModel(spec, modelId)
    ? await onnxTeacherCost(spec, first, split)
    : await tfjsModelCost({ spec, runUri: args.runUri, modelId, first, task, latency: args.latency });
  const perExample = selectPerExample(ids, scored.perExample, predictions);
  const result: EvalResult = {
    version: 1,
    modelId,
    task,
    split: splitName,
    count: ids.length,
    metrics: scored.metrics,
    primaryMetric: scored.primaryMetric,
    metricNotes: scored.metricNotes,
    perExampleMetric: scored.perExampleMetric,
    perExample,
    perExampleTruncated: perExample.length < ids.length,
    decoding: first.decoding,
    ...(partRuntimes(parts) ? { runtime: partRuntimes(parts) } : {}),
    model: { uri: first.modelUri, sha256: first.modelSha256 },
    cost,
    evaluatedAt: new Date().toISOString(),
  };
  await storageFor(args.outUri).put(args.outUri, JSON.stringify(EvalResultSchema.parse(result), null, 1));
  return { outputs: [args.outUri] };
}

/** Cost of a model of the family: parameters, FLOPs from its config, weight bytes, its architecture's latency (both runtimes). */
async function tfjsModelCost(a: { spec: JobSpec; runUri: string; modelId: string; first: EvalPart; task: EvalPart['task']; latency?: MergeEvaluationsArgs['latency'] }): Promise<EvalResult['cost']> {
  const { spec, runUri, modelId, first, task, latency } = a;
  const loaded = await loadModel(first.modelUri);
  try {
    if (loaded.sha256 !== first.modelSha256) {
      throw new EvaluationError(`the model at ${first.modelUri} changed since it was evaluated (sha256 ${loaded.sha256}, the parts say ${first.modelSha256}); re-run its evaluation`);
    }
    // The serial per-architecture pass of MergeEval, or (called alone) this model's own.
    const measured = latency ?? (await measureLatency({ runUri, spec, models: [{ modelId, modelUri: first.modelUri }] }))[modelId]!;
    return await measureCost(loaded.model, { task, modelUri: first.modelUri, latency: measured });
  } finally {
    loaded.model.dispose();
  }
}

/** A candidate's validation score (candidate selection): the task metrics on the validation split, no cost. */
export const ValidationScoreSchema = z.strictObject({
  version: z.literal(1),
  modelId: z.string().min(1),
  split: z.literal('val'),
  count: z.number().int().nonnegative(),
  metrics: z.record(z.string(), z.number()),
  primaryMetric: z.string().min(1),
  model: z.strictObject({ uri: z.string().min(1), sha256: z.string() }),
});
export type ValidationScore = z.infer<typeof ValidationScoreSchema>;

/**
 * Merges one candidate's validation parts into its ValidationScore at `outUri`: the same corpus
 * metrics as the test evaluation (mergeEvaluations), without the cost measurement.
 */
export async function scoreValidation(args: MergeEvaluationsArgs): Promise<ValidationScore> {
  const { spec, modelId } = args;
  if (args.partUris.length === 0) throw new EvaluationError(`scoreValidation: model ${modelId} has no validation parts`);
  const parts = await Promise.all(args.partUris.map(readPart));
  checkPartsAgree(parts, args.partUris, modelId);
  const first = parts[0]!;
  if (first.split !== 'val') throw new EvaluationError(`the parts of ${modelId} evaluate the ${first.split} split; candidate selection reads only the validation split`);
  const dataset = await openDataset(runLayout(args.runUri).data);
  const split = dataset.split('val');
  const ids = mergedIds(parts, modelId, split, spec.evaluation.maxExamples);
  const predictions: Record<string, string> = Object.assign({}, ...parts.map((p) => p.predictions));
  const scored = await taskMetrics(first.task, parts, predictions, split, ids, dataset);
  const score: ValidationScore = {
    version: 1,
    modelId,
    split: 'val',
    count: ids.length,
    metrics: scored.metrics,
    primaryMetric: scored.primaryMetric,
    model: { uri: first.modelUri, sha256: first.modelSha256 },
  };
  await storageFor(args.outUri).put(args.outUri, JSON.stringify(ValidationScoreSchema.parse(score), null, 1));
  return score;
}

/**
 * Example indices of shard `s` that are evaluated: the shard holds examples
 * [start, start + count) of the split; only those below `maxExamples` count.
 */
export function shardExampleIndices(split: SplitReader, s: number, maxExamples?: number): number[] {
  const { start, end: shardEnd } = split.shardRange(s);
  const end = Math.min(shardEnd, maxExamples ?? Infinity);
  return Array.from({ length: Math.max(0, end - start) }, (_, k) => start + k);
}

/** What one shard's predictions contribute to its EvalPart. */
export type ShardPredictions = Pick<EvalPart, 'ids' | 'predictions' | 'perExample' | 'references' | 'referenceKind'>;

/**
 * VQA: the answer of each example, its soft score, and the references the accuracy needs (the
 * human answers when the split has a references file, else the label answer).
 */
export async function predictVqaShard(
  answersOf: (batch: Batch) => string[] | Promise<string[]>,
  dataset: PreparedDataset,
  split: SplitReader,
  indices: readonly number[],
  batchSize = EVAL_BATCH_SIZE,
): Promise<ShardPredictions> {
  const humanAnswers = split.entry.references ? await split.references() : null;
  // Soft scores are stored per class of the DATA's answer vocabulary: find answers by string.
  const vocab = dataset.answerVocab;
  const forms = dataset.answerSurfaceForms;
  const classOf = new Map(vocab.map((a, i) => [a, i]));
  const A = vocab.length;
  const out = { ids: [] as string[], predictions: {} as Record<string, string>, perExample: {} as Record<string, number>, references: {} as Record<string, string[]> };
  const consume = (batch: Batch, answers: string[]) => {
    batch.ids.forEach((id, b) => {
      out.ids.push(id);
      const k = classOf.get(answers[b]!);
      // Written in the class's surface form, which the official scorer rewards when the human
      // answers are unanimous (it normalises only when they disagree).
      out.predictions[id] = k === undefined ? answers[b]! : forms[k]!;
      out.perExample[id] = k === undefined ? 0 : batch.answerScores![b * A + k]!;
      if (humanAnswers) {
        const human = humanAnswers.get(id);
        if (!human?.length) throw new EvaluationError(`the ${split.name} split's references file has no human answers for question "${id}"; re-run prepare-data`);
        out.references[id] = [...human];
      } else {
        const label = batch.answerLabel![b]!;
        out.references[id] = label >= 0 ? [vocab[label]!] : [];
      }
    });
  };
  await pipelineBatches(indices, batchSize, (slice) => split.batch(slice), async (batch) => answersOf(batch), consume);
  return { ...out, referenceKind: humanAnswers ? 'human-answers' : 'label' };
}

/** Generation: the decoded text of each example (scored at the merge, against all references). */
async function predictGenerationShard(runner: InferenceModel, split: SplitReader, indices: readonly number[], decoding: Decoding): Promise<ShardPredictions> {
  const tokenizer = tokenizerFromJson(runner.info.metadata.tokenizer, 'model metadata.tokenizer');
  const ids: string[] = [];
  const predictions: Record<string, string> = {};
  await pipelineBatches(
    indices,
    runner.batchSize,
    (slice) => split.batch(slice),
    (batch) => predictTexts(runner, tokenizer, batch, decoding),
    (batch, texts) =>
      batch.ids.forEach((id, b) => {
        ids.push(id);
        predictions[id] = texts[b]!;
      }),
  );
  return { ids, predictions, perExample: {} };
}

/** VQA: the answer class (normalised string) of each example's highest logit (the first on ties, as tf.argMax). */
async function predictAnswers(runner: InferenceModel, batch: Batch): Promise<string[]> {
  const answers = runner.info.metadata.answers;
  const { logits } = await runner.forward(batch); // [B, A]
  const A = logits.shape[1]!;
  return Array.from({ length: batch.size }, (_, b) => {
    let best = 0;
    for (let k = 1; k < A; k++) if (logits.data[b * A + k]! > logits.data[b * A + best]!) best = k;
    return answers[best]!;
  });
}

/** Generation: decoded text of each example (greedy when beamSize is 1). */
async function predictTexts(runner: InferenceModel, tokenizer: Tokenizer, batch: Batch, decoding: Decoding): Promise<string[]> {
  const hyps = await decodeBatch(runner, batch, { beamSize: decoding.beamSize, lengthPenalty: decoding.lengthPenalty, maxLen: decoding.maxLength });
  return hyps.map((h) => tokenizer.decode(h.tokens));
}

/** The model must have been trained for this dataset: same task, same vocabulary, a head that fits. */
function checkModelFitsData(loaded: ModelInfo, dataset: PreparedDataset, modelUri: string): void {
  const { config, task, answers } = loaded.metadata;
  const dataTask = dataset.manifest.task;
  const where = `model ${modelUri}`;
  if (task !== dataTask) throw new EvaluationError(`${where} was trained for ${task}, but the run's data is ${dataTask}`);
  if (config.imageSize !== dataset.manifest.imageSize) throw new EvaluationError(`${where} reads ${config.imageSize}px images, the data has ${dataset.manifest.imageSize}px`);
  if (dataTask === 'vqa') {
    if (config.numAnswers === 0) throw new EvaluationError(`${where} has no answer head (config.numAnswers = 0)`);
    if (answers.length !== config.numAnswers) {
      throw new EvaluationError(`${where} metadata lists ${answers.length} answers but config.numAnswers is ${config.numAnswers}: re-export the model`);
    }
  } else if (config.decoderLayers === 0) throw new EvaluationError(`${where} has no decoder (config.decoderLayers = 0), needed for ${dataTask}`);
  const modelVocab = tokenizerFromJson(loaded.metadata.tokenizer, `${modelUri}/model.json (metadata.tokenizer)`).vocab;
  const dataVocab = dataset.tokenizer.vocab;
  const differs = modelVocab.length !== dataVocab.length ? -1 : modelVocab.findIndex((w, i) => w !== dataVocab[i]);
  if (modelVocab.length !== dataVocab.length || differs >= 0) {
    const detail = differs < 0 ? `${modelVocab.length} vs ${dataVocab.length} tokens` : `token ${differs} is "${modelVocab[differs]}" vs "${dataVocab[differs]}"`;
    throw new EvaluationError(`${where} was trained with a different tokenizer than the run's data (${detail}): evaluate it on the data it was trained on`);
  }
}

/** The distinct runtimes the parts were predicted on, joined; undefined when no part says. */
function partRuntimes(parts: readonly EvalPart[]): string | undefined {
  const names = [...new Set(parts.map((p) => p.runtime).filter((r): r is string => !!r))];
  return names.length ? names.join('; ') : undefined;
}

/** Every part must come from the same model file, task, split and decoding settings. */
function checkPartsAgree(parts: readonly EvalPart[], uris: readonly string[], modelId: string): void {
  const first = parts[0]!;
  parts.forEach((p, i) => {
    const where = uris[i]!;
    if (p.modelId !== modelId) throw new EvaluationError(`${where} holds results of model "${p.modelId}", expected "${modelId}"`);
    for (const key of ['modelUri', 'modelSha256', 'task', 'split'] as const) {
      if (p[key] !== first[key]) {
        throw new EvaluationError(`${where} has ${key} "${p[key]}" but ${uris[0]} has "${first[key]}": the parts come from different evaluations; re-run the evaluation of ${modelId}`);
      }
    }
    if (JSON.stringify(p.decoding) !== JSON.stringify(first.decoding)) {
      throw new EvaluationError(`${where} was decoded with different settings than ${uris[0]}; re-run the evaluation of ${modelId}`);
    }
  });
}

/** The example ids of all parts, in shard order; each once, and exactly as many as the split (or maxExamples) holds. */
function mergedIds(parts: readonly EvalPart[], modelId: string, split: SplitReader, maxExamples: number | undefined): string[] {
  const ids = parts.flatMap((p) => p.ids);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new EvaluationError(`example "${id}" appears in more than one part of ${modelId}: a shard was merged twice`);
    seen.add(id);
  }
  const expected = Math.min(split.size, maxExamples ?? Infinity);
  if (ids.length !== expected) {
    throw new EvaluationError(
      `the parts of ${modelId} hold ${ids.length} examples, the ${split.name} split needs ${expected} (size ${split.size}, maxExamples ${maxExamples ?? 'unset'}): a shard's part is missing`,
    );
  }
  return ids;
}

async function readPart(uri: string): Promise<EvalPart> {
  let raw: unknown;
  try {
    raw = parseJson(await storageFor(uri).get(uri), uri);
  } catch (e) {
    throw new EvaluationError(`cannot read the evaluation part ${uri}: ${(e as Error).message}; re-run that shard's evaluation`);
  }
  const r = EvalPartSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EvaluationError(`${uri} is not a valid evaluation part:\n  - ${issues.join('\n  - ')}`);
  }
  return r.data;
}

async function taskMetrics(
  task: EvalPart['task'],
  parts: readonly EvalPart[],
  predictions: Record<string, string>,
  split: SplitReader,
  ids: readonly string[],
  dataset: PreparedDataset,
): Promise<TaskMetrics> {
  if (task === 'vqa') {
    const kinds = new Set(parts.map((p) => p.referenceKind));
    if (kinds.size !== 1) throw new EvaluationError(`the parts mix reference kinds (${[...kinds].join(', ')}); re-run the evaluation`);
    return vqaMetrics({
      predictions,
      references: Object.assign({}, ...parts.map((p) => p.references)),
      referenceKind: parts[0]!.referenceKind!,
      softScores: Object.assign({}, ...parts.map((p) => p.perExample)),
    });
  }
  const all = await split.references();
  const references: Record<string, string[]> = {};
  for (const id of ids) {
    const refs = all.get(id);
    if (!refs?.length) throw new EvaluationError(`the ${split.name} split's references file has no reference for example "${id}"; re-run prepare-data`);
    references[id] = [...refs];
  }
  return task === 'captioning' ? captioningMetrics(predictions, references) : translationMetrics(predictions, references, dataset.tokenizer.lowercase);
}

/**
 * Per-example entries in data order; above MAX_PER_EXAMPLE the lowest and highest scores are
 * kept (what the report's worst/best samples need).
 */
function selectPerExample(ids: readonly string[], scores: Readonly<Record<string, number>>, predictions: Readonly<Record<string, string>>): EvalResult['perExample'] {
  let keep = ids;
  if (ids.length > MAX_PER_EXAMPLE) {
    const byScore = [...ids].sort((a, b) => scores[a]! - scores[b]!);
    const half = MAX_PER_EXAMPLE / 2;
    const chosen = new Set([...byScore.slice(0, half), ...byScore.slice(byScore.length - half)]);
    keep = ids.filter((id) => chosen.has(id));
  }
  return keep.map((id) => {
    const score = scores[id];
    if (score === undefined) throw new EvaluationError(`no per-example score for "${id}"`);
    return { id, score, prediction: predictions[id]! };
  });
}
