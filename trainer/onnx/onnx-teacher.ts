/**
 * A teacher given as an ONNX model plus its `amad-onnx/1` sidecar (contract/onnx-model.ts): a
 * model this project did not train (PyTorch, …). Loads both, turns a prepared `Batch` into the
 * model's inputs (layout, normalisation, id type, mask) and runs it.
 *
 * The pipeline prepares the run's data with the teacher's tokenizer, image size, text length,
 * normalisation and answer classes (trainer/onnx/teacher-data.ts), so its batches already hold
 * what the teacher reads; `feedsFor` still converts explicitly (re-normalisation, NHWC → NCHW,
 * padding id), so a dataset normalised otherwise is fed correctly too.
 */
import { createHash } from 'node:crypto';
import { OnnxSidecarSchema, type OnnxSidecar } from '../../contract/onnx-model';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { SPECIAL_TOKENS, type Batch } from '../data/batch';
import { loadWordPieceVocab, tokenizerFromJson, type Tokenizer } from '../data/tokenizer';
import type { AttentionKind } from '../model/types';
import { imagePixels } from './onnx-model';
import { openTeacherSession, type OnnxArray, type TeacherSession } from './teacher-session';

/** A teacher the pipeline cannot use as given; the message names the input/output or field and the fix. */
export class OnnxTeacherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxTeacherError';
  }
}

/** Where the spec says the teacher is. */
export interface OnnxTeacherRef {
  readonly onnx: string;
  readonly sidecar: string;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The folder URI holding a file URI. */
function dirOf(uri: string): string {
  return uri.replace(/\/[^/]*$/, '');
}

async function read(uri: string, what: string): Promise<Buffer> {
  try {
    return await storageFor(uri).get(uri);
  } catch (e) {
    throw new OnnxTeacherError(`cannot read the ${what} ${uri}: ${(e as Error).message}; check teacher.${what === 'ONNX model' ? 'onnx' : 'sidecar'} in the spec`);
  }
}

/** Parses a sidecar, naming every bad field. */
export function parseSidecar(text: string, uri: string): OnnxSidecar {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new OnnxTeacherError(`teacher sidecar ${uri} is not JSON (${(e as Error).message})`);
  }
  const r = OnnxSidecarSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new OnnxTeacherError(`teacher sidecar ${uri} is not a valid amad-onnx/1 sidecar (contract/onnx-model.ts, docs/TEACHERS.md):\n${issues.join('\n')}`);
  }
  return r.data;
}

export async function readSidecar(sidecarUri: string): Promise<{ sidecar: OnnxSidecar; bytes: Buffer }> {
  const uri = toUri(sidecarUri);
  const bytes = await read(uri, 'sidecar');
  return { sidecar: parseSidecar(bytes.toString('utf8'), uri), bytes };
}

/** The teacher's tokenizer, from the file the sidecar names (relative to the sidecar). */
export async function readTeacherTokenizer(sidecar: OnnxSidecar, sidecarUri: string): Promise<Tokenizer> {
  const uri = joinUri(dirOf(toUri(sidecarUri)), sidecar.tokenizer.file);
  const text = (await read(uri, 'sidecar')).toString('utf8');
  if (sidecar.tokenizer.kind === 'amad-json') {
    try {
      return tokenizerFromJson(JSON.parse(text), uri);
    } catch (e) {
      throw new OnnxTeacherError(`tokenizer.file ${uri}: ${(e as Error).message}`);
    }
  }
  const tokenizer = loadWordPieceVocab(text, sidecar.tokenizer.lowercase, uri);
  // This project's WordPiece loader puts [PAD] [UNK] [BOS]/[CLS] [EOS]/[SEP] first and drops
  // other special lines, so ids equal the file's line numbers only for a vocab.txt laid out that
  // way. A teacher fed other ids would read nonsense: refuse rather than cache garbage.
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
  const renamed: Record<string, string> = { '[CLS]': '[BOS]', '[SEP]': '[EOS]' };
  const bad = lines.findIndex((l, i) => (renamed[l] ?? l) !== tokenizer.vocab[i]);
  if (bad >= 0 || lines.length !== tokenizer.vocab.length) {
    const i = bad >= 0 ? bad : Math.min(lines.length, tokenizer.vocab.length);
    throw new OnnxTeacherError(
      `tokenizer.file ${uri}: line ${i} ("${lines[i] ?? '(end)'}") would get id ${tokenizer.vocab.indexOf(renamed[lines[i] ?? ''] ?? lines[i] ?? '')} here, not ${i}: ` +
        'this project numbers a WordPiece vocabulary [PAD] [UNK] [CLS] [SEP] first, then the other tokens in file order, without duplicates or other special lines. ' +
        'Re-export the teacher with such a vocabulary, or give the tokenizer as this project\'s tokenizer.json (kind "amad-json")',
    );
  }
  return tokenizer;
}

/** The teacher's declared attention layers per kind (sorted), from the sidecar. */
export function declaredLayers(sidecar: OnnxSidecar): Record<AttentionKind, number[]> {
  const out: Record<AttentionKind, number[]> = { visionSelf: [], fusionSelf: [], crossImage: [], decoderSelf: [], decoderCross: [] };
  for (const a of sidecar.attention) out[a.kind].push(a.layer);
  for (const k of Object.keys(out) as AttentionKind[]) out[k].sort((a, b) => a - b);
  return out;
}

/** The sidecar entry of a declared attention module. */
export function attentionOutput(sidecar: OnnxSidecar, kind: AttentionKind, layer: number): OnnxSidecar['attention'][number] {
  const a = sidecar.attention.find((x) => x.kind === kind && x.layer === layer);
  if (!a) throw new OnnxTeacherError(`the teacher sidecar declares no ${kind} attention output for layer ${layer} (it declares ${sidecar.attention.map((x) => `${x.kind}.${x.layer}`).join(', ')})`);
  return a;
}

/** Pixel statistics a batch was normalised with (manifest.pixelStats). */
export interface PixelStats {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * The model inputs for a batch: pixels re-normalised from the data's statistics to the
 * sidecar's and laid out as it states; ids in its integer type with its padding id; the mask.
 */
export function feedsFor(sidecar: OnnxSidecar, batch: Batch, dataStats: PixelStats): Record<string, OnnxArray> {
  const B = batch.size;
  const S = sidecar.image.size;
  if (batch.images.length !== B * S * S * 3) {
    throw new OnnxTeacherError(`the teacher reads ${S}×${S} images (sidecar image.size) but the data holds ${Math.round(Math.sqrt(batch.images.length / B / 3))}px images: prepare the data at the teacher's image size`);
  }
  const L = sidecar.text.maxLength;
  if (batch.text.length !== B * L) {
    throw new OnnxTeacherError(`the teacher reads ${L} text tokens (sidecar text.maxLength) but the data holds ${batch.text.length / B}: prepare the data with the teacher's text length`);
  }
  const nchw = sidecar.image.layout === 'NCHW';
  const pixels = imagePixels(batch.images, B, S, dataStats, sidecar.image); // re-normalised, laid out as the sidecar says
  const idType = sidecar.text.idType;
  const ids = idType === 'int64' ? new BigInt64Array(B * L) : new Int32Array(B * L);
  const mask = idType === 'int64' ? new BigInt64Array(B * L) : new Int32Array(B * L);
  for (let i = 0; i < B * L; i++) {
    const real = batch.text[i] !== SPECIAL_TOKENS.PAD;
    const id = real ? batch.text[i]! : sidecar.text.padId;
    if (idType === 'int64') {
      (ids as BigInt64Array)[i] = BigInt(id);
      (mask as BigInt64Array)[i] = real ? 1n : 0n;
    } else {
      (ids as Int32Array)[i] = id;
      (mask as Int32Array)[i] = real ? 1 : 0;
    }
  }
  return {
    [sidecar.image.input]: { type: 'float32', data: pixels, dims: nchw ? [B, 3, S, S] : [B, S, S, 3] },
    [sidecar.text.ids]: { type: idType, data: ids, dims: [B, L] },
    [sidecar.text.mask]: { type: idType, data: mask, dims: [B, L] },
  };
}

export interface OnnxTeacherOutputs {
  /** `[B, A]` (VQA). */
  readonly logits: { data: Float32Array; dims: number[] };
  /** `[B, H, Q, K]` per output name. */
  readonly maps: Record<string, { data: Float32Array; dims: number[] }>;
}

/** A loaded ONNX teacher: its sidecar, a runtime session and an identity hash. */
export class OnnxTeacher {
  private constructor(
    readonly ref: OnnxTeacherRef,
    readonly sidecar: OnnxSidecar,
    private readonly session: TeacherSession,
    /** sha256 over the model and the sidecar: what the cache and the evaluation key on. */
    readonly sha256: string,
    readonly modelBytes: number,
  ) {}

  static async load(ref: OnnxTeacherRef): Promise<OnnxTeacher> {
    const onnxUri = toUri(ref.onnx);
    const { sidecar, bytes: sidecarBytes } = await readSidecar(ref.sidecar);
    const model = await read(onnxUri, 'ONNX model');
    let session: TeacherSession;
    try {
      session = await openTeacherSession(model);
    } catch (e) {
      throw new OnnxTeacherError(`ONNX Runtime cannot load the teacher ${onnxUri}: ${(e as Error).message.split('\n')[0]}; check that teacher.onnx is an ONNX model file (opset ≤ what onnxruntime-node supports)`);
    }
    return new OnnxTeacher({ onnx: onnxUri, sidecar: toUri(ref.sidecar) }, sidecar, session, teacherIdentity(model, sidecarBytes), model.length);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** The ONNX Runtime version and threads it runs with. */
  get runtime(): string {
    return this.session.runtime;
  }

  get inputShapes(): Readonly<Record<string, readonly (number | string)[]>> {
    return this.session.inputShapes;
  }

  /** Runs raw feeds; returns the named outputs. */
  runFeeds(feeds: Readonly<Record<string, OnnxArray>>, outputs: readonly string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    return this.session.run(feeds, outputs);
  }

  /** The logits and the named attention outputs for a batch. */
  async run(batch: Batch, dataStats: PixelStats, mapOutputs: readonly string[]): Promise<OnnxTeacherOutputs> {
    const out = await this.session.run(feedsFor(this.sidecar, batch, dataStats), [this.sidecar.logits, ...mapOutputs]);
    const maps: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const name of mapOutputs) maps[name] = out[name]!;
    return { logits: out[this.sidecar.logits]!, maps };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The identity of a teacher: its model bytes and its sidecar (another normalisation is another teacher). */
export function teacherIdentity(model: Uint8Array, sidecar: Uint8Array): string {
  return sha256(`${sha256(model)}:${sha256(sidecar)}`);
}

/** The identity of the teacher a spec names, without starting a runtime session. */
export async function onnxTeacherSha256(ref: OnnxTeacherRef): Promise<string> {
  const [model, sidecar] = await Promise.all([read(toUri(ref.onnx), 'ONNX model'), read(toUri(ref.sidecar), 'sidecar')]);
  return teacherIdentity(model, sidecar);
}
