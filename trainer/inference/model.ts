/**
 * A trained model as the inference stages use it (teacher cache, evaluation, latency): one
 * interface, two implementations, chosen once per model by `openInferenceModel`:
 *
 *   OnnxInferenceModel   ONNX Runtime on the model's `model.onnx` (+ encoder/decoder.onnx),
 *                        when onnxruntime-node loads and the model folder has the export;
 *   TfjsInferenceModel   the TensorFlow.js model (model.json/model.bin) on the active backend —
 *                        the fallback, and the path where tfjs-node-gpu serves.
 *
 * Both return host arrays in the same layout, so the stages do not know which one ran; the
 * `runtime` field says which, for the report. `info` is the saved model's metadata (config,
 * tokenizer, answers) and weights hash — its identity in caches and evaluation files; only the
 * tfjs implementation builds the tfjs model from model.bin.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import type { Batch } from '../data/batch';
import { attentionFieldName, type CachedLayer } from '../distill';
import { greedyDecodeWith, beamSearchWith, tfjsStepDecoder, type BeamSearchOptions, type Hypothesis, type StepDecoder } from '../eval/decode';
import { teacherOutputs } from '../jobs/teacher-signal';
import { batchTensors, disposeBatchTensors } from '../jobs/task';
import { loadModel, loadModelInfo, type LoadedModel, type ModelInfo } from '../model-io';
import { onnxStepDecoder } from '../onnx/onnx-decoder';
import { OnnxModel, type HostTensor, type OnnxBatchInputs } from '../onnx/onnx-model';
import { loadOnnxRuntime, type OnnxRuntimeStatus } from '../onnx/runtime';
import { activeBackend } from '../backend';
import { attentionBytesPerExample, inferenceBatchSize } from './batch-size';

export type { HostTensor };

/** Which runtime computed a figure: what the evaluation file and the report state. */
export interface RuntimeInfo {
  /** `onnxruntime` or `tfjs-<backend>` (e.g. `tfjs-wasm`). */
  readonly name: string;
  /** ONNX Runtime's version, or the tfjs backend. */
  readonly version: string;
  /** Intra-op threads (ONNX Runtime); 1 for tfjs wasm/cpu under Node; null when not known (tfjs-node's own pool). */
  readonly threads: number | null;
}

/** Human-readable runtime: "onnxruntime 1.31.1, 2 threads" / "tfjs-wasm, 1 thread". */
export function describeRuntime(r: RuntimeInfo): string {
  const threads = r.threads === null ? '' : `, ${r.threads} thread${r.threads === 1 ? '' : 's'}`;
  return r.name === 'onnxruntime' ? `onnxruntime ${r.version}${threads}` : `${r.name}${threads}`;
}

export interface ForwardOutputs {
  /** VQA `[B, A]`; generation `[B, Ld, V]` teacher-forced on the batch's targets. */
  readonly logits: HostTensor;
  /** `[B, H, Q, K]` by cache field name (`attentionFieldName(kind, teacherLayer)`). */
  readonly attention: Record<string, HostTensor>;
}

export interface InferenceModel {
  readonly runtime: RuntimeInfo;
  /** The saved model's metadata and weights hash. */
  readonly info: ModelInfo;
  /** Examples per forward pass that suit this runtime and model (batch-size.ts). */
  readonly batchSize: number;
  /** Logits and the given layers' attention maps of one batch (inference mode). */
  forward(batch: Batch, layers?: readonly CachedLayer[]): Promise<ForwardOutputs>;
  /** The batch encoded, as the decoder the searches drive (generation models; the caller disposes it). */
  stepDecoder(batch: Batch): Promise<StepDecoder>;
  /** Frees the tfjs variables or the ONNX Runtime sessions. */
  dispose(): Promise<void>;
}

/** The tfjs model on the active backend. */
export class TfjsInferenceModel implements InferenceModel {
  readonly runtime: RuntimeInfo;
  readonly batchSize: number;
  constructor(readonly loaded: LoadedModel) {
    const backend = activeBackend();
    this.runtime = { name: `tfjs-${backend}`, version: backend, threads: backend === 'wasm' || backend === 'cpu' ? 1 : null };
    this.batchSize = inferenceBatchSize('tfjs', attentionBytesPerExample(loaded.model.config));
  }

  async forward(batch: Batch, layers: readonly CachedLayer[] = []): Promise<ForwardOutputs> {
    const t = tf.tidy(() => teacherOutputs(this.loaded.model, batch, layers) as unknown as tf.TensorContainer) as unknown as ReturnType<typeof teacherOutputs>;
    // Read outside tidy: tidy walks returned containers element by element (TFJS-NOTES.md).
    const host = (x: tf.Tensor): HostTensor => ({ data: x.dataSync() as Float32Array, shape: x.shape });
    try {
      return { logits: host(t.logits), attention: Object.fromEntries(Object.entries(t.maps).map(([k, m]) => [k, host(m)])) };
    } finally {
      tf.dispose([t.logits, ...Object.values(t.maps)]);
    }
  }

  async stepDecoder(batch: Batch): Promise<StepDecoder> {
    const t = batchTensors(batch, this.loaded.model.config);
    try {
      return tfjsStepDecoder(this.loaded.model, { images: t.inputs.images, text: t.inputs.text });
    } finally {
      disposeBatchTensors(t);
    }
  }

  get info(): ModelInfo {
    return this.loaded;
  }

  async dispose(): Promise<void> {
    this.loaded.model.dispose();
  }
}

/** The model's ONNX export on ONNX Runtime. */
export class OnnxInferenceModel implements InferenceModel {
  readonly runtime: RuntimeInfo;
  readonly batchSize: number;
  constructor(
    readonly info: ModelInfo,
    readonly onnx: OnnxModel,
    /** Pixel statistics the batches were normalised with (the data's). */
    private readonly pixelStats: OnnxBatchInputs['pixelStats'],
  ) {
    this.runtime = { name: 'onnxruntime', version: onnx.version, threads: onnx.threads };
    this.batchSize = inferenceBatchSize('onnxruntime', attentionBytesPerExample(info.metadata.config));
  }

  async forward(batch: Batch, layers: readonly CachedLayer[] = []): Promise<ForwardOutputs> {
    const names = layers.map((l) => [attentionFieldName(l.kind, l.teacherLayer), this.onnx.attentionOutput(l.kind, l.teacherLayer)] as const);
    const out = await this.onnx.run(this.inputs(batch, true), { attentionOutputs: names.map(([, o]) => o) });
    return { logits: out.logits, attention: Object.fromEntries(names.map(([field, o]) => [field, out.attention[o]!])) };
  }

  stepDecoder(batch: Batch): Promise<StepDecoder> {
    return onnxStepDecoder(this.onnx, this.inputs(batch, false));
  }

  dispose(): Promise<void> {
    return this.onnx.release();
  }

  /** The batch as ONNX inputs; generation forward passes read the teacher-forced decoder input target[:, :-1]. */
  private inputs(batch: Batch, withDecoder: boolean): OnnxBatchInputs {
    const B = batch.size;
    let decoderIds: Int32Array | undefined;
    if (withDecoder && this.onnx.sidecar.decoder) {
      if (!batch.target) throw new Error(`${this.onnx.uri}: a ${this.onnx.sidecar.task} forward pass needs decoder targets in the batch`);
      const L1 = batch.target.length / B; // Ld + 1
      decoderIds = new Int32Array(B * (L1 - 1));
      for (let b = 0; b < B; b++) decoderIds.set(batch.target.subarray(b * L1, b * L1 + L1 - 1), b * (L1 - 1));
    }
    return { batch: B, images: batch.images, pixelStats: this.pixelStats, text: batch.text, ...(decoderIds ? { decoderIds } : {}) };
  }
}

/** Greedy (beamSize 1) or beam search of a batch on the model's runtime. */
export async function decodeBatch(model: InferenceModel, batch: Batch, opts: BeamSearchOptions): Promise<Hypothesis[]> {
  const decoder = await model.stepDecoder(batch);
  try {
    return opts.beamSize === 1 ? await greedyDecodeWith(decoder, opts.maxLen) : await beamSearchWith(decoder, opts);
  } finally {
    decoder.dispose();
  }
}

export interface OpenInferenceOptions {
  /** The tfjs model when the caller has it loaded already (it stays the caller's to dispose). @default loaded here when needed */
  readonly loaded?: LoadedModel;
  /** Pixel statistics of the batches (the data's). @default the model's own (metadata.pixelStats) */
  readonly pixelStats?: OnnxBatchInputs['pixelStats'];
  /** `tfjs` forces the TensorFlow.js model (latency of both runtimes, parity tests). @default 'auto' */
  readonly runtime?: 'auto' | 'tfjs' | 'onnxruntime';
  /** Intra-op threads of the ONNX Runtime session. @default AMAD_ORT_THREADS or every CPU but one (onnx/runtime.ts onnxThreads) */
  readonly threads?: number;
  /**
   * Where the ONNX Runtime session runs (onnx/runtime.ts createOnnxSession): 'worker' for the
   * stages' batches, 'caller' to time `session.run` as a serving process calls it (latency).
   * @default 'worker'
   */
  readonly sessionThread?: 'worker' | 'caller';
  /** Where a fallback is reported. @default one JSON line on stderr */
  readonly log?: (line: string) => void;
}

/**
 * The model at `modelUri` on ONNX Runtime when it loads and the folder holds `model.onnx`, else on
 * TensorFlow.js (logged, with the reason). `runtime: 'onnxruntime'` refuses the fallback. Only
 * the TensorFlow.js path reads model.bin; the caller disposes the result (`dispose()`), which
 * leaves a model passed in `opts.loaded` alone.
 */
export async function openInferenceModel(modelUri: string, opts: OpenInferenceOptions = {}): Promise<InferenceModel> {
  const want = opts.runtime ?? 'auto';
  const tfjs = async () => (opts.loaded ? new BorrowedTfjsModel(opts.loaded) : new TfjsInferenceModel(await loadModel(modelUri)));
  if (want === 'tfjs') return tfjs();
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const rt: OnnxRuntimeStatus = loadOnnxRuntime();
  const onnxUri = joinUri(toUri(modelUri), 'model.onnx');
  let why: string | undefined;
  if (!rt.available) why = `ONNX Runtime is not available (${rt.reason})`;
  else if (!(await storageFor(onnxUri).exists(onnxUri))) why = `${modelUri} has no model.onnx (export it with \`amad export ${modelUri}\`)`;
  if (why) {
    if (want === 'onnxruntime') throw new Error(`cannot run ${modelUri} on ONNX Runtime: ${why}`);
    if (process.env.AMAD_QUIET_BACKEND !== '1') log(JSON.stringify({ level: 'warn', msg: 'model runs on TensorFlow.js', model: modelUri, reason: why }));
    return tfjs();
  }
  const info = opts.loaded ?? (await loadModelInfo(modelUri));
  const onnx = await OnnxModel.open(onnxUri, { runtime: rt, ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.sessionThread ? { thread: opts.sessionThread } : {}) });
  return new OnnxInferenceModel(info, onnx, opts.pixelStats ?? info.metadata.pixelStats);
}

/**
 * `openInferenceModel` while `alongside` runs — a stage loading and checking its data shards
 * while ONNX Runtime creates the session on its worker thread. Either failure is thrown; a model
 * opened for a stage that cannot go on is disposed.
 */
export async function openInferenceModelAlongside(modelUri: string, opts: OpenInferenceOptions, alongside: Promise<unknown>): Promise<InferenceModel> {
  const [model, other] = await Promise.allSettled([openInferenceModel(modelUri, opts), alongside]);
  if (other.status === 'rejected') {
    if (model.status === 'fulfilled') await model.value.dispose();
    throw other.reason;
  }
  if (model.status === 'rejected') throw model.reason;
  return model.value;
}

/** A tfjs model the caller loaded and disposes itself. */
class BorrowedTfjsModel extends TfjsInferenceModel {
  override async dispose(): Promise<void> {}
}
