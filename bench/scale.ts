/**
 * The scale benchmark (issue 12 item 7), a benchmark, not a test:
 *
 *     npm run bench -- scale --fraction 0.1 [--dir /tmp/amad-scale] [--out /tmp/amad-scale/out] [--forward-examples 2]
 *
 * 1. generates a VQA v2-layout corpus at `fraction` of VQA v2's size (bench/vqa-v2-corpus.ts);
 * 2. prepares it with THE pipeline definition cut after PrepareData, on the local executor with
 *    the deployed AWS limits enforced (cli/aws-limits.ts: a chunk over its Lambda's 15 minutes,
 *    memory or /tmp fails the run), the paper-scale spec's data settings and one Lambda at a time
 *    (so a handler's time is one thread's);
 * 3. measures throughputs: preparation images per busy second of one thread (every prepare-*
 *    handler's time), and forward examples/s of the paper-scale student architecture on wasm and
 *    (when it loads) on ONNX Runtime — the rate the plan divides the model Lambdas' work by
 *    (contract/placement/throughputs.ts);
 * 4. writes those into a throughput table (the committed table with the measured rows replaced)
 *    and plans examples/paper-scale-vqa-v2-aws.json from it, printing the plan (the docs/SCALE.md
 *    table) and the machine and date.
 *
 * Figures depend on the machine and its load: run it on a quiet machine and record the output.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runUriFor } from '../contract/layout';
import { planRunWithoutPlacement } from '../contract/plan';
import { configForData, parseThroughputTable, planScale, resolveThroughputs, type ThroughputTable } from '../contract/placement';
import { parseJobSpec, parseJobSpecText } from '../contract/spec';
import { buildDefinition, TaskState } from '../contract/state-machine';
import { defaultLambdaRegistry } from '../cli/lambda-registry';
import { defaultTrainerLauncher, runLocal, type LambdaHandler } from '../cli/local-executor';
import { formatScalePlan } from '../cli/commands/plan';
import { initBackend } from '../trainer/backend';
import { VLModel } from '../trainer/model';
import { writeOnnxExport } from '../trainer/onnx/export-files';
import { OnnxModel } from '../trainer/onnx/onnx-model';
import { loadOnnxRuntime } from '../trainer/onnx/runtime';
import { generateVqaV2Corpus } from './vqa-v2-corpus';
import { findRepoRoot } from '../infra/repo-root';

// The repository root from bench/*.ts (tsx) and from dist/bench/*.js (npm run bench) alike.
const REPO = findRepoRoot(__dirname);
const PAPER_SPEC = path.join(REPO, 'examples', 'paper-scale-vqa-v2-aws.json');

/** THE definition, ending after PrepareData (the rest needs trained models). */
function preparationDefinition(): Record<string, unknown> {
  const def = buildDefinition() as { States: Record<string, Record<string, unknown>> };
  def.States.PrepareData = { ...def.States.PrepareData, Next: 'Prepared' };
  def.States.Prepared = { Type: 'Succeed' };
  // Drop the states no longer reachable (the interpreter refuses unreachable states).
  const reachable = new Set<string>();
  const visit = (name: string) => {
    if (reachable.has(name) || !def.States[name]) return;
    reachable.add(name);
    const st = def.States[name] as { Next?: string; Default?: string; Choices?: { Next: string }[]; Catch?: { Next: string }[] };
    for (const n of [st.Next, st.Default, ...(st.Choices ?? []).map((c) => c.Next), ...(st.Catch ?? []).map((c) => c.Next)]) if (n) visit(n);
  };
  visit((def as unknown as { StartAt: string }).StartAt);
  for (const name of Object.keys(def.States)) if (!reachable.has(name)) delete def.States[name];
  return def;
}

/** Median wall seconds of one forward pass of `batch` examples (after a warm-up pass). */
function forwardExamplesPerSecond(config: ReturnType<typeof configForData>, batch: number, reps: number): number {
  const model = new VLModel(config, { seed: 1, name: 'bench-scale-forward' });
  const images = tf.randomNormal([batch, config.imageSize, config.imageSize, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const text = tf.tensor2d(new Int32Array(batch * config.maxTextLength).fill(5), [batch, config.maxTextLength], 'int32');
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = process.hrtime.bigint();
    tf.tidy(() => {
      const out = model.apply({ images, text }, { training: false });
      out.answerLogits!.dataSync(); // [batch, numAnswers]: wait for the backend
    });
    if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  tf.dispose([images, text]);
  times.sort((a, b) => a - b);
  return batch / times[Math.floor(times.length / 2)];
}

/**
 * Forward examples/s of `config` on ONNX Runtime, as the model Lambdas run it (its export written
 * to a temporary folder, a session on the session worker with the default thread count), at
 * `batch` examples per pass, median of `reps` passes after one warm-up; null when ONNX Runtime
 * does not load here.
 */
async function onnxForwardExamplesPerSecond(config: ReturnType<typeof configForData>, batch: number, reps: number): Promise<{ examplesPerSecond: number; threads: number; version: string } | null> {
  const rt = loadOnnxRuntime();
  if (!rt.available) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scale-onnx-'));
  try {
    const model = new VLModel(config, { seed: 1, name: 'bench-scale-onnx' });
    const vocab = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', ...Array.from({ length: config.vocabSize - 4 }, (_, i) => `w${i}`)];
    const pixelStats = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    await writeOnnxExport(model, { task: 'vqa', tokenizer: { kind: 'word', version: 1, lowercase: true, vocab }, answers: Array.from({ length: config.numAnswers }, (_, i) => `a${i}`), pixelStats, provenance: {} }, path.join(dir, 'model.onnx'));
    model.dispose();
    const onnx = await OnnxModel.open(path.join(dir, 'model.onnx'));
    try {
      const inputs = { batch, images: Float32Array.from({ length: batch * config.imageSize * config.imageSize * 3 }, (_, i) => Math.sin(i)), pixelStats, text: new Int32Array(batch * config.maxTextLength).fill(5) };
      const times: number[] = [];
      for (let i = 0; i <= reps; i++) {
        const t0 = process.hrtime.bigint();
        await onnx.run(inputs);
        if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      times.sort((a, b) => a - b);
      return { examplesPerSecond: batch / times[Math.floor(times.length / 2)]!, threads: onnx.threads, version: onnx.version };
    } finally {
      await onnx.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      fraction: { type: 'string', default: '0.1' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'amad-scale') },
      out: { type: 'string', default: path.join(os.tmpdir(), 'amad-scale', 'out') },
      'forward-examples': { type: 'string', default: '2' },
      'forward-reps': { type: 'string', default: '3' },
      'distinct-images': { type: 'string', default: '256' },
    },
  });
  const fraction = Number(values.fraction);
  const started = new Date();
  const machine = `${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join('/')}`;
  const command = `npm run bench -- scale --fraction ${values.fraction}`;
  mkdirSync(values.out!, { recursive: true });

  // 1. The corpus.
  process.stderr.write(`generating the VQA v2-layout corpus at fraction ${fraction} in ${values.dir}\n`);
  const corpus = await generateVqaV2Corpus({ dir: path.join(values.dir!, 'corpus'), fraction, distinctImages: Number(values['distinct-images']) });
  const images = corpus.counts.train.images + corpus.counts.val.images;

  // 2. Preparation under the enforced limits, one Lambda at a time, into a fresh run folder: a
  //    run left by an earlier invocation would be resumed, its completed stages skipped.
  rmSync(path.join(values.dir!, 'artifacts'), { recursive: true, force: true });
  const paper = JSON.parse(readFileSync(PAPER_SPEC, 'utf8')) as Record<string, unknown> & { data: Record<string, unknown> };
  const { questions: _q, annotations: _a, images: _i, ...dataSettings } = paper.data;
  const spec = { ...paper, runId: `scale-${String(fraction).replace('.', 'p')}`, data: { ...dataSettings, ...corpus.source } };
  parseJobSpec(spec); // bad settings fail here, not mid-run
  let busySeconds = 0;
  const timed = (fn: LambdaHandler): LambdaHandler => async (input) => {
    const t0 = process.hrtime.bigint();
    try {
      return await fn(input);
    } finally {
      busySeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    }
  };
  const registry = defaultLambdaRegistry();
  const prepStates = [TaskState.preparePlan, TaskState.prepareVocabulary, TaskState.prepareChunk, TaskState.prepareData];
  const lambdas = { ...registry, ...Object.fromEntries(prepStates.map((s) => [s, timed(registry[s])])) };
  const wall0 = Date.now();
  const result = await runLocal(
    { runId: spec.runId, artifactRoot: path.join(values.dir!, 'artifacts'), spec },
    { lambdas, trainer: defaultTrainerLauncher(REPO), lambdaConcurrency: 1, definition: preparationDefinition() },
  );
  const wallSeconds = (Date.now() - wall0) / 1000;
  if (result.status !== 'SUCCEEDED') throw new Error(`preparation under the enforced Lambda limits failed: ${result.error?.Error}: ${result.error?.Cause}`);
  const imagesPerSecond = images / busySeconds;
  process.stderr.write(`prepared ${images} images in ${busySeconds.toFixed(1)} s of handler time (${wallSeconds.toFixed(1)} s wall): ${imagesPerSecond.toFixed(2)} images/s\n`);

  // 3. Forward throughput of the paper-scale student on this backend.
  const backend = await initBackend();
  const paperSpec = parseJobSpecText(readFileSync(PAPER_SPEC, 'utf8'));
  const studentArch = paperSpec.students[0].model;
  const student = configForData(studentArch, paperSpec.data, 'students.0.model');
  const examplesPerSecond = forwardExamplesPerSecond(student, Number(values['forward-examples']), Number(values['forward-reps']));
  process.stderr.write(`forward ${examplesPerSecond.toFixed(3)} examples/s (${backend}, paper-scale student)\n`);
  const onnxForward = await onnxForwardExamplesPerSecond(student, Number(values['forward-examples']), Number(values['forward-reps']));
  if (onnxForward) process.stderr.write(`forward ${onnxForward.examplesPerSecond.toFixed(3)} examples/s (onnxruntime ${onnxForward.version}, ${onnxForward.threads} thread(s), paper-scale student)\n`);
  const studentModel = { ...studentArch, imageSize: student.imageSize, maxTextLength: student.maxTextLength, vocabSize: student.vocabSize, numAnswers: student.numAnswers };

  // 4. The measured table and the plan.
  const table: ThroughputTable = parseThroughputTable(JSON.parse(readFileSync(path.join(REPO, 'contract', 'placement', 'throughputs.json'), 'utf8')));
  const at = started.toISOString().slice(0, 16) + 'Z';
  const entries = table.entries.map((e) => {
    if (e.id === 'prepare-jpeg') {
      return { ...e, kind: 'measured' as const, imagesPerSecond: Number(imagesPerSecond.toPrecision(4)), raw: `${images} COCO-size JPEG images prepared in ${busySeconds.toFixed(1)} s of handler time`, command, measuredAt: at, machine, source: 'bench/scale.ts' };
    }
    if (e.id === 'wasm-forward' && backend === 'wasm') {
      return { ...e, examplesPerSecond: Number(examplesPerSecond.toPrecision(4)), model: studentModel, raw: `paper-scale student forward, batch ${values['forward-examples']}: ${examplesPerSecond.toFixed(3)} examples/s`, command, measuredAt: at, machine, source: 'bench/scale.ts' };
    }
    if (e.id === 'onnxruntime-forward' && onnxForward) {
      const raw = `paper-scale student forward on onnxruntime ${onnxForward.version}, ${onnxForward.threads} intra-op thread(s), batch ${values['forward-examples']}: ${onnxForward.examplesPerSecond.toFixed(3)} examples/s`;
      return { ...e, examplesPerSecond: Number(onnxForward.examplesPerSecond.toPrecision(4)), model: studentModel, raw, command, measuredAt: at, machine, source: 'bench/scale.ts (forward passes alone)' };
    }
    return e;
  });
  const measured: ThroughputTable = { comment: table.comment, entries };
  const tableFile = path.join(values.out!, 'throughputs.json');
  writeFileSync(tableFile, JSON.stringify(measured, null, 2) + '\n');
  const base = planRunWithoutPlacement(paperSpec, paperSpec.runId ?? 'paper', runUriFor('s3://' + 'b'.repeat(63), paperSpec.runId ?? 'paper'));
  const plan = planScale(paperSpec, base, { throughputs: resolveThroughputs(measured) });
  const lines = [
    `command: ${command}`,
    `machine: ${machine}`,
    `date: ${started.toISOString()}`,
    `corpus: ${corpus.counts.train.questions + corpus.counts.val.questions} questions on ${images} images (${(corpus.bytes.images / 1e6).toFixed(0)} MB of JPEG)`,
    `preparation under the enforced Lambda limits: ${result.status}, ${busySeconds.toFixed(1)} s handler time, ${wallSeconds.toFixed(1)} s wall`,
    `throughput table: ${tableFile} (plan with: npx amad plan examples/paper-scale-vqa-v2-aws.json --throughputs ${tableFile})`,
    '',
    ...formatScalePlan(plan, 'examples/paper-scale-vqa-v2-aws.json'),
  ];
  writeFileSync(path.join(values.out!, 'plan.md'), lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(JSON.stringify({ name: 'scale', fraction, images, busySeconds, wallSeconds, imagesPerSecond, forwardExamplesPerSecond: examplesPerSecond, onnxForwardExamplesPerSecond: onnxForward?.examplesPerSecond ?? null, backend, fits: plan.problems.length === 0 }) + '\n');
}
