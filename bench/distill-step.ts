/**
 * Student training-step time with each teacher signal, at the reference shapes (teacher 8 heads,
 * student 2 heads, width 128, 4 single-stream fusion layers, 64 patches + 16 tokens, batch 32,
 * 4 mapped layers), through the real training job (trainer/jobs/train-job.ts):
 *   (a) ground truth only   (b) + logit KD from the cache   (c) + AMAD kl from the cache
 *   (d) + AMAD kl with the online teacher
 * plus the teacher cache's bytes per example (float32, float16) and the float16 effect on the
 * attention loss (first-step AMAD term of (c) from a float16 vs a float32 cache, teacher trained
 * for --teacher-steps so that its maps are not near-uniform).
 *
 * Run: `npx tsx bench/run.ts distill-step [--steps 8] [--warmup 3] [--teacher-steps 40]` (or `npm run bench -- distill-step`).
 * Prints a table, then one JSON line per measurement; ms/step is the median of the steps after
 * warm-up as the training log records them (batch assembly + teacher signal + loss + backward + AdamW).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { parseJobSpec } from '../contract/spec';
import { storageFor, toUri } from '../contract/storage';
import { initBackend } from '../trainer/backend';
import { openDataset } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import { runTrainJob, type StudentDistillOptions } from '../trainer/jobs/train-job';
import { cacheOneShard } from '../trainer/stages/cache-teacher';
import { TrainOptionsSchema } from '../trainer/train/options';
import { median } from './stats';

const arch = (heads: number) => ({ width: 128, mlpWidth: 512, patchSize: 4, fusionLayers: 4, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0.1 });


function stepTimes(modelDir: string): { ms: number[]; firstLoss: number; firstAttnLoss: number } {
  const lines = readFileSync(path.join(modelDir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msPerStep: number; loss: number; 'loss.attn'?: number });
  return { ms: lines.map((l) => l.msPerStep), firstLoss: lines[0].loss, firstAttnLoss: lines[0]['loss.attn'] ?? 0 };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { steps: { type: 'string', default: '8' }, warmup: { type: 'string', default: '3' }, 'teacher-steps': { type: 'string', default: '40' } } });
  const steps = Number(values.steps);
  const teacherSteps = Number(values['teacher-steps']);
  const warmup = Number(values.warmup);
  const backend = await initBackend();
  const dir = mkdtempSync(path.join(tmpdir(), 'distill-step-'));
  try {
    const total = steps + warmup;
    const dataUri = toUri(path.join(dir, 'data'));
    await prepareData({ format: 'synthetic', task: 'vqa', seed: 1, train: 32 * total, val: 64, test: 64, imageSize: 32, maxTextLength: 16, answerVocabSize: 64, shardSize: 32 * total }, dataUri);
    const data = await openDataset(dataUri);
    const train = TrainOptionsSchema.parse({ steps: total, batchSize: 32, evalEvery: 0, checkpointEvery: 0, evalExamples: 32, warmupSteps: 1, logAlignmentEvery: 1_000_000 });
    const teacherDir = toUri(path.join(dir, 'teacher'));
    // The timing does not depend on what the teacher has learned, but the float16 effect does:
    // an untrained teacher's maps are near-uniform, so train it a little.
    await runTrainJob({ dataUri, model: arch(8), train: { ...train, steps: teacherSteps, lr: 3e-3 }, modelDir: teacherDir, checkpointDir: toUri(path.join(dir, 'teacher-ckpt')), name: 'bench-teacher' });

    const kl: StudentDistillOptions = { variant: 'kl', temperature: 1, detachWeights: false, alphaGt: 1, alphaKd: 1, alphaAttn: 1, tauKd: 2 };
    const spec = parseJobSpec({
      version: 1,
      data: { format: 'synthetic', task: 'vqa' },
      teacher: { checkpoint: teacherDir },
      students: [{ name: 'kl', model: arch(2), distill: kl }],
    });
    const cacheBytes: Record<string, number> = {};
    const caches: Record<string, string> = {};
    for (const dtype of ['float32', 'float16'] as const) {
      const cacheUri = toUri(path.join(dir, `cache-${dtype}`));
      const split = data.split('train');
      for (let s = 0; s < split.numShards; s++) {
        await cacheOneShard({ spec: { ...spec, cache: { ...spec.cache, dtype } }, dataUri, teacherUri: teacherDir, shardUri: split.shardUri(s), cacheDir: cacheUri });
      }
      const files = await storageFor(cacheUri).list(cacheUri);
      let bytes = 0;
      for (const f of files) bytes += await storageFor(f).size(f);
      cacheBytes[dtype] = bytes / split.size;
      caches[dtype] = cacheUri;
    }

    const runs: { name: string; label: string; distill?: { options: StudentDistillOptions; cache?: string } }[] = [
      { name: 'student-gt-only', label: '(a) ground truth only' },
      { name: 'student-logit-kd-cached', label: '(b) + logit KD, cached teacher', distill: { options: { ...kl, variant: 'none', alphaAttn: 0 }, cache: caches.float32 } },
      { name: 'student-amad-cached', label: '(c) + AMAD kl, cached teacher', distill: { options: kl, cache: caches.float32 } },
      { name: 'student-amad-online', label: '(d) + AMAD kl, online teacher', distill: { options: kl } },
      { name: 'student-amad-cached-fp16', label: '(c) with a float16 cache', distill: { options: kl, cache: caches.float16 } },
    ];
    const results: { name: string; label: string; msPerStep: number; firstLoss: number; firstAttnLoss: number }[] = [];
    for (const r of runs) {
      const modelDir = path.join(dir, r.name);
      await runTrainJob({
        dataUri,
        model: arch(2),
        train,
        modelDir: toUri(modelDir),
        checkpointDir: toUri(path.join(dir, `${r.name}-ckpt`)),
        name: r.name,
        ...(r.distill ? { distill: { teacherDir, options: r.distill.options, cacheUri: r.distill.cache } } : {}),
      });
      const { ms, firstLoss, firstAttnLoss } = stepTimes(modelDir);
      results.push({ name: r.name, label: r.label, msPerStep: median(ms.slice(warmup)), firstLoss, firstAttnLoss });
    }
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    const b = byName['student-logit-kd-cached'].msPerStep;
    const c = byName['student-amad-cached'].msPerStep;
    const d = byName['student-amad-online'].msPerStep;
    // The attention term alone: the total is dominated by the cross-entropy, whose float32 sum hides the change.
    const fp16Effect = Math.abs(byName['student-amad-cached-fp16'].firstAttnLoss - byName['student-amad-cached'].firstAttnLoss) / byName['student-amad-cached'].firstAttnLoss;

    console.log(`backend ${backend}, batch 32, median of ${steps} steps after ${warmup} warm-up (tf ${tf.version.tfjs})`);
    console.table(results.map((r) => ({ run: r.label, 'ms/step': r.msPerStep.toFixed(1), 'first-step loss': r.firstLoss.toFixed(6), 'first-step attention loss': r.firstAttnLoss.toExponential(6) })));
    console.log(`AMAD overhead over (b): ${(((c - b) / b) * 100).toFixed(1)}% (target ≤ 10%); cached vs online: ${(d / c).toFixed(2)}× (target ≥ 1.3×)`);
    console.log(`cache bytes/example: float32 ${cacheBytes.float32.toFixed(0)}, float16 ${cacheBytes.float16.toFixed(0)}; float16 changes the first-step AMAD attention loss by ${fp16Effect.toExponential(2)} (relative)`);
    for (const r of results) console.log(JSON.stringify({ name: r.name, backend, batch: 32, msPerStep: +r.msPerStep.toFixed(1), stepsPerSecond: +(1000 / r.msPerStep).toFixed(3) }));
    console.log(JSON.stringify({ name: 'amad-overhead-vs-logit-kd', backend, ratio: +(c / b).toFixed(3) }));
    console.log(JSON.stringify({ name: 'cached-vs-online-speedup', backend, ratio: +(d / c).toFixed(3) }));
    // Peak resident memory of the whole benchmark process (every run above, the online teacher included).
    console.log(JSON.stringify({ name: 'distill-step-peak-rss', backend, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
    console.log(JSON.stringify({ name: 'teacher-cache-bytes-per-example', float32: Math.round(cacheBytes.float32), float16: Math.round(cacheBytes.float16), float16AttentionLossRelativeChange: fp16Effect }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
