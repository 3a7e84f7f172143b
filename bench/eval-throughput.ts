/**
 * Evaluation throughput: examples per second of the EvaluateShard stage (load the model, read
 * the shard, predict, write the part) for a VQA model and a captioning model (greedy decoding),
 * at the demo's sizes (width 64, 8 heads, patch 8, 32 px images), plus the peak resident memory
 * of the process.
 *
 * Run: `npx tsx bench/run.ts eval-throughput [--examples 512]` (or `npm run bench -- eval-throughput`).
 * Prints a table, then one JSON line per measurement.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runLayout, runUriFor } from '../contract/layout';
import { parseJobSpec } from '../contract/spec';
import { toUri } from '../contract/storage';
import { initBackend } from '../trainer/backend';
import { openDataset } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import { fitConfigToData } from '../trainer/jobs/task';
import { VLModel } from '../trainer/model';
import { saveModel } from '../trainer/model-io';
import { evaluateShard } from '../trainer/stages/evaluate';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { examples: { type: 'string', default: '512' } } });
  const n = Number(values.examples);
  const backend = await initBackend();
  const root = mkdtempSync(path.join(tmpdir(), 'eval-throughput-'));
  const rows: { name: string; examplesPerSecond: number; seconds: number }[] = [];
  try {
    for (const task of ['vqa', 'captioning'] as const) {
      const runUri = runUriFor(toUri(root), `bench-${task}`);
      const layout = runLayout(runUri);
      await prepareData({ format: 'synthetic', task, seed: 1, train: 200, val: 32, test: n, imageSize: 32, maxTextLength: 12, maxTargetLength: 14, shardSize: n }, layout.data);
      const data = await openDataset(layout.data);
      const arch = { width: 64, mlpWidth: 256, patchSize: 8, heads: { vision: 8, fusion: 8, decoder: 8 }, ...(task === 'vqa' ? { fusionLayers: 2 } : { visionLayers: 2, fusionLayers: 0, decoderLayers: 2 }) };
      const config = fitConfigToData(arch, data.manifest, data.tokenizer.vocabSize, 'bench model');
      const model = new VLModel(config, { seed: 1, name: `bench-eval-${task}` });
      await saveModel(layout.teacherModel, model, { task, tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} });
      model.dispose();
      const spec = parseJobSpec({ version: 1, data: { format: 'synthetic', task }, teacher: { checkpoint: layout.teacherModel }, students: [{ name: 's', model: arch }] });
      const split = data.split('test');
      const t0 = performance.now();
      await evaluateShard({ runUri, spec, model: { modelId: 'teacher', modelUri: layout.teacherModel, stage: null }, shardUri: split.shardUri(0), shardIndex: 0, outUri: layout.evalPart('teacher', 0) });
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ name: `evaluate-shard-${task}${task === 'vqa' ? '' : '-greedy'}`, examplesPerSecond: split.size / seconds, seconds });
    }
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(`backend ${backend}, ${n} test examples per task, one EvaluateShard call each (model load included)`);
    console.table(rows.map((r) => ({ stage: r.name, seconds: r.seconds.toFixed(1), 'examples/s': r.examplesPerSecond.toFixed(1) })));
    console.log(`peak resident memory of this process: ${maxRssMb.toFixed(0)} MB`);
    for (const r of rows) console.log(JSON.stringify({ name: r.name, backend, examples: n, examplesPerSecond: +r.examplesPerSecond.toFixed(1) }));
    console.log(JSON.stringify({ name: 'eval-throughput-peak-rss', backend, maxRssMb: Math.round(maxRssMb) }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
