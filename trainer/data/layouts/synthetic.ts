/** The synthetic shapes world as a layout: examples from the seeded generator, images rendered on demand. */
import type { SyntheticSource } from '../source';
import { generateSynthetic, renderItem, type SyntheticItem } from '../synthetic/generate';
import type { LoadedSource, RawExample } from './types';

export function loadSynthetic(source: SyntheticSource): LoadedSource {
  const counts = { train: source.train, val: source.val, test: source.test };
  const splits = generateSynthetic(source.task, source.seed, counts);
  const toRaw = (item: SyntheticItem): RawExample => ({
    id: item.id,
    imageKey: item.id,
    imageUri: `synthetic:${source.seed}/${item.id}`,
    text: item.text,
    targets: item.targets,
    // A generated answer is unanimous: all ten virtual annotators give it (soft score 1).
    ...(item.answer !== undefined ? { answers: Array<string>(10).fill(item.answer), label: item.answer } : {}),
    loadImage: async () => renderItem(item, source.imageSize),
  });
  return {
    task: source.task,
    train: splits.train.map(toRaw),
    val: splits.val.map(toRaw),
    test: splits.test.map(toRaw),
    description: { format: 'synthetic', task: source.task, seed: source.seed, counts, generator: 'shapes-v1' },
  };
}
