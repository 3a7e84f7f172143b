/**
 * Data pipeline throughput: synthetic generation (text + rendered pixels), prepareData end to
 * end into a temporary folder, and reading batches back (random access and streaming).
 *
 *     npx tsx bench/run.ts data-pipeline [examples=5000] [imageSize=32] [task=vqa]
 *
 * Wall-clock after one warm-up pass; the machine may be shared, so treat numbers as rough.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import { generateSynthetic, renderItem, type SyntheticTask } from '../trainer/data/synthetic/generate';

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 5000);
  const size = Number(args[1] ?? 32);
  const task = (args[2] ?? 'vqa') as SyntheticTask;
  const counts = { train: Math.round(n * 0.8), val: Math.round(n * 0.1), test: n - Math.round(n * 0.8) - Math.round(n * 0.1) };
  generateSynthetic(task, 0, { train: 100, val: 10, test: 10 }); // warm-up

  const [splits, genMs] = time(() => generateSynthetic(task, 1, counts));
  const items = [...splits.train, ...splits.val, ...splits.test];
  const [, renderMs] = time(() => items.forEach((it) => renderItem(it, size)));
  const out = mkdtempSync(path.join(tmpdir(), 'amad-bench-data-'));
  try {
    const [summary, prepMs] = await timeAsync(() => prepareData({ format: 'synthetic', task, seed: 1, ...counts, imageSize: size }, out));
    const ds = await openDataset(out);
    const train = ds.split('train');
    const [, streamMs] = await timeAsync(async () => {
      let k = 0;
      for await (const b of train.batches({ batchSize: 64, seed: 0 })) k += b.size;
      return k;
    });
    const idx = Array.from({ length: 64 }, (_, i) => (i * 7919) % train.size);
    const [, randomMs] = await timeAsync(async () => {
      for (let r = 0; r < 20; r++) await train.batch(idx);
    });
    const rate = (count: number, ms: number) => `${Math.round((count / ms) * 1000)}/s`;
    const rows = [
      ['generate (text + scenes)', `${genMs.toFixed(0)} ms`, rate(n, genMs)],
      [`render ${size}×${size}`, `${renderMs.toFixed(0)} ms`, rate(n, renderMs)],
      ['prepareData (all splits, to disk)', `${prepMs.toFixed(0)} ms`, rate(n, prepMs)],
      ['stream train batches of 64', `${streamMs.toFixed(0)} ms`, rate(train.size, streamMs)],
      ['random-access batches of 64 (×20)', `${randomMs.toFixed(0)} ms`, rate(64 * 20, randomMs)],
    ];
    process.stdout.write(`data pipeline, task ${task}, ${n} examples, ${size}×${size}, ${summary.bytes} shard bytes\n`);
    for (const [what, ms, r] of rows) process.stdout.write(`  ${what!.padEnd(38)} ${ms!.padStart(9)}  ${r}\n`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
