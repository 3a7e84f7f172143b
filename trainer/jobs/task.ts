/**
 * What depends on the task (VQA answer classification vs. generation): turning a Batch into
 * model inputs and targets, the ground-truth loss, and the quick validation score the training
 * loop tracks. The final, official metrics are the evaluation stage's (trainer/eval).
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data/batch';
import type { Manifest } from '../data/manifest';
import type { SplitReader } from '../data/dataset';
import { lmCrossEntropyLoss, vqaSoftTargetLoss } from '../distill';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../model/config';
import type { ModelInputs, ModelOutputs, VLModel } from '../model';

export type Task = Manifest['task'];

/** Batch tensors: model inputs plus targets. Caller disposes (or runs inside tidy). */
export interface BatchTensors {
  readonly inputs: ModelInputs;
  /** `[B, A]` VQA soft scores. */
  readonly answerScores?: tf.Tensor2D;
  /** `[B, Ld]` next-token targets (target[:, 1:]), 0 = PAD. */
  readonly targetOut?: tf.Tensor2D;
}

export function batchTensors(batch: Batch, config: ModelConfig): BatchTensors {
  const B = batch.size;
  const S = config.imageSize;
  const Lt = batch.text.length / B;
  const images = tf.tensor4d(batch.images, [B, S, S, 3]); // [B, S, S, 3]
  const text = tf.tensor2d(batch.text, [B, Lt], 'int32'); // [B, Lt]
  let decoderInput: tf.Tensor2D | undefined;
  let targetOut: tf.Tensor2D | undefined;
  if (batch.target && config.decoderLayers > 0) {
    const L1 = batch.target.length / B; // Ld + 1
    const full = tf.tensor2d(batch.target, [B, L1], 'int32');
    decoderInput = full.slice([0, 0], [B, L1 - 1]); // BOS, tokens… [B, Ld]
    targetOut = full.slice([0, 1], [B, L1 - 1]); // tokens…, EOS   [B, Ld]
    full.dispose();
  }
  const answerScores = batch.answerScores ? tf.tensor2d(batch.answerScores, [B, batch.answerScores.length / B]) : undefined;
  return { inputs: { images, text, ...(decoderInput ? { decoderInput } : {}) }, answerScores, targetOut };
}

export function disposeBatchTensors(t: BatchTensors): void {
  const all: (tf.Tensor | undefined)[] = [t.inputs.images, t.inputs.text, t.inputs.decoderInput, t.answerScores, t.targetOut];
  tf.dispose(all.filter((x): x is tf.Tensor => x !== undefined));
}

/** Ground-truth loss of the task: BCE against VQA soft scores, or LM cross-entropy without padding. */
export function groundTruthLoss(task: Task, out: ModelOutputs, t: BatchTensors): tf.Scalar {
  if (task === 'vqa') {
    if (!out.answerLogits || !t.answerScores) throw new Error('VQA training needs answer logits (numAnswers > 0) and answer scores in the data');
    return vqaSoftTargetLoss(out.answerLogits, t.answerScores);
  }
  if (!out.lmLogits || !t.targetOut) throw new Error(`${task} training needs a decoder (decoderLayers > 0) and targets in the data`);
  return lmCrossEntropyLoss(out.lmLogits, t.targetOut);
}

/**
 * The model config a dataset needs, completed from the dataset: image size, text and target
 * lengths, vocabulary and answer count come from the manifest unless the config sets them; a
 * config that sets them differently is refused (the weights could not read this data).
 */
export function fitConfigToData(input: ModelConfigInput, manifest: Manifest, vocabSize: number, what: string): ModelConfig {
  const fromData: Record<string, number> = {
    imageSize: manifest.imageSize,
    maxTextLength: manifest.maxTextLength,
    vocabSize,
    ...(manifest.task === 'vqa' ? { numAnswers: manifest.answers?.vocab.length ?? 0 } : { maxTargetLength: manifest.maxTargetLength }),
  };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(fromData)) {
    const given = (input as Record<string, unknown>)[key];
    const ok = key === 'vocabSize' ? given === undefined || (given as number) >= value : given === undefined || given === value;
    if (!ok) problems.push(`${what}.${key} = ${given} but the dataset needs ${key === 'vocabSize' ? '≥ ' : ''}${value}: remove it (it is taken from the data) or prepare the data to match`);
  }
  if (manifest.task !== 'vqa' && !((input.decoderLayers ?? 0) > 0)) problems.push(`${what}.decoderLayers must be > 0 for the ${manifest.task} task (the decoder generates the text)`);
  if (problems.length) throw new Error(`${what} does not fit the dataset:\n  - ${problems.join('\n  - ')}`);
  return parseModelConfig({ ...fromData, ...input }, what);
}

/**
 * Quick validation during training, higher is better: VQA soft accuracy of the top answer
 * (= accuracy on single-answer data), or teacher-forced next-token accuracy for generation.
 */
export async function quickValidate(model: VLModel, task: Task, split: SplitReader, maxExamples: number, batchSize = 64): Promise<{ score: number; metrics: Record<string, number> }> {
  const n = Math.min(maxExamples, split.size);
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  let batches = 0;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - start) }, (_, k) => start + k);
    const batch = await split.batch(idx);
    const [c, t, l] = tf.tidy(() => {
      const bt = batchTensors(batch, model.config);
      const out = model.apply(bt.inputs, { training: false });
      const loss = groundTruthLoss(task, out, bt).dataSync()[0];
      if (task === 'vqa') {
        const pred = out.answerLogits!.argMax(-1); // [B]
        const picked = bt.answerScores!.mul(tf.oneHot(pred, model.config.numAnswers)).sum(); // Σ score of chosen answer
        return [picked.dataSync()[0], batch.size, loss];
      }
      const mask = bt.targetOut!.notEqual(0).cast('float32'); // [B, Ld]
      const hit = out.lmLogits!.argMax(-1).equal(bt.targetOut!).cast('float32').mul(mask);
      return [hit.sum().dataSync()[0], mask.sum().dataSync()[0], loss];
    });
    correct += c;
    total += t;
    lossSum += l;
    batches++;
  }
  const acc = total > 0 ? correct / total : 0;
  const key = task === 'vqa' ? 'accuracy' : 'tokenAccuracy';
  return { score: acc, metrics: { [key]: acc, loss: lossSum / Math.max(1, batches) } };
}
