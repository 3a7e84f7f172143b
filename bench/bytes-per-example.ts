/**
 * Bytes per training example, before and after images were stored once, on the VQA v2 layout
 * with its real question/image ratio (bench/vqa-v2-corpus: 5.36 questions per train image), at
 * the data settings of examples/paper-scale-vqa-v2-aws.json (224×224 images, 20 text tokens,
 * 2048 records per shard). Bytes, not time: the result is deterministic and does not depend on
 * the machine.
 *
 *     npx tsx bench/run.ts bytes-per-example [--fraction 0.01] [--seed 0]
 *
 * "after": the prepared dataset's train split as written now (example shards + image shards),
 * divided by its training examples. "before": the same records in the version-1 shard format,
 * where every example record held its 224×224×3 image; computed exactly from that format's
 * record layout and shard header (shard-format version 1: header JSON {task, split, layout,
 * count}, records of id, image, text, answerIndex, answerScore, answerLabel), since the version-1
 * writer no longer exists. Both are also extrapolated to the full VQA v2 train split (443,757
 * questions on 82,783 images) with the per-record and per-image sizes measured here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import { MAX_ANSWERS, ID_BYTES } from '../trainer/data/shard-format';
import { generateVqaV2Corpus, VQA_V2_COUNTS } from './vqa-v2-corpus';

const PAPER = { imageSize: 224, maxTextLength: 20, answerVocabSize: 3129, shardSize: 2048 } as const;

/** Bytes of a version-1 VQA shard of `count` records (its header JSON, padded to 16, then the records). */
export function v1ShardBytes(count: number, split: string, imageSize: number, maxTextLength: number): number {
  const wanted = [
    { name: 'id', dtype: 'uint8', shape: [ID_BYTES], size: 1 },
    { name: 'image', dtype: 'uint8', shape: [imageSize, imageSize, 3], size: 1 },
    { name: 'text', dtype: 'int32', shape: [maxTextLength], size: 4 },
    { name: 'answerIndex', dtype: 'int32', shape: [MAX_ANSWERS], size: 4 },
    { name: 'answerScore', dtype: 'float32', shape: [MAX_ANSWERS], size: 4 },
    { name: 'answerLabel', dtype: 'int32', shape: [1], size: 4 },
  ];
  let offset = 0;
  const fields = wanted.map(({ size, ...f }) => {
    offset = Math.ceil(offset / size) * size;
    const spec = { ...f, offset };
    offset += size * f.shape.reduce((a, b) => a * b, 1);
    return spec;
  });
  const layout = { recordSize: Math.ceil(offset / 4) * 4, fields };
  const json = Buffer.byteLength(JSON.stringify({ task: 'vqa', split, layout, count }), 'utf8');
  const dataOffset = Math.ceil((16 + json) / 16) * 16;
  return dataOffset + count * layout.recordSize;
}

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

export async function run(args: string[]): Promise<void> {
  const fraction = Number(flag(args, 'fraction', '0.01'));
  const seed = Number(flag(args, 'seed', '0'));
  const dir = mkdtempSync(path.join(tmpdir(), 'amad-bench-bytes-'));
  try {
    const corpus = await generateVqaV2Corpus({ dir: path.join(dir, 'corpus'), fraction, seed, distinctImages: 64 });
    const out = path.join(dir, 'prepared');
    await prepareData({ ...corpus.source, ...PAPER }, out);
    const m = (await openDataset(out)).manifest;
    const train = m.splits.train;
    const examples = train.examples;
    const exampleBytes = train.shards.reduce((n, s) => n + s.bytes, 0);
    const imageBytes = train.imageShards.reduce((n, s) => n + s.bytes, 0);
    const after = exampleBytes + imageBytes;
    // Version 1: the same records in shards of shardSize records.
    const v1Split = (records: number) => {
      let bytes = 0;
      for (let left = records; left > 0; left -= PAPER.shardSize) bytes += v1ShardBytes(Math.min(left, PAPER.shardSize), 'train', PAPER.imageSize, PAPER.maxTextLength);
      return bytes;
    };
    const before = v1Split(examples);
    // Full VQA v2 train: per-record and per-image sizes from the layouts (headers are < 0.01%).
    const full = VQA_V2_COUNTS.train;
    const fullAfter = full.questions * m.layout.recordSize + full.images * m.imageLayout.recordSize;
    const fullBefore = v1Split(full.questions);
    const row = (label: string, b: number, a: number, n: number) =>
      `| ${label} | ${n.toLocaleString('en-US')} | ${Math.round(b / n).toLocaleString('en-US')} | ${Math.round(a / n).toLocaleString('en-US')} | ${(b / a).toFixed(2)}× |`;
    process.stdout.write(
      [
        `VQA v2-layout corpus, fraction ${fraction} (seed ${seed}): ${examples} train questions on ${train.images} images (${(examples / train.images).toFixed(2)} per image); ` +
          `imageSize ${PAPER.imageSize}, maxTextLength ${PAPER.maxTextLength}, shardSize ${PAPER.shardSize}`,
        '',
        '| train split | examples | bytes/example before (v1: image in every record) | bytes/example after (images once) | ratio |',
        '|---|---:|---:|---:|---:|',
        row(`this corpus (measured: ${train.shards.length} example + ${train.imageShards.length} image shards)`, before, after, examples),
        row('full VQA v2 train (443,757 q / 82,783 images, from the record sizes)', fullBefore, fullAfter, full.questions),
        '',
        `record sizes: v2 example record ${m.layout.recordSize} B, image record ${m.imageLayout.recordSize} B; full train split ${(fullBefore / 1e9).toFixed(1)} GB before, ${(fullAfter / 1e9).toFixed(1)} GB after`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
