/**
 * The synthetic generator: a seeded stream of examples for one task, routed into train / val /
 * test by the hash of each example's scene. Identical scenes therefore always fall in the same
 * split, so the splits share no image even when the world repeats a scene. Example i of the
 * stream depends only on (seed, i): generation is reproducible and independent of the counts
 * asked for (a larger dataset extends a smaller one's stream).
 */
import { Prng, hashString, mixSeeds } from '../prng';
import { makeCaptions } from './captions';
import { renderScene } from './raster';
import { makeTranslationExample } from './translation';
import { makeVqaExample, type VqaQuestionType } from './vqa';
import { randomScene, sceneKey, type Scene, type Shape } from './world';

export type SyntheticTask = 'vqa' | 'captioning' | 'translation';
import { SPLITS, type SplitName } from '../source';
export { SPLITS, type SplitName };

/** Reference captions per synthetic image (COCO has five). */
export const CAPTIONS_PER_IMAGE = 5;

export interface SyntheticItem {
  /** Stable example id, e.g. "train-000042". */
  readonly id: string;
  readonly scene: Scene;
  /** Seed of the pixel noise (with the scene it fixes the image). */
  readonly noiseSeed: number;
  /** Question (VQA), English source (translation), empty (captioning). */
  readonly text: string;
  /** Reference captions (captioning), the German target (translation), none (VQA). */
  readonly targets: readonly string[];
  /** VQA answer and question type. */
  readonly answer?: string;
  readonly questionType?: VqaQuestionType;
  /** Translation: shapes the target names, in order. */
  readonly referents?: readonly Shape[];
}

export type SplitCounts = Readonly<Record<SplitName, number>>;

/** Stream element i (before routing). */
export function syntheticExample(task: SyntheticTask, seed: number, index: number): Omit<SyntheticItem, 'id'> {
  const rng = new Prng(mixSeeds(seed, index, 1));
  const noiseSeed = mixSeeds(seed, index, 2);
  switch (task) {
    case 'vqa': {
      const q = makeVqaExample(rng);
      return { scene: q.scene, noiseSeed, text: q.question, targets: [], answer: q.answer, questionType: q.type };
    }
    case 'captioning': {
      const scene = randomScene(rng); // 1–4 objects, attributes uniform
      return { scene, noiseSeed, text: '', targets: makeCaptions(rng, scene, CAPTIONS_PER_IMAGE) };
    }
    case 'translation': {
      const t = makeTranslationExample(rng);
      return { scene: t.scene, noiseSeed, text: t.source, targets: [t.target], referents: t.referents };
    }
  }
}

/** Split of a scene: its hash, as a fraction of 2³², against the cumulative split fractions. */
function routeSplit(scene: Scene, counts: SplitCounts, total: number): SplitName {
  const u = hashString(sceneKey(scene)) / 4294967296;
  if (u < counts.train / total) return 'train';
  if (u < (counts.train + counts.val) / total) return 'val';
  return 'test';
}

/**
 * The examples of every split, `counts[split]` each. Throws when a split cannot be filled
 * within a generous budget (a bug, not bad luck: routing is proportional to the counts).
 */
export function generateSynthetic(task: SyntheticTask, seed: number, counts: SplitCounts): Record<SplitName, SyntheticItem[]> {
  const total = counts.train + counts.val + counts.test;
  const out: Record<SplitName, SyntheticItem[]> = { train: [], val: [], test: [] };
  const budget = 20 * total + 10_000;
  let filled = 0;
  for (let i = 0; filled < total; i++) {
    if (i >= budget) {
      throw new Error(`synthetic ${task}: could not fill the splits (${JSON.stringify(counts)}) within ${budget} draws`);
    }
    const ex = syntheticExample(task, seed, i);
    const split = routeSplit(ex.scene, counts, total);
    const list = out[split];
    if (list.length >= counts[split]) continue;
    list.push({ id: `${split}-${String(list.length).padStart(6, '0')}`, ...ex });
    filled++;
  }
  return out;
}

/** The pixels of an item `[size, size, 3]`. */
export function renderItem(item: SyntheticItem, size: number): Uint8Array {
  return renderScene(item.scene, size, item.noiseSeed);
}
