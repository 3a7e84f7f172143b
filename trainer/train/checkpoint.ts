/**
 * Training checkpoints: weights + optimizer moments + step (+ the run's seed, which with the step
 * is the whole RNG state — see rng.ts) + the best validation score so far.
 *
 * Layout under a checkpoint folder URI:
 *   ckpt-00001200.bin / .json   one tensor bundle per saved step
 *   latest.json                 { step, prefix } — written last, so it only ever names a
 *                               complete checkpoint (an interrupted save leaves the old one)
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, storageFor, StorageNotFoundError } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import { loadTensorBundle, saveTensorBundle } from '../io/tensor-bundle';

export interface CheckpointMeta {
  readonly step: number;
  readonly seed: number;
  readonly optimizerSteps: number;
  readonly bestVal: number | null;
  /** Free-form description of what was trained (model config, role), checked on resume. */
  readonly fingerprint: string;
  readonly savedAt: string;
}

export interface Checkpoint {
  readonly meta: CheckpointMeta;
  /** Model weights by checkpoint name, plus `adamw/m/…`, `adamw/v/…`. Caller disposes. */
  readonly tensors: Record<string, tf.Tensor>;
}

const pad = (step: number) => String(step).padStart(8, '0');

/** Saves a checkpoint and then points latest.json at it; keeps the newest `keep` checkpoints. */
export async function saveCheckpoint(
  dirUri: string,
  meta: CheckpointMeta,
  named: readonly { name: string; tensor: tf.Tensor }[],
  keep = 2,
): Promise<void> {
  const prefix = `ckpt-${pad(meta.step)}`;
  await saveTensorBundle(joinUri(dirUri, prefix), named, meta);
  const storage = storageFor(dirUri);
  await storage.put(joinUri(dirUri, 'latest.json'), JSON.stringify({ step: meta.step, prefix }));
  // Older checkpoints go only after latest.json names the new one.
  const all = (await storage.list(dirUri)).filter((u) => /ckpt-\d{8}\.(bin|json)$/.test(u)).sort();
  const steps = [...new Set(all.map((u) => u.match(/ckpt-(\d{8})\./)![1]))].sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) {
    for (const ext of ['json', 'bin']) await storage.delete(joinUri(dirUri, `ckpt-${old}.${ext}`));
  }
}

/** The newest complete checkpoint in `dirUri`, or null when there is none. */
export async function loadLatestCheckpoint(dirUri: string): Promise<Checkpoint | null> {
  let latest: { step: number; prefix: string };
  try {
    const uri = joinUri(dirUri, 'latest.json');
    latest = parseJson(await storageFor(dirUri).get(uri), uri) as { step: number; prefix: string };
  } catch (e) {
    if (e instanceof StorageNotFoundError) return null;
    throw new Error(`${(e as Error).message}: the checkpoint pointer is corrupt; delete it to start over or restore it`);
  }
  const { tensors, metadata } = await loadTensorBundle<CheckpointMeta>(joinUri(dirUri, latest.prefix));
  return { meta: metadata, tensors };
}
