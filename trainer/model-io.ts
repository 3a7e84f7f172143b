/**
 * The exported model: a folder (local path or URI) holding `model.json` + `model.bin` (a tensor
 * bundle whose metadata carries the config, the task, the tokenizer and the answer vocabulary),
 * usable on its own:
 *
 *     const { model, metadata } = await loadModel('runs/demo-vqa/models/teacher');
 * and trainer/predict.ts turns it into `predict(imageFileBytes, question)`.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, toUri } from '../contract/storage';
import { loadTensorBundle, loadTensorBundleIndex, saveTensorBundle } from './io/tensor-bundle';
import { parseModelConfig, type ModelConfig } from './model/config';
import { VLModel } from './model';

export const MODEL_FORMAT = 'amad-model/1';

export type ModelTask = 'vqa' | 'captioning' | 'translation';

/** Everything besides weights that a model needs to be used on raw inputs. */
export interface ModelMetadata {
  readonly format: typeof MODEL_FORMAT;
  readonly config: ModelConfig;
  readonly task: ModelTask;
  /** The tokenizer's saved JSON (trainer/data tokenizer), so text is encoded as in training. */
  readonly tokenizer: unknown;
  /** VQA answer classes (normalised answers) by class index (empty for generation). */
  readonly answers: readonly string[];
  /**
   * VQA: the form each class is answered in (its most frequent raw training answer, e.g.
   * "t-shirt" for the class "t shirt"), by class index. Absent in older models: the classes are used.
   */
  readonly answerForms?: readonly string[];
  /** Per-channel mean and std of the training pixels on the [0, 1] scale (inputs are normalised with them). */
  readonly pixelStats: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** Free-form provenance: role, variant, seed, training steps, data manifest hash. */
  readonly provenance: Record<string, unknown>;
}

/** Writes `<dir>/model.json` + `<dir>/model.bin`; returns the weight bytes and their sha256. */
export async function saveModel(dirUri: string, model: VLModel, meta: Omit<ModelMetadata, 'format' | 'config'>): Promise<{ bytes: number; sha256: string }> {
  const metadata: ModelMetadata = { format: MODEL_FORMAT, config: model.config, ...meta };
  return saveTensorBundle(joinUri(toUri(dirUri), 'model'), model.namedWeights(), metadata);
}

/** A saved model without its weights: what a runtime other than tfjs needs beside the model file. */
export interface ModelInfo {
  readonly metadata: ModelMetadata;
  /** sha256 of the weights file: the model's identity in caches and reports. */
  readonly sha256: string;
}

export interface LoadedModel extends ModelInfo {
  readonly model: VLModel;
}

let loadCounter = 0;

/**
 * Reads `<dir>/model.json` only — metadata (config parsed) and the weights' recorded sha256 — for
 * a model served from its ONNX export, which needs no tfjs variables (building them, with their
 * random initialisation, cost the inference stages as much as a few batches at the demo's size).
 */
export async function loadModelInfo(dirUri: string): Promise<ModelInfo> {
  const { metadata, sha256 } = await loadTensorBundleIndex<ModelMetadata>(joinUri(toUri(dirUri), 'model'));
  return { metadata: { ...metadata, config: checkedConfig(metadata, dirUri) }, sha256 };
}

function checkedConfig(metadata: ModelMetadata, dirUri: string): ModelConfig {
  if (metadata.format !== MODEL_FORMAT) throw new Error(`${dirUri} holds format "${metadata.format}", expected "${MODEL_FORMAT}"`);
  return parseModelConfig(metadata.config, `model config in ${dirUri}/model.json`);
}

/** Loads a model saved by `saveModel`. Each load gets its own variable-name prefix. */
export async function loadModel(dirUri: string, opts: { name?: string } = {}): Promise<LoadedModel> {
  const { tensors, metadata, sha256 } = await loadTensorBundle<ModelMetadata>(joinUri(toUri(dirUri), 'model'));
  try {
    const config = checkedConfig(metadata, dirUri);
    const model = new VLModel(config, { name: opts.name ?? `loaded${++loadCounter}` });
    for (const { name, tensor } of model.namedWeights()) {
      const saved = tensors[name];
      if (!saved) throw new Error(`${dirUri}/model.bin has no weight "${name}": it was saved by another model version`);
      if (saved.shape.join(',') !== tensor.shape.join(',')) {
        throw new Error(`${dirUri}/model.bin weight "${name}" has shape [${saved.shape}], the config needs [${tensor.shape}]`);
      }
      tensor.assign(saved);
    }
    return { model, metadata: { ...metadata, config }, sha256 };
  } finally {
    Object.values(tensors).forEach((t) => t.dispose());
  }
}

