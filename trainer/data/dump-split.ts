/**
 * Dumps one split of a prepared dataset to plain files any language reads without this project's
 * code or extra packages — for training a teacher in another framework (the PyTorch worked
 * example, examples/teachers/pytorch/) on exactly the examples a run prepares.
 *
 * Deliberately decoupled from the shard binary layout (trainer/data/shard-format.ts): it reads
 * through `SplitReader.batch`, the same API training uses, and writes its own documented format:
 *
 *   <out>/<split>.json        { format: "amad-split-dump/1", task, split, count, ids, files, shapes,
 *                               pixelStats, answers?, tokenizer }
 *   <out>/<split>.images.f32  float32 little-endian `[N, S, S, 3]` (NHWC, RGB), normalised with
 *                             pixelStats: x = (rgb / 255 − mean[c]) / std[c]
 *   <out>/<split>.text.i32    int32 little-endian `[N, Lt]` token ids, 0 = padding
 *   <out>/<split>.labels.i32  VQA: int32 `[N]` answer class (−1 = no class)
 *   <out>/<split>.target.i32  generation: int32 `[N, Ld + 1]` BOS, tokens…, EOS, padding
 *   <out>/tokenizer.json      the dataset's tokenizer (this project's format)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDataset } from './dataset';
import type { SplitName } from './source';

export const SPLIT_DUMP_FORMAT = 'amad-split-dump/1';

/** Examples read per batch while dumping. */
const DUMP_BATCH = 256;

export interface DumpSplitOptions {
  /** Dump at most this many examples (the first ones). */
  readonly maxExamples?: number;
}

export interface DumpSplitSummary {
  readonly metaFile: string;
  readonly count: number;
}

/** Writes `split` of the dataset at `dataUri` to the local folder `outDir`. */
export async function dumpSplit(dataUri: string, split: SplitName, outDir: string, opts: DumpSplitOptions = {}): Promise<DumpSplitSummary> {
  const data = await openDataset(dataUri);
  const reader = data.split(split);
  const m = data.manifest;
  const N = Math.min(reader.size, opts.maxExamples ?? Infinity);
  const S = m.imageSize;
  const Lt = m.maxTextLength;
  const vqa = m.task === 'vqa';
  const images = new Float32Array(N * S * S * 3);
  const text = new Int32Array(N * Lt);
  const labels = vqa ? new Int32Array(N) : undefined;
  const Ld1 = m.maxTargetLength + 1;
  const target = vqa ? undefined : new Int32Array(N * Ld1);
  const ids: string[] = [];
  for (let start = 0; start < N; start += DUMP_BATCH) {
    const idx = Array.from({ length: Math.min(DUMP_BATCH, N - start) }, (_, k) => start + k);
    const b = await reader.batch(idx);
    images.set(b.images, start * S * S * 3);
    text.set(b.text, start * Lt);
    if (labels) labels.set(b.answerLabel!, start);
    if (target) target.set(b.target!, start * Ld1);
    ids.push(...b.ids);
  }
  await mkdir(outDir, { recursive: true });
  const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength); // little-endian on every supported platform
  const files: Record<string, string> = { images: `${split}.images.f32`, text: `${split}.text.i32` };
  const shapes: Record<string, number[]> = { images: [N, S, S, 3], text: [N, Lt] };
  await writeFile(join(outDir, files.images!), bytes(images));
  await writeFile(join(outDir, files.text!), bytes(text));
  if (labels) {
    files.labels = `${split}.labels.i32`;
    shapes.labels = [N];
    await writeFile(join(outDir, files.labels), bytes(labels));
  }
  if (target) {
    files.target = `${split}.target.i32`;
    shapes.target = [N, Ld1];
    await writeFile(join(outDir, files.target), bytes(target));
  }
  await writeFile(join(outDir, 'tokenizer.json'), JSON.stringify(data.tokenizer.toJSON()));
  const meta = {
    format: SPLIT_DUMP_FORMAT,
    task: m.task,
    split,
    count: N,
    ids,
    files,
    shapes,
    pixelStats: m.pixelStats,
    vocabSize: data.tokenizer.vocabSize,
    tokenizer: 'tokenizer.json',
    ...(vqa ? { answers: data.answerVocab, majority: m.answers?.majority } : {}),
  };
  const metaFile = join(outDir, `${split}.json`);
  await writeFile(metaFile, JSON.stringify(meta));
  return { metaFile, count: N };
}
