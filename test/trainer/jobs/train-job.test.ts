/**
 * runTrainJob end to end on a tiny synthetic VQA set: teacher training and export, the teacher
 * cache (float32 exact, float16 within half an ulp), every distillation variant, cached vs
 * online teacher agreement, and the cache's refusal rules.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistillOptionsSchema, parseJobSpec, type JobSpec } from '../../../contract/spec';
import { toUri } from '../../../contract/storage';
import { initBackend } from '../../../trainer/backend';
import { openDataset, type PreparedDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { cachedLayersOf, resolveLayerMap, type CachedLayer } from '../../../trainer/distill';
import { batchTensors, disposeBatchTensors, fitConfigToData } from '../../../trainer/jobs/task';
import { CachedTeacher, OnlineTeacher, type TeacherTensors } from '../../../trainer/jobs/teacher-signal';
import { runTrainJob, type StudentDistillOptions, type TrainJobArgs } from '../../../trainer/jobs/train-job';
import { VLModel } from '../../../trainer/model';
import type { ModelConfig } from '../../../trainer/model/config';
import { log } from '../../../trainer/log';
import { loadModel, type LoadedModel } from '../../../trainer/model-io';
import { cachedLayersForSpec, cacheOneShard } from '../../../trainer/stages/cache-teacher';
import { loadLatestCheckpoint } from '../../../trainer/train/checkpoint';
import { TrainOptionsSchema, type TrainOptionsInput } from '../../../trainer/train/options';

log.level = 'warn'; // one info line per job would bury the test output

const TEACHER_STEPS = 6;
const STUDENT_STEPS = 3;
const TRAIN_EXAMPLES = 48;
const TRAIN_SHARD_SIZE = 20; // → train shards of 20, 20, 8 examples

const TEACHER_ARCH = { patchSize: 8, width: 16, mlpWidth: 32, fusionLayers: 2, heads: { vision: 4, fusion: 4, decoder: 4 }, dropout: 0 };
const STUDENT_ARCH = { patchSize: 8, width: 16, mlpWidth: 32, fusionLayers: 1, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 };

let root: string;
let dataUri: string;
let data: PreparedDataset;
let teacherDir: string;
let teacher: LoadedModel;
let studentConfig: ModelConfig;
/** Teacher layers the default (uniform) student mapping needs. */
let layers: CachedLayer[];
let cache32: string;
let cache16: string;

const trainOptions = (o: TrainOptionsInput = {}) => TrainOptionsSchema.parse({ batchSize: 8, warmupSteps: 1, evalEvery: 0, evalExamples: 8, checkpointEvery: 0, ...o });
const distillOptions = (o: Record<string, unknown>): StudentDistillOptions => DistillOptionsSchema.parse(o);
const readLog = (modelDir: string) =>
  readFileSync(path.join(fileURLToPath(modelDir), 'train-log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A spec whose one student decides which teacher layers are cached. */
function specWith(dtype: 'float32' | 'float16'): JobSpec {
  return parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task: 'vqa' },
    teacher: { checkpoint: teacherDir },
    students: [{ name: 'small', model: STUDENT_ARCH, distill: { variant: 'kl' } }],
    cache: { enabled: true, dtype },
  });
}

async function writeCache(dtype: 'float32' | 'float16', cacheDir: string): Promise<void> {
  const split = data.split('train');
  for (let s = 0; s < split.numShards; s++) {
    const written = await cacheOneShard({ spec: specWith(dtype), dataUri, teacherUri: teacherDir, shardUri: split.shardUri(s), cacheDir });
    expect(written.length).toBeGreaterThan(0);
  }
}

function studentArgs(name: string, options: Record<string, unknown>, cacheUri?: string, train: TrainOptionsInput = {}): TrainJobArgs {
  return {
    dataUri,
    model: STUDENT_ARCH,
    train: trainOptions({ steps: STUDENT_STEPS, ...train }),
    modelDir: toUri(path.join(root, 'models', name)),
    checkpointDir: toUri(path.join(root, 'checkpoints', name)),
    name,
    distill: { teacherDir, options: distillOptions(options), ...(cacheUri ? { cacheUri } : {}) },
  };
}

/** Training examples spread over every shard (the cache is per data shard). */
const batchIndices = () => [0, 5, 19, 20, 33, TRAIN_EXAMPLES - 1];

async function arraysOf(t: TeacherTensors): Promise<{ maps: Record<string, Float32Array>; logits: Float32Array; shapes: Record<string, number[]> }> {
  const maps: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = { logits: t.logits.shape };
  for (const [k, v] of Object.entries(t.maps)) {
    maps[k] = (await v.data()) as Float32Array;
    shapes[k] = v.shape;
  }
  const logits = (await t.logits.data()) as Float32Array;
  tf.dispose([t.logits, ...Object.values(t.maps)]);
  return { maps, logits, shapes };
}

beforeAll(async () => {
  await initBackend();
  root = mkdtempSync(path.join(tmpdir(), 'train-job-'));
  dataUri = toUri(path.join(root, 'data'));
  await prepareData(
    { format: 'synthetic', task: 'vqa', seed: 5, train: TRAIN_EXAMPLES, val: 8, test: 8, imageSize: 16, maxTextLength: 8, shardSize: TRAIN_SHARD_SIZE, answerVocabSize: 16 },
    dataUri,
  );
  data = await openDataset(dataUri);
  studentConfig = fitConfigToData(STUDENT_ARCH, data.manifest, data.tokenizer.vocabSize, 'student');
  teacherDir = toUri(path.join(root, 'models', 'teacher'));
});

afterAll(() => {
  teacher?.model.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('teacher', () => {
  test('trains, logs one line per step, checkpoints and exports a model that reproduces the trained weights', async () => {
    // Act
    const result = await runTrainJob({
      dataUri,
      model: TEACHER_ARCH,
      train: trainOptions({ steps: TEACHER_STEPS }),
      modelDir: teacherDir,
      checkpointDir: toUri(path.join(root, 'checkpoints', 'teacher')),
      name: 'teacher',
    });
    // Assert
    expect(result.train).toMatchObject({ steps: TEACHER_STEPS, resumedFrom: 0 });
    expect(Number.isFinite(result.train.finalLoss)).toBe(true);
    for (const f of ['model.json', 'model.bin', 'train-log.jsonl']) expect(existsSync(path.join(fileURLToPath(teacherDir), f))).toBe(true);
    const log = readLog(teacherDir);
    expect(log.map((l) => l.step)).toEqual(Array.from({ length: TEACHER_STEPS }, (_, i) => i + 1));
    expect(log.every((l) => Number.isFinite(l.loss) && Number.isFinite(l['loss.gt']))).toBe(true);
    const ckpt = await loadLatestCheckpoint(toUri(path.join(root, 'checkpoints', 'teacher')));
    expect(ckpt?.meta.step).toBe(TEACHER_STEPS);

    // The final checkpoint holds the trained weights: a model built from it and the exported
    // model must give the same answer logits, bit for bit.
    teacher = await loadModel(teacherDir, { name: 'test-teacher' });
    expect(teacher.sha256).toBe(result.weightsSha256);
    // The exported model answers in the data's surface forms (issue 18), class by class.
    expect(teacher.metadata.answers).toEqual(data.answerVocab);
    expect(teacher.metadata.answerForms).toEqual(data.answerSurfaceForms);
    const fromCkpt = new VLModel(teacher.model.config, { name: 'test-teacher-ckpt' });
    for (const { name, tensor } of fromCkpt.namedWeights()) tensor.assign(ckpt!.tensors[name]);
    tf.dispose(Object.values(ckpt!.tensors));
    const batch = await data.split('val').batch([0, 1, 2, 3]);
    const [a, b] = tf.tidy(() => {
      const bt = batchTensors(batch, teacher.model.config);
      const out = [teacher.model.apply(bt.inputs, { training: false }).answerLogits!.arraySync(), fromCkpt.apply(bt.inputs, { training: false }).answerLogits!.arraySync()];
      disposeBatchTensors(bt);
      return out;
    });
    fromCkpt.dispose();
    expect(a).toEqual(b);
    // Training moved the weights away from initialisation (a no-op loop would pass the above).
    const init = new VLModel(teacher.model.config, { seed: 0, name: 'test-teacher-init' });
    const changed = teacher.model.namedWeights().some(({ name, tensor }) => {
      const other = init.namedWeights().find((w) => w.name === name)!.tensor;
      return tf.tidy(() => tensor.sub(other).abs().max().dataSync()[0]) > 0;
    });
    init.dispose();
    expect(changed).toBe(true);
    layers = cachedLayersOf(resolveLayerMap(teacher.model.config, studentConfig, 'uniform'));
    expect(layers.length).toBeGreaterThan(0);
  });
});

describe('teacher cache', () => {
  test('a float32 cache gives exactly the online teacher maps and logits', async () => {
    // Prepare
    cache32 = toUri(path.join(root, 'cache32'));
    await writeCache('float32', cache32);
    const batch = await data.split('train').batch(batchIndices());
    // Act
    const cached = await arraysOf(await (await CachedTeacher.open(cache32, data, teacher.sha256, layers)).forBatch(batch));
    const online = await arraysOf(await new OnlineTeacher(teacher.model, layers).forBatch(batch));
    // Assert
    expect(Object.keys(cached.maps).sort()).toEqual(Object.keys(online.maps).sort());
    expect(cached.shapes).toEqual(online.shapes);
    for (const k of Object.keys(online.maps)) expect(Array.from(cached.maps[k])).toEqual(Array.from(online.maps[k]));
    expect(Array.from(cached.logits)).toEqual(Array.from(online.logits));
  });

  test('a float16 cache is within half a float16 ulp of the online teacher', async () => {
    // Round-to-nearest float16 (10 mantissa bits) errs by at most 2^-11 relative for normal
    // values and by half the subnormal spacing, 2^-25, below 2^-14: |c − o| ≤ 2^-11·|o| + 2^-25.
    cache16 = toUri(path.join(root, 'cache16'));
    await writeCache('float16', cache16);
    const batch = await data.split('train').batch(batchIndices());
    const cached = await arraysOf(await (await CachedTeacher.open(cache16, data, teacher.sha256, layers)).forBatch(batch));
    const online = await arraysOf(await new OnlineTeacher(teacher.model, layers).forBatch(batch));
    const worst = (c: Float32Array, o: Float32Array) => {
      let excess = -Infinity;
      let anyDiff = false;
      for (let i = 0; i < o.length; i++) {
        const d = Math.abs(c[i] - o[i]);
        if (d > 0) anyDiff = true;
        excess = Math.max(excess, d - (Math.abs(o[i]) * 2 ** -11 + 2 ** -25));
      }
      return { excess, anyDiff };
    };
    const all = [...Object.keys(online.maps).map((k) => worst(cached.maps[k], online.maps[k])), worst(cached.logits, online.logits)];
    for (const w of all) expect(w.excess).toBeLessThanOrEqual(0);
    // It really is float16: some value must have been rounded.
    expect(all.some((w) => w.anyDiff)).toBe(true);
  });

  test('refuses a cache made by another teacher', async () => {
    await expect(CachedTeacher.open(cache32, data, 'f'.repeat(64), layers)).rejects.toThrow(/teacherHash .* ≠ expected .*another teacher checkpoint/);
  });

  /** A fusionSelf teacher layer the cache (uniform map of a one-layer student) does not hold. */
  const uncachedLayer = () => {
    const cached = new Set(layers.filter((l) => l.kind === 'fusionSelf').map((l) => l.teacherLayer));
    return [0, 1].find((t) => !cached.has(t))!;
  };

  test('refuses a student whose layer map needs a layer the run cache lacks', async () => {
    // Prepare: the run's cache layers come from the spec; this student maps another teacher layer.
    const missing = uncachedLayer();
    const args = studentArgs('wrong-map', { variant: 'kl', layerMap: { fusionSelf: [[0, missing]] } }, cache32);
    const withRunCache = { ...args, distill: { ...args.distill!, cacheLayers: (t: ModelConfig, d: PreparedDataset) => cachedLayersForSpec(specWith('float32'), t, d) } };
    // Act / Assert
    await expect(runTrainJob(withRunCache)).rejects.toThrow(new RegExp(`needs teacher layer\\(s\\) fusionSelf/${missing}, which the teacher cache does not hold`));
  });

  test('refuses a cache written for other layers than the student expects', async () => {
    const missing = uncachedLayer();
    await expect(runTrainJob(studentArgs('other-layers', { variant: 'kl', layerMap: { fusionSelf: [[0, missing]] } }, cache32))).rejects.toThrow(
      new RegExp(`needs teacher layer\\(s\\) fusionSelf/${missing}, which the teacher cache does not hold`),
    );
  });
});

describe('students', () => {
  const variants = ['none', 'kl', 'mse', 'token', 'one-to-one', 'mean-head', 'projected', 'relation'] as const;

  test.each(variants)('variant %s distils with a finite loss and logs every part', async (variant) => {
    // Act
    const args = studentArgs(`student-${variant}`, { variant }, undefined, { logAlignmentEvery: 1 });
    const result = await runTrainJob(args);
    // Assert
    expect(Number.isFinite(result.train.finalLoss)).toBe(true);
    const log = readLog(args.modelDir);
    expect(log).toHaveLength(STUDENT_STEPS);
    for (const line of log) {
      for (const k of ['loss', 'loss.gt', 'loss.kd', 'loss.attn']) expect(Number.isFinite(line[k])).toBe(true);
      // loss = α_gt·gt + α_kd·kd + α_attn·attn with every α = 1.
      expect(line.loss as number).toBeCloseTo((line['loss.gt'] as number) + (line['loss.kd'] as number) + (line['loss.attn'] as number), 4);
    }
    if (variant === 'none') expect(log.every((l) => l['loss.attn'] === 0)).toBe(true);
    else expect(log.some((l) => (l['loss.attn'] as number) !== 0)).toBe(true);
    if (variant === 'kl') {
      const alignment = log[0].alignment as Record<string, number[][]>;
      expect(Object.keys(alignment).length).toBe(layers.length);
      for (const rows of Object.values(alignment)) {
        expect(rows).toHaveLength(teacher.model.config.heads.fusion);
        for (const row of rows) {
          expect(row).toHaveLength(studentConfig.heads.fusion);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
        }
      }
    }
  });

  test('a student from the float32 cache starts with the same loss as from the online teacher', async () => {
    // Act
    const online = studentArgs('kl-online', { variant: 'kl' }, undefined, { steps: 1, seed: 3 });
    const cached = studentArgs('kl-cached', { variant: 'kl' }, cache32, { steps: 1, seed: 3 });
    await runTrainJob(online);
    await runTrainJob(cached);
    // Assert
    const [a] = readLog(online.modelDir);
    const [b] = readLog(cached.modelDir);
    for (const k of ['loss', 'loss.gt', 'loss.kd', 'loss.attn']) {
      expect(Math.abs((b[k] as number) - (a[k] as number))).toBeLessThanOrEqual(1e-6 * Math.max(1e-6, Math.abs(a[k] as number)));
    }
    expect(a['loss.attn']).not.toBe(0);
  });

  test('a student that needs fewer layers than the run cache holds reads it (variant none: logits only)', async () => {
    // The run's one cache holds the union of all students' layers; `none` needs none of them.
    const runCacheLayers = (t: ModelConfig, d: PreparedDataset) => cachedLayersForSpec(specWith('float32'), t, d);
    const online = studentArgs('none-online', { variant: 'none' }, undefined, { steps: 1, seed: 4 });
    const cachedArgs = studentArgs('none-cached', { variant: 'none' }, cache32, { steps: 1, seed: 4 });
    const cached = { ...cachedArgs, distill: { ...cachedArgs.distill!, cacheLayers: runCacheLayers } };
    await runTrainJob(online);
    await runTrainJob(cached);
    const [a] = readLog(online.modelDir);
    const [b] = readLog(cached.modelDir);
    expect(a['loss.kd']).toBeGreaterThan(0);
    for (const k of ['loss', 'loss.gt', 'loss.kd']) {
      expect(Math.abs((b[k] as number) - (a[k] as number))).toBeLessThanOrEqual(1e-6 * Math.max(1e-6, Math.abs(a[k] as number)));
    }
  });
});
