/**
 * Stage placement: for every stage whose work grows with the data, an estimate of the work per
 * invocation (FLOPs from the model config, bytes from the record sizes) divided by the measured
 * throughput of each backend (throughputs.json), then a placement — a Lambda when the work fits
 * the deployed function with margin, else a Batch job (CPU queue for preparation, GPU queue for
 * the model stages) — and the number of invocations, their worst time against the limit, the
 * bytes written and the cost. The spec can pin a placement (compute.placement); a pinned
 * placement that cannot fit is a problem naming the stage and the fix. GPU stages are estimated
 * with the slowest GPU instance type Batch may use (gpu-instance-types.ts: the deployment's, else
 * the spec's compute.instanceTypes).
 *
 * The design stays "Lambdas around Batch jobs": Batch takes over a Lambda stage only when the
 * work does not fit.
 */
import { flopsPerExample, type CostTask } from '../../trainer/eval/cost/flops';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../../trainer/model/config';
import { taskOf, type DataSource } from '../../trainer/data/source';
import type { JobSpec } from '../spec';
import { AWS_LIMITS, planningLambdaLimits, type LambdaLimits, type PlacedFunction } from './limits';
import { chooseGpu, deploymentGpuInstanceTypes, gpuThroughputProblem, specGpuInstanceTypes, type GpuInstanceTypes, type PlannedGpu } from './gpu-instance-types';
import { instancePrice, PRICES } from './prices';
import { resolveThroughputs, TRAIN_FLOPS_FACTOR, type Rate, type Throughputs } from './throughputs';

/** An invocation must be estimated at no more than this fraction of its limit ("fits with margin"). */
export const PLACEMENT_MARGIN = 0.5;
/** Fixed cost of a Lambda invocation (cold start, imports, backend init), seconds: an assumption. */
export const INVOCATION_OVERHEAD_SECONDS = 10;
/** Fixed cost of a Batch job (scheduling, instance start, container image pull), seconds: an assumption. */
export const BATCH_JOB_OVERHEAD_SECONDS = 180;
const overhead = (p: Placement) => (p === 'lambda' ? INVOCATION_OVERHEAD_SECONDS : BATCH_JOB_OVERHEAD_SECONDS);
/** Memory the Node runtime, tfjs and the handler use before any model or data, MB: an assumption. */
export const RUNTIME_BASE_MB = 400;
/** Preparation chunks are not made smaller than this (each chunk is one Map item). */
export const MIN_PREPARE_CHUNK = 64;
/** The CPU queue's instance type (infra/batch/cpu-batch.ts). */
export const CPU_INSTANCE_TYPE = 'c6i.xlarge';

export type Placement = 'lambda' | 'batch';
export type PlacementChoice = Placement | 'auto';
export type PlannedStage = 'prepare' | 'cacheTeacher' | 'evaluate' | 'trainTeacher' | 'trainStudents';

/** How many examples and images each split holds. */
export interface DataCounts {
  readonly examples: { readonly train: number; readonly val: number; readonly test: number };
  readonly images: { readonly train: number; readonly val: number; readonly test: number };
  /** Where the counts come from (shown in the plan). */
  readonly source: string;
}

export interface StagePlan {
  readonly stage: PlannedStage;
  readonly placement: Placement;
  /** Where a Batch placement runs. */
  readonly queue: 'lambda' | 'cpu' | 'gpu';
  readonly pinned: boolean;
  /** Work of one invocation, in `unit`. */
  readonly perInvocation: number;
  readonly unit: 'images' | 'examples' | 'job';
  /** null when the data counts are unknown. */
  readonly invocations: number | null;
  /** Estimated time of the slowest invocation. */
  readonly worstSeconds: number;
  readonly limitSeconds: number;
  /** Estimated peak memory of an invocation and its limit (Lambda only). */
  readonly memoryMb: { readonly estimate: number; readonly limit: number } | null;
  /** Bytes the whole stage writes to storage (null: counts unknown). */
  readonly bytesWritten: number | null;
  readonly costUsd: number | null;
  /** Throughput entries the estimate divides by. */
  readonly rates: readonly string[];
  /** Problems, each naming the stage and the fix (empty = fits). */
  readonly problems: readonly string[];
}

export interface PlacementPlan {
  readonly stages: readonly StagePlan[];
  readonly counts: DataCounts | null;
  readonly margin: number;
  readonly limits: Readonly<Record<PlacedFunction, LambdaLimits>>;
  readonly throughputs: Throughputs;
  /** The GPU instance type the Batch GPU stages are estimated with, and the list it was chosen from. */
  readonly gpu: PlannedGpu;
  /** Every stage's problems. */
  readonly problems: readonly string[];
}

export interface PlacementOptions {
  readonly counts?: DataCounts | null;
  readonly throughputs?: Throughputs;
  readonly limits?: Readonly<Record<PlacedFunction, LambdaLimits>>;
  /**
   * The GPU instance types Batch may use (e.g. `amad plan --instance-types`). Default: the
   * deployment's (PLAN_GPU_TYPES_ENV), else the spec's compute.instanceTypes.
   */
  readonly gpuInstanceTypes?: GpuInstanceTypes;
  /** Teacher model config when the spec names a checkpoint (read from its model.json). */
  readonly teacherConfig?: ModelConfig;
}

// ---- data counts -------------------------------------------------------------------------

/**
 * Sizes of the official VQA v2 release (https://visualqa.org/download.html), by question-file
 * name: the planner knows a public dataset's size without reading its files.
 */
const KNOWN_VQA_V2: Record<string, { questions: number; images: number }> = {
  'v2_OpenEnded_mscoco_train2014_questions.json': { questions: 443_757, images: 82_783 },
  'v2_OpenEnded_mscoco_val2014_questions.json': { questions: 214_354, images: 40_504 },
};

const basename = (uri: string) => uri.split('/').pop() ?? uri;

/** Counts from the spec (synthetic) or the known size of a public release; null when unknown. */
export function dataCountsFromSpec(source: DataSource): DataCounts | null {
  if (source.format === 'synthetic') {
    const e = { train: source.train, val: source.val, test: source.test };
    return { examples: e, images: e, source: 'the synthetic generator counts in the spec' };
  }
  if (source.format === 'vqa-v2') {
    const train = KNOWN_VQA_V2[basename(source.questions.train)];
    const val = KNOWN_VQA_V2[basename(source.questions.val)];
    if (!train || !val || source.questions.test) return null;
    // No test split: val doubles as test (trainer/data/source.ts); counted once for preparation.
    return {
      examples: { train: train.questions, val: val.questions, test: 0 },
      images: { train: train.images, val: val.images, test: 0 },
      source: 'the official VQA v2 release sizes (visualqa.org), matched by question-file name',
    };
  }
  return null;
}

// ---- work estimates ----------------------------------------------------------------------

const costTask = (source: DataSource): CostTask => ({ vqa: 'vqa', captioning: 'caption', translation: 'translate' } as const)[taskOf(source)];

/** A spec architecture completed with the sizes the data gives it (as trainer/jobs/task.ts does). */
export function configForData(arch: object, source: DataSource, what: string): ModelConfig {
  const task = taskOf(source);
  const fromData: ModelConfigInput = {
    imageSize: source.imageSize,
    maxTextLength: source.maxTextLength,
    maxTargetLength: source.maxTargetLength,
    vocabSize: source.tokenizer.maxVocab,
    numAnswers: task === 'vqa' ? source.answerVocabSize : 0,
  };
  return parseModelConfig({ ...arch, ...fromData }, what);
}

/** Parameter count (weights of the matmuls and embeddings; biases and norms left out). */
export function paramCount(c: ModelConfig): number {
  const d = c.width;
  const m = c.mlpWidth;
  const block = 4 * d * d + 2 * d * m;
  const cross = c.fusion === 'two-stream' ? c.fusionLayers * 4 * d * d : 0;
  return (
    c.patchSize * c.patchSize * 3 * d +
    c.vocabSize * d +
    (c.visionLayers + c.fusionLayers) * block +
    cross +
    c.decoderLayers * (block + 4 * d * d) +
    d * c.numAnswers
  );
}

/** Bytes of one stored record: the image (uint8 RGB) plus text ids (int32). */
export function recordBytes(source: DataSource): number {
  return source.imageSize * source.imageSize * 3 + 4 * (source.maxTextLength + source.maxTargetLength + 1) + 64;
}

/** Bytes of one example's cached teacher maps and logits (every teacher attention layer, an upper bound). */
export function cacheBytesPerExample(teacher: ModelConfig, spec: JobSpec): number {
  const P = (teacher.imageSize / teacher.patchSize) ** 2;
  const T = teacher.fusion === 'single-stream' ? P + teacher.maxTextLength : teacher.maxTextLength;
  const bytes = spec.cache.dtype === 'float16' ? 2 : 4;
  const maps = teacher.visionLayers * teacher.heads.vision * P * P + teacher.fusionLayers * teacher.heads.fusion * T * T;
  return maps * bytes + 4 * Math.max(teacher.numAnswers, teacher.vocabSize * (teacher.decoderLayers > 0 ? teacher.maxTargetLength : 0));
}

const cpuShare = (memoryMb: number) => Math.min(1, memoryMb / AWS_LIMITS.lambdaMbPerVcpu);
const mb = (bytes: number) => bytes / (1024 * 1024);

// ---- the planner -------------------------------------------------------------------------

interface Estimate {
  seconds: number;
  memoryMb: number;
}

/** Places every data-sized stage of a spec. Never throws for a plan that does not fit: see `problems`. */
export function planPlacement(spec: JobSpec, opts: PlacementOptions = {}): PlacementPlan {
  const throughputs = opts.throughputs ?? resolveThroughputs();
  const limits = opts.limits ?? planningLambdaLimits();
  const counts = opts.counts === undefined ? dataCountsFromSpec(spec.data) : opts.counts;
  const source = spec.data;
  const task = costTask(source);
  const pins = spec.compute.placement;
  const jobLimit = spec.compute.jobTimeoutMinutes * 60;
  // Batch may place a GPU job on any type of the compute environment: plan with the slowest.
  const plannedGpu = chooseGpu(opts.gpuInstanceTypes ?? deploymentGpuInstanceTypes() ?? specGpuInstanceTypes(spec.compute.instanceTypes), throughputs);
  const gpuType = plannedGpu.instanceType;
  const gpu = plannedGpu.rate;
  const gpuPrice = gpuType === null ? undefined : instancePrice(gpuType);
  const onGpuType = gpuType === null ? '' : ` on ${gpuType}${plannedGpu.instanceTypes.length > 1 ? ` (the slowest of ${plannedGpu.instanceTypes.join(', ')})` : ''}`;
  const io = throughputs.io.value;
  const teacher = opts.teacherConfig ?? ('model' in spec.teacher ? configForData(spec.teacher.model, source, 'teacher.model') : undefined);
  const students = spec.students.map((s) => ({ s, config: configForData(s.model, source, `students.${s.name}.model`) }));
  const stages: StagePlan[] = [];

  const lambdaCost = (seconds: number, memoryMb: number, n: number) => n * (seconds * (memoryMb / 1024) * PRICES.lambdaPerGbSecond + PRICES.lambdaPerRequest);
  const batchCost = (seconds: number, n: number, instance: string | null) => {
    const p = instance === null ? undefined : instancePrice(instance);
    return p === undefined ? null : (n * seconds * p) / 3600;
  };

  /**
   * Places one Map stage whose invocations each do `estimate(placement)`; Lambda first (the
   * design), Batch when the Lambda estimate is over the margin or the memory limit.
   */
  function place(args: {
    stage: PlannedStage;
    fn: PlacedFunction;
    pin: PlacementChoice;
    pinPath: string;
    batchQueue: 'cpu' | 'gpu';
    perInvocation: number;
    unit: StagePlan['unit'];
    invocations: number | null;
    bytesWritten: number | null;
    estimate: (p: Placement) => Estimate | null;
    rates: string[];
    shrinkFix: string;
  }): void {
    const lim = limits[args.fn];
    const onLambda = args.estimate('lambda');
    const lambdaFits = onLambda !== null && onLambda.seconds <= PLACEMENT_MARGIN * lim.timeoutSeconds && onLambda.memoryMb <= lim.memoryMb;
    const placement: Placement = args.pin === 'auto' ? (lambdaFits ? 'lambda' : 'batch') : args.pin;
    const est = args.estimate(placement);
    const problems: string[] = [];
    const limitSeconds = placement === 'lambda' ? lim.timeoutSeconds : jobLimit;
    const onGpu = placement === 'batch' && args.batchQueue === 'gpu';
    const gpuProblem = onGpu ? gpuThroughputProblem(args.stage, plannedGpu) : undefined;
    if (gpuProblem) problems.push(gpuProblem);
    if (est === null) {
      if (!gpuProblem) problems.push(`${args.stage}: no throughput for ${placement}: add an entry to contract/placement/throughputs.json`);
    } else if (placement === 'lambda') {
      if (est.seconds > PLACEMENT_MARGIN * lim.timeoutSeconds) {
        problems.push(
          `${args.stage}: pinned to Lambda, an invocation is estimated at ${Math.round(est.seconds)} s, over ${Math.round(PLACEMENT_MARGIN * 100)}% of the ${lim.timeoutSeconds} s limit: set ${args.pinPath} to "batch" (or "auto"), or ${args.shrinkFix}`,
        );
      }
      if (est.memoryMb > lim.memoryMb) {
        problems.push(`${args.stage}: pinned to Lambda, an invocation needs ~${Math.round(est.memoryMb)} MB, over the function's ${lim.memoryMb} MB: set ${args.pinPath} to "batch" (or "auto"), or ${args.shrinkFix}`);
      }
    } else if (est.seconds > PLACEMENT_MARGIN * jobLimit) {
      problems.push(
        `${args.stage}: a Batch job is estimated at ${Math.round(est.seconds)} s${args.batchQueue === 'gpu' ? onGpuType : ''}, over ${Math.round(PLACEMENT_MARGIN * 100)}% of compute.jobTimeoutMinutes (${jobLimit} s): raise compute.jobTimeoutMinutes, or ${args.shrinkFix}`,
      );
    }
    const n = args.invocations;
    const cost =
      est === null || n === null
        ? null
        : placement === 'lambda'
          ? lambdaCost(est.seconds, lim.memoryMb, n)
          : batchCost(est.seconds, n, args.batchQueue === 'gpu' ? gpuType : CPU_INSTANCE_TYPE);
    stages.push({
      stage: args.stage,
      placement,
      queue: placement === 'lambda' ? 'lambda' : args.batchQueue,
      pinned: args.pin !== 'auto',
      perInvocation: args.perInvocation,
      unit: args.unit,
      invocations: n,
      worstSeconds: est?.seconds ?? Number.NaN,
      limitSeconds,
      memoryMb: placement === 'lambda' && est ? { estimate: est.memoryMb, limit: lim.memoryMb } : null,
      bytesWritten: args.bytesWritten,
      costUsd: cost,
      rates: args.rates,
      problems,
    });
  }

  // Preparation: chunks of images, each decoded, resized and written once (plus its questions).
  {
    const lim = limits['prepare-data'];
    const perImageWrite = recordBytes(source);
    const secondsPerImage = (share: number) => 1 / (throughputs.prepareImages.value * share) + perImageWrite / io;
    const budget = (seconds: number, p: Placement) => PLACEMENT_MARGIN * seconds - overhead(p);
    // The largest chunk that fits: time with margin, and the chunk's records in /tmp and memory.
    const lambdaChunk = Math.floor(Math.min(budget(lim.timeoutSeconds, 'lambda') / secondsPerImage(cpuShare(lim.memoryMb)), (PLACEMENT_MARGIN * lim.ephemeralMb * 1024 * 1024) / perImageWrite));
    const batchChunk = Math.floor(budget(jobLimit, 'batch') / secondsPerImage(1));
    const pin = pins.prepare;
    const placement: Placement = pin === 'auto' ? (lambdaChunk >= MIN_PREPARE_CHUNK ? 'lambda' : 'batch') : pin;
    const chunk = Math.max(1, placement === 'lambda' ? lambdaChunk : batchChunk);
    const images = counts ? counts.images.train + counts.images.val + counts.images.test : null;
    const examples = counts ? counts.examples.train + counts.examples.val + counts.examples.test : null;
    const perChunk = images === null ? chunk : Math.min(chunk, images);
    place({
      stage: 'prepare',
      fn: 'prepare-data',
      pin,
      pinPath: 'compute.placement.prepare',
      batchQueue: 'cpu',
      perInvocation: perChunk,
      unit: 'images',
      invocations: images === null ? null : Math.max(1, Math.ceil(images / chunk)),
      bytesWritten: images === null || examples === null ? null : images * perImageWrite + examples * 4 * (source.maxTextLength + 16),
      estimate: (p) => ({
        seconds: overhead(p) + perChunk * secondsPerImage(p === 'lambda' ? cpuShare(lim.memoryMb) : 1),
        memoryMb: RUNTIME_BASE_MB + mb(Math.min(perChunk, source.shardSize) * perImageWrite * 2),
      }),
      rates: [throughputs.prepareImages.entry.id, throughputs.io.entry.id],
      shrinkFix: 'wait for smaller chunks (they are sized by this plan)',
    });
  }

  /** Seconds of `flops` on one Lambda (wasm, one thread at the function's CPU share) or the GPU. */
  const computeSeconds = (flops: number, p: Placement, fn: PlacedFunction, rate: Rate): number | null => {
    if (p === 'lambda') return flops / (rate.value * cpuShare(limits[fn].memoryMb));
    return gpu ? flops / gpu.value : null;
  };
  const modelStageRates = (cpu: Rate) => [cpu.entry.id, ...(gpu ? [gpu.entry.id] : []), throughputs.io.entry.id];
  const shard = source.shardSize;
  const shardBytes = shard * recordBytes(source);

  // CacheTeacher: one invocation per training shard; the teacher's forward pass + the maps written.
  if (spec.cache.enabled && teacher) {
    const fwd = flopsPerExample(teacher, task);
    const cacheBytes = cacheBytesPerExample(teacher, spec);
    const weights = paramCount(teacher) * 4;
    place({
      stage: 'cacheTeacher',
      fn: 'cache-teacher',
      pin: pins.cacheTeacher,
      pinPath: 'compute.placement.cacheTeacher',
      batchQueue: 'gpu',
      perInvocation: shard,
      unit: 'examples',
      invocations: counts ? Math.ceil(counts.examples.train / shard) : null,
      bytesWritten: counts ? counts.examples.train * cacheBytes : null,
      estimate: (p) => {
        const s = computeSeconds(shard * fwd, p, 'cache-teacher', throughputs.cpuForwardFlops);
        if (s === null) return null;
        return { seconds: overhead(p) + s + (weights + shardBytes + shard * cacheBytes) / io, memoryMb: RUNTIME_BASE_MB + mb(weights * 2 + shardBytes + shard * cacheBytes) };
      },
      rates: modelStageRates(throughputs.cpuForwardFlops),
      shrinkFix: 'lower data.shardSize (fewer examples per shard)',
    });
  }

  // Evaluate: one invocation per model × evaluation shard; the slowest model decides.
  {
    const evalModels = [...(teacher ? [teacher] : []), ...students.map((s) => s.config)];
    const split = spec.evaluation.split;
    const splitExamples = counts ? (split === 'test' && counts.examples.test > 0 ? counts.examples.test : counts.examples.val) : null;
    const evalExamples = splitExamples === null ? null : Math.min(splitExamples, spec.evaluation.maxExamples ?? Infinity);
    const perShard = evalExamples === null ? shard : Math.min(shard, evalExamples);
    const shards = evalExamples === null ? null : Math.ceil(evalExamples / shard);
    const worst = evalModels.reduce((a, c) => (flopsPerExample(c, task) > flopsPerExample(a, task) ? c : a));
    const fwd = flopsPerExample(worst, task) * spec.evaluation.beamSize;
    const weights = paramCount(worst) * 4;
    const modelsEvaluated = evalModels.length + students.reduce((n, s) => n + s.s.seeds.length - 1, 0);
    place({
      stage: 'evaluate',
      fn: 'evaluate',
      pin: pins.evaluate,
      pinPath: 'compute.placement.evaluate',
      batchQueue: 'gpu',
      perInvocation: perShard,
      unit: 'examples',
      invocations: shards === null ? null : shards * modelsEvaluated,
      bytesWritten: shards === null ? null : shards * modelsEvaluated * 64 * 1024,
      estimate: (p) => {
        const s = computeSeconds(perShard * fwd, p, 'evaluate', throughputs.cpuForwardFlops);
        if (s === null) return null;
        return { seconds: overhead(p) + s + (weights + shardBytes) / io, memoryMb: RUNTIME_BASE_MB + mb(weights * 2 + shardBytes) };
      },
      rates: modelStageRates(throughputs.cpuForwardFlops),
      shrinkFix: 'lower data.shardSize (fewer examples per shard) or evaluation.maxExamples',
    });
  }

  // Training: always Batch GPU jobs; each must finish within compute.jobTimeoutMinutes.
  const trainJob = (stage: PlannedStage, config: ModelConfig, train: { steps: number; batchSize: number; evalEvery: number; evalExamples: number }, onlineTeacher: ModelConfig | null, jobs: number) => {
    const fwd = flopsPerExample(config, task);
    const evals = train.evalEvery > 0 ? Math.ceil(train.steps / train.evalEvery) : 1;
    const flops = train.steps * train.batchSize * (TRAIN_FLOPS_FACTOR * fwd + (onlineTeacher ? flopsPerExample(onlineTeacher, task) : 0)) + evals * train.evalExamples * fwd;
    const seconds = gpu ? BATCH_JOB_OVERHEAD_SECONDS + flops / gpu.value : Number.NaN;
    const problems: string[] = [];
    const gpuProblem = gpuThroughputProblem(stage, plannedGpu);
    if (gpuProblem) problems.push(gpuProblem);
    if (gpu && seconds > PLACEMENT_MARGIN * jobLimit) {
      problems.push(`${stage}: a training job is estimated at ${Math.round(seconds / 3600)} h${onGpuType}, over ${Math.round(PLACEMENT_MARGIN * 100)}% of compute.jobTimeoutMinutes (${jobLimit / 60} min): raise compute.jobTimeoutMinutes or lower train.steps`);
    }
    stages.push({
      stage,
      placement: 'batch',
      queue: 'gpu',
      pinned: true,
      perInvocation: 1,
      unit: 'job',
      invocations: jobs,
      worstSeconds: seconds,
      limitSeconds: jobLimit,
      memoryMb: null,
      bytesWritten: jobs * paramCount(config) * 4 * 3, // model + checkpoint (weights + Adam moments)
      costUsd: gpu && gpuPrice !== undefined ? (jobs * seconds * gpuPrice) / 3600 : null,
      rates: gpu ? [gpu.entry.id] : [],
      problems,
    });
  };
  if ('model' in spec.teacher && teacher) trainJob('trainTeacher', teacher, spec.teacher.train, null, 1);
  if (students.length) {
    const worst = students.reduce((a, b) => (flopsPerExample(b.config, task) * b.s.train.steps > flopsPerExample(a.config, task) * a.s.train.steps ? b : a));
    const online = !spec.cache.enabled && teacher ? teacher : null;
    trainJob('trainStudents', worst.config, worst.s.train, online, students.reduce((n, s) => n + s.s.seeds.length, 0));
  }

  return { stages, counts, margin: PLACEMENT_MARGIN, limits, throughputs, gpu: plannedGpu, problems: stages.flatMap((s) => s.problems) };
}
