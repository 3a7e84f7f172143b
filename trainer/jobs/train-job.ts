/**
 * One training job: a teacher (ground truth only) or a student (ground truth + logit
 * distillation + an attention term against a teacher, online or from the cache). It opens the
 * prepared data, builds the model, runs the training loop and exports the model. This is what
 * the Batch container (trainer/main.ts) and `amad train` / `amad distill` run.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, storageFor } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import { openDataset, type PreparedDataset } from '../data/dataset';
import {
  attentionDistillationLoss,
  attentionFieldName,
  cachedLayersOf,
  createProjection,
  distillationObjective,
  logitDistillationLoss,
  relationDistillationLoss,
  resolveLayerMap,
  type AttentionVariant,
  type CachedLayer,
  type LayerMapSpec,
  type MappedPair,
  type ProjectionParams,
  type TeacherLayerSet,
} from '../distill';
import { declaredLayers, onnxTeacherSha256, readSidecar, type OnnxTeacherRef } from '../onnx/onnx-teacher';
import { log } from '../log';
import { VLModel } from '../model';
import type { ModelConfig, ModelConfigInput } from '../model/config';
import { loadModel, saveModel } from '../model-io';
import type { ExportMetadata } from '../onnx/export-model';
import { writeOnnxExport, type WrittenExport } from '../onnx/export-files';
import { trainLoop, type LossParts, type NamedVariable, type StepInfo, type TrainResult } from '../train/loop';
import type { TrainOptions } from '../train/options';
import { mixSeeds } from '../data/prng';
import { StepSampler } from '../train/sampler';
import { alignmentStats, meanAlignmentWeights, type AlignmentStats } from './alignment';
import { attentionMapShape } from './map-shape';
import type { Batch } from '../data/batch';
import { batchTensors, fitConfigToData, groundTruthLoss, quickValidate, type Task } from './task';
import { cacheDirForShard, CachedTeacher, OnlineTeacher, type TeacherSignal, type TeacherTensors } from './teacher-signal';

/** The attention term of a student; `none` = logit distillation and ground truth only. */
export type DistillVariant = 'none' | AttentionVariant | 'relation';

export interface StudentDistillOptions {
  readonly variant: DistillVariant;
  readonly temperature: number;
  readonly detachWeights: boolean;
  readonly alphaGt: number;
  readonly alphaKd: number;
  readonly alphaAttn: number;
  readonly tauKd: number;
  readonly layerMap?: LayerMapSpec;
  readonly relationHeads?: number;
  /** one-to-one: the teacher head each student head copies. */
  readonly teacherHeads?: readonly number[];
}

export interface TrainJobArgs {
  /** Prepared dataset folder (manifest.json). */
  readonly dataUri: string;
  readonly model: ModelConfigInput;
  readonly train: TrainOptions;
  /** Output model folder: model.json + model.bin + train-log.jsonl + model.onnx (docs/SERVING.md). */
  readonly modelDir: string;
  readonly checkpointDir: string;
  /** Used in variable names, logs and the checkpoint fingerprint. */
  readonly name: string;
  /** Present for students. */
  readonly distill?: {
    /** The teacher's model folder (tfjs), or its .onnx file when `onnxTeacher` is given. */
    readonly teacherDir: string;
    /**
     * A teacher exported to ONNX (docs/TEACHERS.md): it teaches through the cache only (the
     * CacheTeacher stage ran it on ONNX Runtime); its declared layers drive the layer map.
     */
    readonly onnxTeacher?: OnnxTeacherRef;
    readonly options: StudentDistillOptions;
    /** Teacher cache folder (per data shard sub-folders); online teacher when absent. */
    readonly cacheUri?: string;
    /**
     * The teacher layers the cache holds: one cache serves every student of a run, so it holds
     * the union of their mappings (stages/cache-teacher.ts `cachedLayersForSpec`). The student
     * opens the cache with that identity and uses only its own layers from it.
     * @default this student's own layers (a cache written for this student alone)
     */
    readonly cacheLayers?: (teacher: ModelConfig | TeacherLayerSet, data: PreparedDataset) => CachedLayer[];
  };
  readonly provenance?: Record<string, unknown>;
  readonly onStep?: (info: StepInfo) => void;
  readonly shouldStop?: () => boolean;
}

export interface TrainJobResult {
  readonly modelDir: string;
  readonly params: number;
  readonly weightsSha256: string;
  readonly weightsBytes: number;
  /** The ONNX export written beside the weights: model.onnx first, then its sidecar, tokenizer (and encoder/decoder for generation). */
  readonly onnxFiles: readonly string[];
  readonly train: Pick<TrainResult, 'steps' | 'resumedFrom' | 'finalLoss' | 'bestVal' | 'finalVal'>;
}

export async function runTrainJob(args: TrainJobArgs): Promise<TrainJobResult> {
  const data = await openDataset(args.dataUri);
  const task = data.manifest.task;
  const config = fitConfigToData(args.model, data.manifest, data.tokenizer.vocabSize, `${args.name} model config`);
  const seed = args.train.seed;
  const model = new VLModel(config, { seed, name: `${args.name}-${process.pid}` });
  const teacher = args.distill ? await openTeacher(args.distill, args.name) : undefined;
  const disposables: { dispose(): void }[] = [model];
  if (teacher?.online) disposables.push(teacher.online);
  try {
    const distill = teacher && args.distill ? await setUpDistillation(args.distill, teacher, config, data, args.name) : undefined;
    if (distill) disposables.push(...distill.projections.map((p) => ({ dispose: () => (p.W.dispose(), p.b.dispose()) })));
    const params: NamedVariable[] = [
      ...model.namedWeights(),
      ...(distill?.projections.flatMap((p) => [
        { name: `${p.moduleName}/W`, tensor: p.W as tf.Variable },
        { name: `${p.moduleName}/b`, tensor: p.b as tf.Variable },
      ]) ?? []),
    ];
    log.info({ job: args.name, task, params: model.countParams(), distill: args.distill?.options.variant ?? 'teacher', mapped: distill?.pairs.length ?? 0, cached: !!args.distill?.cacheUri }, 'training job starts');

    const train = data.split('train');
    const sampler = new StepSampler(train.size, args.train.batchSize, seed);
    let teacherNow: TeacherTensors | undefined;
    let alignment: Record<string, number[][]> | undefined;
    let stats: Record<string, AlignmentStats> | undefined;
    const batchForStep = async (step: number) => {
      const batch = await train.batch(sampler.indices(step));
      if (distill) {
        disposeTeacher(teacherNow);
        teacherNow = await distill.signal.forBatch(batch);
      }
      return batch;
    };
    const dropoutSeed = (step: number) => mixSeeds(seed, step);

    const loss = (batch: Batch, step: number): LossParts => {
      const bt = batchTensors(batch, config);
      const needMaps = !!distill && distill.pairs.length > 0 && distill.options.variant !== 'relation';
      const needQKV = distill?.options.variant === 'relation';
      const out = model.apply(bt.inputs, { training: true, dropoutSeed: dropoutSeed(step), returnAttention: needMaps, returnQKV: needQKV });
      const gt = groundTruthLoss(task, out, bt);
      if (!distill || !teacherNow) return { total: gt, parts: { gt } };
      const o = distill.options;
      const studentLogits = (out.answerLogits ?? out.lmLogits)!;
      const lmMask = task === 'vqa' ? undefined : (bt.targetOut!.notEqual(0).cast('float32') as tf.Tensor2D);
      const kd = o.alphaKd > 0 ? logitDistillationLoss(teacherNow.logits, studentLogits, { temperature: o.tauKd, mask: lmMask }) : tf.scalar(0);
      const attn: tf.Scalar[] = [];
      if (o.variant === 'relation') {
        attn.push(...distill.relationTerms(teacherNow, out));
      } else if (o.variant !== 'none' && o.alphaAttn > 0) {
        const logNow = step % args.train.logAlignmentEvery === 0;
        if (logNow) [alignment, stats] = [{}, {}];
        for (const p of distill.pairs) {
          const tMaps = teacherNow.maps[attentionFieldName(p.kind, p.teacherLayer)];
          const sMaps = out.attention[p.kind]![p.studentLayer];
          const queryMask = out.queryMask[p.kind] ?? null;
          attn.push(
            attentionDistillationLoss(tMaps, sMaps, {
              variant: o.variant,
              temperature: o.temperature,
              detachWeights: o.detachWeights,
              teacherHeads: o.teacherHeads,
              queryMask,
              projection: distill.projectionFor(p),
            }),
          );
          if (logNow && alignment) {
            const key = `${p.kind}/${p.studentLayer}<-${p.teacherLayer}`;
            alignment[key] = meanAlignmentWeights(tMaps, sMaps, queryMask, o.temperature);
            (stats ??= {})[key] = alignmentStats(tMaps, sMaps, queryMask, o.temperature);
          }
        }
      }
      const { total, parts } = distillationObjective({ gt, kd, attn }, { alphaGt: o.alphaGt, alphaKd: o.alphaKd, alphaAttn: o.alphaAttn });
      return { total, parts: { gt: parts.gt, kd: parts.kd, attn: parts.attn } };
    };

    const val = data.split('val');
    const result = await trainLoop({
      params,
      steps: args.train.steps,
      lr: args.train.lr,
      warmupSteps: args.train.warmupSteps,
      weightDecay: args.train.weightDecay,
      clipNorm: args.train.clipNorm,
      seed,
      batchForStep,
      loss,
      validate: () => quickValidate(model, task, val, args.train.evalExamples),
      evalEvery: args.train.evalEvery,
      checkpointDir: args.checkpointDir,
      checkpointEvery: args.train.checkpointEvery,
      fingerprint: JSON.stringify({ name: args.name, config, train: args.train, distill: args.distill?.options ?? null, teacher: teacher?.sha256 ?? null, data: [...data.manifest.splits.train.shards, ...data.manifest.splits.train.imageShards].map((s) => s.sha256) }),
      logUri: joinUri(args.modelDir, 'train-log.jsonl'),
      extraLog: () => {
        if (!alignment) return undefined;
        const a = alignment;
        const st = stats;
        [alignment, stats] = [undefined, undefined];
        return { alignment: a, ...(st ? { alignmentStats: st } : {}) };
      },
      onStep: args.onStep,
      shouldStop: args.shouldStop,
    });
    disposeTeacher(teacherNow);

    const metadata = {
      task,
      tokenizer: data.tokenizer.toJSON(),
      answers: data.answerVocab,
      ...(task === 'vqa' ? { answerForms: data.answerSurfaceForms } : {}),
      pixelStats: data.manifest.pixelStats,
      provenance: {
        ...args.provenance,
        name: args.name,
        role: args.distill ? 'student' : 'teacher',
        variant: args.distill?.options.variant ?? null,
        seed,
        steps: result.steps,
        teacherSha256: teacher?.sha256 ?? null,
        dataManifest: args.dataUri,
      },
    };
    const saved = await saveModel(args.modelDir, model, metadata);
    const onnx = await exportOnnxBeside(args.modelDir, model, metadata, args.name);
    const summary: TrainJobResult = {
      modelDir: args.modelDir,
      params: model.countParams(),
      weightsSha256: saved.sha256,
      weightsBytes: saved.bytes,
      onnxFiles: onnx.files,
      train: { steps: result.steps, resumedFrom: result.resumedFrom, finalLoss: result.finalLoss, bestVal: result.bestVal, finalVal: result.finalVal },
    };
    log.info({ job: args.name, ...summary.train, params: summary.params }, 'training job finished');
    return summary;
  } finally {
    disposables.forEach((d) => d.dispose());
  }
}

/**
 * Every trained model is also written as ONNX for serving (model.onnx beside model.json). An
 * export failure fails the job: a model folder without its model.onnx would break serving and
 * the ONNX inference stages later, far from the cause.
 */
async function exportOnnxBeside(modelDir: string, model: VLModel, metadata: ExportMetadata, name: string): Promise<WrittenExport> {
  try {
    return await writeOnnxExport(model, metadata, joinUri(modelDir, 'model.onnx'));
  } catch (e) {
    throw new Error(`${name}: the ONNX export of the trained model to ${joinUri(modelDir, 'model.onnx')} failed (model.json/model.bin are saved; \`amad export ${modelDir}\` retries it): ${(e as Error).message}`);
  }
}

function disposeTeacher(t: TeacherTensors | undefined): void {
  if (!t) return;
  tf.dispose([t.logits, ...Object.values(t.maps), ...Object.values(t.qkv ?? {}).flatMap((x) => [x.q, x.k, x.v])]);
}

interface DistillSetup {
  readonly options: StudentDistillOptions;
  readonly pairs: readonly MappedPair[];
  readonly signal: TeacherSignal;
  readonly projections: readonly ProjectionParams[];
  projectionFor(pair: MappedPair): ProjectionParams | undefined;
  relationTerms(teacher: TeacherTensors, out: ReturnType<VLModel['apply']>): tf.Scalar[];
}

/** What a student needs of its teacher: its layers (for the map), its identity (for the cache), the model to run online (tfjs teachers). */
interface TeacherHandle {
  readonly layers: ModelConfig | TeacherLayerSet;
  readonly sha256: string;
  readonly online?: VLModel;
}

async function openTeacher(d: NonNullable<TrainJobArgs['distill']>, name: string): Promise<TeacherHandle> {
  if (d.onnxTeacher) {
    const { sidecar } = await readSidecar(d.onnxTeacher.sidecar);
    return { layers: { declaredLayers: declaredLayers(sidecar) }, sha256: await onnxTeacherSha256(d.onnxTeacher) };
  }
  const loaded = await loadModel(d.teacherDir, { name: `${name}-teacher` });
  return { layers: loaded.model.config, sha256: loaded.sha256, online: loaded.model };
}

/**
 * The layers a cache holds, from its first shard's manifest (for a cache given without its spec,
 * as `amad distill --cache` does); every shard's manifest is checked against them on open.
 */
async function layersInCache(cacheUri: string, data: PreparedDataset): Promise<CachedLayer[]> {
  const first = data.split('train').entry.shards[0];
  const uri = joinUri(cacheDirForShard(cacheUri, first.file), 'manifest.json');
  if (!(await storageFor(uri).exists(uri))) throw new Error(`no teacher cache at ${uri}: run the cache stage first, or train without --cache`);
  return (parseJson(await storageFor(uri).get(uri), uri) as { layers: CachedLayer[] }).layers;
}

/**
 * Opens the run's teacher cache, which holds the layers `held` (all students' mappings), after
 * checking it has every layer this student's mapping `needed` reads.
 */
async function openCache(cacheUri: string, held: readonly CachedLayer[], needed: readonly CachedLayer[], teacher: TeacherHandle, data: PreparedDataset, name: string): Promise<CachedTeacher> {
  const key = (l: CachedLayer) => `${l.kind}/${l.teacherLayer}`;
  const heldKeys = new Set(held.map(key));
  const missing = needed.map(key).filter((k) => !heldKeys.has(k));
  if (missing.length > 0) {
    throw new Error(
      `${name}: the layer map needs teacher layer(s) ${missing.join(', ')}, which the teacher cache does not hold (it holds ${[...heldKeys].join(', ') || 'the logits only'}); re-run the cache stage for this spec, or disable the cache`,
    );
  }
  return CachedTeacher.open(cacheUri, data, teacher.sha256, held);
}

/** Resolves the layer mapping, the teacher signal (cache or online) and the projection parameters. */
async function setUpDistillation(d: NonNullable<TrainJobArgs['distill']>, teacher: TeacherHandle, student: ModelConfig, data: PreparedDataset, name: string): Promise<DistillSetup> {
  const o = d.options;
  const pairs = o.variant === 'none' ? [] : resolveLayerMap(teacher.layers, student, o.layerMap ?? 'uniform');
  // The relation baseline (MiniLMv2) needs the teacher's Q/K/V of the mapped self-attention
  // layers, which the cache does not hold: it always runs the teacher online, once per step.
  const relationPairs = o.variant === 'relation' ? pairs.filter((p) => p.kind !== 'crossImage' && p.kind !== 'decoderCross') : [];
  const layers = o.variant === 'relation' ? [] : cachedLayersOf(pairs);
  const online = teacher.online;
  if (!(d.cacheUri && o.variant !== 'relation') && !online) {
    throw new Error(
      `${name}: a teacher given as ONNX teaches through the teacher cache only` +
        (o.variant === 'relation' ? ' and the relation baseline needs its Q/K/V (not exported): pick another distill.variant' : ': set cache.enabled to true'),
    );
  }
  const signal: TeacherSignal =
    d.cacheUri && o.variant !== 'relation'
      ? await openCache(d.cacheUri, d.cacheLayers?.(teacher.layers, data) ?? (await layersInCache(d.cacheUri, data)), layers, teacher, data, name)
      : new OnlineTeacher(online!, layers, cachedLayersOf(relationPairs));
  const projections = new Map<string, ProjectionParams>();
  if (o.variant === 'projected') {
    for (const p of pairs) {
      const [Q, K] = attentionMapShape(student, p.kind);
      projections.set(`${p.kind}/${p.studentLayer}`, createProjection(`${name}/${p.kind}/${p.studentLayer}`, Q * K));
    }
  }
  return {
    options: o,
    pairs,
    signal,
    projections: [...projections.values()],
    projectionFor: (p) => projections.get(`${p.kind}/${p.studentLayer}`),
    relationTerms: (t, out) => {
      const R = o.relationHeads ?? student.heads.fusion;
      return relationPairs.map((p) =>
        relationDistillationLoss(t.qkv![attentionFieldName(p.kind, p.teacherLayer)], out.qkv[p.kind]![p.studentLayer], { relationHeads: R, queryMask: out.queryMask[p.kind] ?? null }),
      );
    },
  };
}

