/**
 * An ONNX model that follows contract/onnx-model.ts, run on ONNX Runtime: reads `model.onnx` and
 * its sidecar `model.onnx.json`, feeds a batch the way the sidecar says (image layout and
 * normalisation, integer type of ids and masks, padded lengths) and returns the logits and the
 * requested attention maps as host arrays.
 *
 *     const m = await OnnxModel.open('runs/x/models/teacher/model.onnx');
 *     const out = await m.run(inputs, { attention: [{ kind: 'fusionSelf', layer: 3 }] });
 *     out.logits        // { data: Float32Array, shape: [B, A] }
 *     out.attention['attn.fusionSelf.3']   // [B, H, Q, K]
 */
import { OnnxSidecarSchema, sidecarPathFor, type OnnxSidecar } from '../../contract/onnx-model';
import { parseJson } from '../../contract/parse-json';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import type { AttentionKind } from '../model/types';
import { createOnnxSession, loadOnnxRuntime, OnnxRuntimeError, type OnnxRuntimeStatus, type OnnxSessionHandle, type Ort } from './runtime';

/** A row-major host tensor. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** One batch as the pipeline holds it (trainer/data/batch.ts). */
export interface OnnxBatchInputs {
  /** `[B, S, S, 3]` RGB, normalised with `pixelStats` (mean 0 / std 1 per channel). */
  readonly images: Float32Array;
  /** Per-channel mean and std on the [0, 1] scale that `images` were normalised with. */
  readonly pixelStats: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** `[B, Lt]` encoder ids in the model's vocabulary. */
  readonly text: Int32Array;
  /** Generation only: `[B, Ld']` teacher-forced decoder ids (BOS, tokens…), padded to `decoder.maxLength` here. */
  readonly decoderIds?: Int32Array;
  readonly batch: number;
}

export interface OnnxRunOutputs {
  readonly logits: HostTensor;
  /** By output name (the sidecar's `attention[].output`). */
  readonly attention: Record<string, HostTensor>;
}

/** Thrown when the inputs or the sidecar do not fit the model; names the field and the fix. */
export class OnnxModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxModelError';
  }
}

type Available = Extract<OnnxRuntimeStatus, { available: true }>;

export class OnnxModel {
  private constructor(
    private readonly ort: Ort,
    private readonly rt: Available,
    readonly handle: OnnxSessionHandle,
    readonly sidecar: OnnxSidecar,
    /** Where the model was read from (messages). */
    readonly uri: string,
  ) {}

  /** Intra-op threads of the session. */
  get threads(): number {
    return this.handle.threads;
  }

  /** ONNX Runtime's version. */
  get version(): string {
    return this.handle.ortVersion;
  }

  private split?: Promise<{ encoder: OnnxSessionHandle; decoder: OnnxSessionHandle; decoderWithPast: OnnxSessionHandle | null } | null>;

  /**
   * The generation model's encoder.onnx/decoder.onnx (and decoder-with-past.onnx when listed)
   * sessions (sidecar `split`, paths relative to the sidecar), opened once with this session's
   * thread count; null when the sidecar has none. The encoder runs once per batch on the session
   * worker; the decoders run on this thread: a decoding step is too small to pay for a thread
   * hop (greedy captioning in bench/onnx-runtime.ts ran markedly slower with the decoders on the
   * worker).
   */
  splitSessions(): Promise<{ encoder: OnnxSessionHandle; decoder: OnnxSessionHandle; decoderWithPast: OnnxSessionHandle | null } | null> {
    this.split ??= (async () => {
      const split = this.sidecar.split;
      if (!split) return null;
      const dir = this.uri.slice(0, this.uri.lastIndexOf('/'));
      const open = async (file: string) => {
        const uri = joinUri(dir, file);
        return createOnnxSession(this.rt, await storageFor(uri).get(uri), { threads: this.threads, thread: file === split.encoder ? 'worker' : 'caller' });
      };
      return { encoder: await open(split.encoder), decoder: await open(split.decoder), decoderWithPast: split.decoderWithPast ? await open(split.decoderWithPast) : null };
    })();
    return this.split;
  }

  /** Releases the session (and the encoder/decoder sessions when they were opened). */
  async release(): Promise<void> {
    const split = this.split ? await this.split : null;
    const splitSessions = split ? [split.encoder, split.decoder, ...(split.decoderWithPast ? [split.decoderWithPast] : [])] : [];
    await Promise.all([this.handle, ...splitSessions].map((h) => h.session.release()));
  }

  /** The image and text input tensors per the sidecar (what the full model and encoder.onnx read). */
  encoderFeeds(x: OnnxBatchInputs): Record<string, InstanceType<Ort['Tensor']>> {
    const { decoder: _d, ...rest } = this.sidecar;
    return this.feedsFor(x, { ...rest });
  }

  /** An int tensor of the sidecar's id type. */
  idTensor(values: ArrayLike<number>, dims: number[]): InstanceType<Ort['Tensor']> {
    return this.intTensor(values, dims, this.sidecar.text.idType);
  }

  /** A float32 tensor. */
  floatTensor(values: Float32Array, dims: number[]): InstanceType<Ort['Tensor']> {
    return new this.ort.Tensor('float32', values, dims);
  }

  /**
   * Opens `onnxUri` (any storage URI or path) and its sidecar `<onnxUri>.json`.
   * @throws OnnxRuntimeError when ONNX Runtime is not available; OnnxModelError for a bad sidecar.
   */
  static async open(onnxUri: string, opts: { threads?: number; runtime?: OnnxRuntimeStatus; thread?: 'worker' | 'caller' } = {}): Promise<OnnxModel> {
    const rt = opts.runtime ?? loadOnnxRuntime();
    if (!rt.available) throw new OnnxRuntimeError(`cannot open ${onnxUri}: ONNX Runtime is not available (${rt.reason})`);
    const uri = toUri(onnxUri);
    const sidecar = await readSidecar(sidecarPathFor(uri));
    const bytes = await storageFor(uri).get(uri);
    const handle = await createOnnxSession(rt as Available, bytes, opts);
    return new OnnxModel(rt.ort, rt as Available, handle, sidecar, uri);
  }

  /** The output name of an attention module, from the sidecar. @throws OnnxModelError when the model does not expose it. */
  attentionOutput(kind: AttentionKind, layer: number): string {
    const a = this.sidecar.attention.find((x) => x.kind === kind && x.layer === layer);
    if (!a) {
      const listed = this.sidecar.attention.map((x) => `${x.kind}.${x.layer}`).join(', ');
      throw new OnnxModelError(`${this.uri} exposes no ${kind} attention of layer ${layer} (its sidecar lists ${listed}): re-export it with that layer's attention output`);
    }
    return a.output;
  }

  /** Runs one batch; fetches the logits and the named attention outputs only. */
  async run(inputs: OnnxBatchInputs, want: { attentionOutputs?: readonly string[] } = {}): Promise<OnnxRunOutputs> {
    const feeds = this.feeds(inputs);
    const names = [this.sidecar.logits, ...(want.attentionOutputs ?? [])];
    const out = await this.handle.session.run(feeds, names);
    const host = (name: string): HostTensor => {
      const t = out[name];
      if (!t) throw new OnnxModelError(`${this.uri} returned no output "${name}"`);
      if (t.type !== 'float32') throw new OnnxModelError(`${this.uri} output "${name}" is ${t.type}; the contract needs float32`);
      return { data: t.data as Float32Array, shape: t.dims.map(Number) };
    };
    const attention: Record<string, HostTensor> = {};
    for (const n of want.attentionOutputs ?? []) attention[n] = host(n);
    const logits = host(this.sidecar.logits);
    for (const t of Object.values(feeds)) t.dispose();
    return { logits, attention };
  }

  /** The input tensors per the sidecar. */
  private feeds(x: OnnxBatchInputs): Record<string, InstanceType<Ort['Tensor']>> {
    return this.feedsFor(x, this.sidecar);
  }

  private feedsFor(x: OnnxBatchInputs, sidecar: Pick<OnnxSidecar, 'image' | 'text' | 'decoder'>): Record<string, InstanceType<Ort['Tensor']>> {
    const { image, text, decoder } = sidecar;
    const B = x.batch;
    const S = image.size;
    if (x.images.length !== B * S * S * 3) {
      throw new OnnxModelError(`${this.uri} reads ${S}×${S} images (sidecar image.size); got ${x.images.length} values for ${B} example(s): prepare the data at imageSize ${S}`);
    }
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
    feeds[image.input] = new this.ort.Tensor('float32', imagePixels(x.images, B, S, x.pixelStats, image), image.layout === 'NCHW' ? [B, 3, S, S] : [B, S, S, 3]);
    const Lt = x.text.length / B;
    const ids = padIds(x.text, B, Lt, text.maxLength, text.padId);
    const mask = ids.map((id) => (id === text.padId ? 0 : 1));
    feeds[text.ids] = this.intTensor(ids, [B, text.maxLength], text.idType);
    feeds[text.mask] = this.intTensor(mask, [B, text.maxLength], text.idType);
    if (decoder) {
      if (!x.decoderIds) throw new OnnxModelError(`${this.uri} is a ${this.sidecar.task} model: it needs decoder ids (decoder.ids "${decoder.ids}")`);
      const Ld = x.decoderIds.length / B;
      feeds[decoder.ids] = this.intTensor(padIds(x.decoderIds, B, Ld, decoder.maxLength, decoder.padId), [B, decoder.maxLength], text.idType);
    }
    return feeds;
  }

  private intTensor(values: ArrayLike<number>, dims: number[], type: 'int64' | 'int32') {
    return type === 'int64'
      ? new this.ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims)
      : new this.ort.Tensor('int32', Int32Array.from(values), dims);
  }
}

/** Reads and validates a sidecar; errors name the file and the field. */
export async function readSidecar(uri: string): Promise<OnnxSidecar> {
  let raw: unknown;
  try {
    // parseJson: the error shows the first bytes in hex, never the text (contract/parse-json.ts).
    raw = parseJson(await storageFor(uri).get(uri), uri);
  } catch (e) {
    throw new OnnxModelError(`cannot read the ONNX sidecar ${uri} (${e instanceof Error ? e.message.split('\n')[0] : e}): every model.onnx needs its model.onnx.json beside it (contract/onnx-model.ts)`);
  }
  const parsed = OnnxSidecarSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new OnnxModelError(`${uri} is not a valid ONNX sidecar: ${issues}`);
  }
  return parsed.data;
}

/**
 * `[B, L]` ids padded (or cut) to `[B, target]` with `padId`. Cutting only drops trailing
 * padding in this pipeline (data is tokenised to the model's lengths); real tokens would be lost,
 * so that is refused.
 */
export function padIds(ids: Int32Array, B: number, L: number, target: number, padId: number): Int32Array {
  if (L === target) return ids;
  const out = new Int32Array(B * target).fill(padId);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const v = ids[b * L + i]!;
      if (i < target) out[b * target + i] = v;
      else if (v !== padId) throw new OnnxModelError(`example ${b} has ${L} tokens but the model reads at most ${target} (sidecar maxLength): tokenise to ${target}`);
    }
  }
  return out;
}

/**
 * The pixels the model expects: the batch's NHWC values, re-normalised from the data's pixel
 * statistics to the sidecar's `(rgb/255 − mean)/std` and transposed to NCHW when asked.
 * Same statistics and NHWC (this project's models): the batch array itself, bit for bit.
 */
export function imagePixels(
  nhwc: Float32Array,
  B: number,
  S: number,
  data: { readonly mean: readonly number[]; readonly std: readonly number[] },
  image: OnnxSidecar['image'],
): Float32Array {
  const same = [0, 1, 2].every((c) => data.mean[c] === image.mean[c] && data.std[c] === image.std[c]);
  // x_model = ((x·std_d + mean_d) − mean_m) / std_m = x·scale + shift, per channel.
  const scale = [0, 1, 2].map((c) => data.std[c]! / image.std[c]);
  const shift = [0, 1, 2].map((c) => (data.mean[c]! - image.mean[c]) / image.std[c]);
  if (image.layout === 'NHWC') {
    if (same) return nhwc;
    const out = new Float32Array(nhwc.length);
    for (let i = 0; i < nhwc.length; i++) out[i] = nhwc[i]! * scale[i % 3]! + shift[i % 3]!;
    return out;
  }
  const out = new Float32Array(nhwc.length); // [B, 3, S, S]
  const plane = S * S;
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = nhwc[(b * plane + p) * 3 + c]!;
        out[(b * 3 + c) * plane + p] = same ? v : v * scale[c]! + shift[c]!;
      }
    }
  }
  return out;
}
