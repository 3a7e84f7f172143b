/**
 * The exported ONNX graph's forward time on ONNX Runtime (CPU), this checkout's exporter
 * against a baseline commit's, interleaved in one process: for each model the two sessions
 * run alternately (A B, B A, A B …) on the same inputs, so load from other processes hits
 * both alike; the speed-up is the median over rounds of t(baseline) / t(current).
 *
 * Models (random weights: the time does not depend on the values, except through denormals,
 * see below), batch 32 by default, text (and decoder) rows padded to seeded random lengths:
 *   demo-vqa          examples/demo-vqa.json's teacher: single-stream, width 64, MLP 256,
 *                     8 heads, 2 fusion layers, 16 patches + 12 text tokens (T = 28)
 *   reference-vqa     bench/train-step.ts REFERENCE: width 128, MLP 512, 4 layers, 8 heads,
 *                     64 patches + 16 tokens (T = 80)
 *   demo-captioning   the demo captioning teacher: 2 vision + 2 decoder layers, width 64,
 *                     teacher-forced over 14 decoder tokens
 * each timed fetching `logits` only (evaluation) and `logits` + every attention map (the
 * teacher cache).
 *
 * The baseline exporter is read from git (`git archive <ref> trainer contract`) into a temporary
 * directory and loaded beside this one (through tsx's TypeScript loader).
 *
 *     npx tsx bench/run.ts onnx-graph                       # vs PREVIOUS_GRAPH_COMMIT, 1 thread
 *     npm run bench -- onnx-graph                           # the same, compiled
 *     npx tsx bench/run.ts onnx-graph --baseline main --runs 500 --threads 2 --daz
 *     npx tsx bench/run.ts onnx-graph --baseline none       # this graph alone
 *
 * `--daz` sets ONNX Runtime's `session.set_denormal_as_zero` on both sessions. The flag is CPU
 * state of the computing thread, not of a session: with one intra-op thread, two sessions in one
 * process (one with, one without) ran at the same speed, set by whichever was created first. So
 * "with" and "without" cannot be compared inside one process: run the benchmark twice and
 * compare the `current ms` columns (not interleaved: on a quiet machine).
 *
 * Prints a table, then one JSON line per (model, fetch).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type * as OrtModule from 'onnxruntime-node';
import { initBackend } from '../trainer/backend';
import { VLModel } from '../trainer/model';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../trainer/model/config';
import type { ModelTask } from '../trainer/model-io';
import { buildOnnxExport, type ExportMetadata, type WeightMap } from '../trainer/onnx/export-model';
import { weightMapOf } from '../trainer/onnx/export-files';
import { loadOnnxRuntime } from '../trainer/onnx/runtime';
import { commitOf } from './git-commit';
import { REFERENCE } from './train-step';
import { median } from './stats';

/** The last commit whose exporter wrote the previous graph (3-D MatMul + Add, Identity outputs, sigmoid GELU). */
export const PREVIOUS_GRAPH_COMMIT = '2bcfbb0';

const DEMO_DATA = { imageSize: 32, maxTextLength: 12, maxTargetLength: 14, vocabSize: 41 };
const DEMO_TEACHER = { width: 64, mlpWidth: 256, patchSize: 8, heads: { vision: 8, fusion: 8, decoder: 8 }, dropout: 0 };

const CASES: { name: string; task: ModelTask; config: ModelConfigInput }[] = [
  { name: 'demo-vqa', task: 'vqa', config: { ...DEMO_DATA, ...DEMO_TEACHER, fusionLayers: 2, numAnswers: 16 } },
  { name: 'reference-vqa', task: 'vqa', config: { ...REFERENCE, dropout: 0, heads: { vision: 8, fusion: 8, decoder: 8 } } },
  { name: 'demo-captioning', task: 'captioning', config: { ...DEMO_DATA, ...DEMO_TEACHER, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } },
];

type Exporter = (config: ModelConfig, weights: WeightMap, meta: ExportMetadata) => { model: Uint8Array };
type Ort = typeof OrtModule;

/** mulberry32: seeded inputs, the same in every run. */
function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


/** The baseline commit's `buildOnnxExport`, from a `git archive` of its trainer/ and contract/ in `dir`. */
function baselineExporter(ref: string, dir: string): { exporter: Exporter; commit: string } {
  const repo = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: path.resolve(__dirname, '..') }).toString().trim(); // also from dist/bench
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: repo }).toString().trim();
  const tar = execFileSync('git', ['archive', '--format=tar', commit, 'trainer', 'contract'], { cwd: repo, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  // The baseline is TypeScript: under `npx tsx` it loads as is; compiled (`npm run bench`), tsx's require hook is registered here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!require.extensions['.ts']) (require('tsx/cjs/api') as { register: () => void }).register();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(dir, 'trainer', 'onnx', 'export-model')) as { buildOnnxExport: Exporter };
  return { exporter: mod.buildOnnxExport, commit };
}

/** Seeded inputs: batch rows of random pixels and ids, padded (PAD = 0) after a random length ≥ 3. */
function feedsFor(ort: Ort, c: ModelConfig, task: ModelTask, batch: number, seed: number): Record<string, OrtModule.Tensor> {
  const rnd = mulberry(seed);
  const ids = (len: number, first?: number) =>
    Array.from({ length: batch }, () => {
      const n = 3 + Math.floor(rnd() * (len - 2)); // 3 … len real tokens
      return Array.from({ length: len }, (_, i) => (i === 0 && first !== undefined ? first : i < n ? 4 + Math.floor(rnd() * (c.vocabSize - 4)) : 0));
    });
  const int64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);
  const text = ids(c.maxTextLength);
  const s = c.imageSize;
  return {
    pixel_values: new ort.Tensor('float32', Float32Array.from({ length: batch * s * s * 3 }, () => rnd() * 4 - 2), [batch, s, s, 3]),
    input_ids: int64(text),
    attention_mask: int64(text.map((r) => r.map((v) => (v === 0 ? 0 : 1)))),
    ...(task === 'vqa' ? {} : { decoder_input_ids: int64(ids(c.maxTargetLength, 2)) }),
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      baseline: { type: 'string', default: PREVIOUS_GRAPH_COMMIT },
      runs: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '20' },
      batch: { type: 'string', default: '32' },
      threads: { type: 'string', default: '1' },
      daz: { type: 'boolean', default: false },
      cases: { type: 'string', default: CASES.map((c) => c.name).join(',') },
    },
  });
  const [runs, warmup, batch, threads] = (['runs', 'warmup', 'batch', 'threads'] as const).map((k) => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be an integer ≥ ${k === 'warmup' ? 0 : 1}, got "${values[k]}"`);
    return v;
  }) as [number, number, number, number];
  const cases = values.cases.split(',').map((n) => {
    const c = CASES.find((x) => x.name === n);
    if (!c) throw new Error(`--cases: "${n}" is not one of ${CASES.map((x) => x.name).join(', ')}`);
    return c;
  });
  await initBackend();
  const rt = loadOnnxRuntime();
  if (!rt.available) throw new Error(`ONNX Runtime is not available here: ${rt.reason}`);
  const ort = rt.ort;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-onnx-graph-'));
  try {
    const base = values.baseline === 'none' ? null : baselineExporter(values.baseline, dir);
    const variants: { label: string; exporter: Exporter }[] = [
      ...(base ? [{ label: `baseline ${base.commit}`, exporter: base.exporter }] : []),
      { label: `current ${commitOf()}`, exporter: buildOnnxExport },
    ];
    // The pipeline's session options (trainer/onnx/runtime.ts createOnnxSession), with the thread count given here.
    const options: OrtModule.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      ...(values.daz ? { extra: { session: { set_denormal_as_zero: '1' } } } : {}),
    };
    const rows: Record<string, string | number>[] = [];
    for (const c of cases) {
      const config = parseModelConfig(c.config, c.name);
      const model = new VLModel(config, { seed: 1, name: `bench-onnx-graph-${c.name}` });
      const weights = weightMapOf(model);
      model.dispose();
      const vocab = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', ...Array.from({ length: config.vocabSize - 4 }, (_, i) => `w${i}`)];
      const meta: ExportMetadata = {
        task: c.task,
        tokenizer: { kind: 'word', version: 1, lowercase: true, vocab },
        answers: Array.from({ length: config.numAnswers }, (_, i) => `a${i}`),
        pixelStats: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      };
      const sessions = await Promise.all(variants.map((v) => ort.InferenceSession.create(v.exporter(config, weights, meta).model, options)));
      const feeds = feedsFor(ort, config, c.task, batch, 7);
      try {
        for (const fetch of ['logits', 'logits + maps'] as const) {
          const names = (s: OrtModule.InferenceSession) => (fetch === 'logits' ? ['logits'] : [...s.outputNames]);
          const outs = await Promise.all(sessions.map((s) => s.run(feeds, names(s))));
          const ref = outs[0]!.logits!.data as Float32Array;
          const maxDiff = Math.max(0, ...outs.slice(1).map((o) => (o.logits!.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0)));
          for (let r = 0; r < warmup; r++) for (const s of sessions) await s.run(feeds, names(s));
          const times = sessions.map(() => [] as number[]);
          for (let r = 0; r < runs; r++) {
            const order = r % 2 === 0 ? sessions.map((_, i) => i) : sessions.map((_, i) => sessions.length - 1 - i);
            for (const i of order) {
              const t0 = performance.now();
              await sessions[i]!.run(feeds, names(sessions[i]!));
              times[i]!.push(performance.now() - t0);
            }
          }
          const row: Record<string, string | number> = { name: `onnx-graph-${c.name}`, fetch, batch, threads, daz: values.daz ? 1 : 0, runs };
          variants.forEach((v, i) => (row[`${v.label.split(' ')[0]} ms`] = +median(times[i]!).toFixed(3)));
          if (base) {
            row['speed-up'] = +median(times[0]!.map((t, r) => t / times[1]![r]!)).toFixed(3);
            row['max |Δ logits|'] = +maxDiff.toExponential(2);
          }
          rows.push(row);
        }
      } finally {
        for (const s of sessions) await s.release();
      }
    }
    console.log(
      `ONNX Runtime ${rt.version}, ${threads} intra-op thread(s)${values.daz ? ', denormals as zero' : ''}; ${variants.map((v) => v.label).join(' vs ')}; ` +
        `median of ${runs} interleaved runs after ${warmup} warm-up; speed-up = median over runs of t(baseline)/t(current)`,
    );
    console.table(rows.map(({ name, runs: _r, ...rest }) => ({ model: String(name).replace('onnx-graph-', ''), ...rest })));
    for (const r of rows) console.log(JSON.stringify(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
