/**
 * The ONNX export of a trained model of the family (trainer/model/vl-model.ts), built from its
 * config and weights, following the shared contract (contract/onnx-model.ts):
 *
 *   model.onnx    pixel_values [B,S,S,3] f32 (NHWC, normalised with the training pixel stats),
 *                 input_ids + attention_mask [B,L] int64, decoder_input_ids [B,Ld] int64 (generation)
 *                 → logits ([B,A] VQA, [B,Ld,V] generation) + attn.<kind>.<layer> [B,H,Q,K] for
 *                 every attention module.
 *   encoder.onnx  (generation) pixels + text → encoder_hidden_states [B,P+L,width] and
 *                 encoder_attention_mask [B,P+L] (VLModel.encode), and per decoder layer i its
 *                 cross-attention keys/values cross_key.i / cross_value.i [B,Hd,P+L,dh]
 *   decoder.onnx  (generation) decoder_input_ids + the states and mask → logits [B,Ld,V] (VLModel.decodeFrom)
 *   decoder-with-past.onnx  (generation) the same with a self-attention key/value cache
 *                 (past_key.i / past_value.i / past_valid in, present_* out) reading the mask
 *                 and cross_key.i / cross_value.i instead of the states: one token per step
 *
 * Batch and text/decoder lengths are dynamic (lengths up to the config's maxima: the position
 * tables end there). The sidecar (model.onnx.json), the pixel stats, the tokenizer and the
 * model config are also embedded in each file's metadata_props (keys in `METADATA_KEYS`).
 *
 * Masking follows the tfjs model exactly: text validity comes from `attention_mask` (the
 * pipeline feeds ids ≠ PAD, which is what training used), decoder validity from ids ≠ PAD (0).
 */
import { ElemType, OnnxGraph, encodeModel, type Dim } from './graph';
import { LayerEmitter, NO_GRAPH_MASK, type GraphMask, type KeysValues, type Tokens } from './layers';
import { attentionLayerCounts, numPatches, type ModelConfig } from '../model/config';
import type { AttentionKind } from '../model/types';
import { SPECIAL_TOKENS } from '../data/batch';
import {
  ENCODER_MASK_NAME,
  ENCODER_STATES_NAME,
  crossKeyName,
  crossValueName,
  attentionOutputName,
  type OnnxSidecar,
} from '../../contract/onnx-model';
import type { ModelTask } from '../model-io';

/** Opsets the exporter writes: LayerNormalization is a standard-domain op from 17. */
export const MIN_OPSET = 17;
/** The newest opset checked to load and agree in onnxruntime-node 1.31 (test/trainer/onnx/export-model.test.ts). */
export const MAX_OPSET = 23;
export const DEFAULT_OPSET = 17;

/** protobuf messages are limited to 2 GiB; leave room for the graph and metadata. */
const MAX_SINGLE_FILE_BYTES = 2 ** 31 - 64 * 2 ** 20;

/** metadata_props keys of every exported file. */
export const METADATA_KEYS = {
  sidecar: 'amad.sidecar',
  config: 'amad.config',
  pixelStats: 'amad.pixel_stats',
  tokenizer: 'amad.tokenizer',
  provenance: 'amad.provenance',
} as const;

const PRODUCER = 'amad-distill';
const PRODUCER_VERSION = '1';

/** What the exporter needs besides the weights (model-io.ts ModelMetadata, minus format). */
export interface ExportMetadata {
  readonly task: ModelTask;
  readonly tokenizer: unknown;
  readonly answers: readonly string[];
  /** VQA: the surface form of each class (model-io.ts ModelMetadata.answerForms), when the model has them. */
  readonly answerForms?: readonly string[];
  readonly pixelStats: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly provenance?: Record<string, unknown>;
}

/** Weights by model-relative name (`VLModel.namedWeights()`), float32 row-major. */
export type WeightMap = ReadonlyMap<string, { readonly data: Float32Array; readonly shape: readonly number[] }>;

export interface ExportOptions {
  /** @default DEFAULT_OPSET */
  readonly opset?: number;
  /** Sidecar-relative file names written beside the model. */
  readonly files?: { readonly tokenizer: string; readonly encoder?: string; readonly decoder?: string; readonly decoderWithPast?: string };
}

export interface OnnxExport {
  readonly model: Uint8Array;
  readonly sidecar: OnnxSidecar;
  /** Generation models only. */
  readonly encoder?: Uint8Array;
  readonly decoder?: Uint8Array;
  readonly decoderWithPast?: Uint8Array;
}

/** Thrown for an opset outside the supported range or a model the contract cannot describe. */
export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

export function checkOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OnnxExportError(`opset ${opset} is not supported: choose an integer in ${MIN_OPSET}..${MAX_OPSET} (LayerNormalization needs ≥ 17)`);
  }
  return opset;
}

/** Appended to each file's doc_string. */
const EXPORT_VERSION_NOTE = 'exported by amad-distill trainer/onnx/export-model.ts';

/** Builds model.onnx (and for generation encoder.onnx, decoder.onnx, decoder-with-past.onnx) plus the sidecar. @throws OnnxExportError */
export function buildOnnxExport(config: ModelConfig, weights: WeightMap, meta: ExportMetadata, opts: ExportOptions = {}): OnnxExport {
  const opset = checkOpset(opts.opset ?? DEFAULT_OPSET);
  const generation = meta.task !== 'vqa';
  if (generation && config.decoderLayers === 0) throw new OnnxExportError(`a ${meta.task} model needs a decoder, but config.decoderLayers is 0`);
  if (!generation && config.numAnswers === 0) throw new OnnxExportError('a VQA model needs an answer head, but config.numAnswers is 0');
  if (!generation && meta.answers.length !== config.numAnswers) {
    throw new OnnxExportError(`the model has ${config.numAnswers} answer classes but its metadata lists ${meta.answers.length} answers`);
  }
  let weightBytes = 0;
  for (const w of weights.values()) weightBytes += w.data.byteLength;
  if (weightBytes > MAX_SINGLE_FILE_BYTES) {
    throw new OnnxExportError(
      `the weights take ${weightBytes} bytes, more than a single-file ONNX model can hold (protobuf's 2 GB): this exporter writes no external-data files; export a smaller model`,
    );
  }
  const files = opts.files ?? {
    tokenizer: 'tokenizer.json',
    ...(generation ? { encoder: 'encoder.onnx', decoder: 'decoder.onnx', decoderWithPast: 'decoder-with-past.onnx' } : {}),
  };
  const sidecar = sidecarFor(config, meta, files);
  const metadata: Record<string, string> = {
    [METADATA_KEYS.sidecar]: JSON.stringify(sidecar),
    [METADATA_KEYS.config]: JSON.stringify(config),
    [METADATA_KEYS.pixelStats]: JSON.stringify(meta.pixelStats),
    [METADATA_KEYS.tokenizer]: JSON.stringify(meta.tokenizer),
    [METADATA_KEYS.provenance]: JSON.stringify(meta.provenance ?? {}),
  };
  const finish = (builder: FamilyGraph, doc: string) =>
    encodeModel(builder.g.toModel({ opset, producer: PRODUCER, producerVersion: PRODUCER_VERSION, docString: `${doc} (${EXPORT_VERSION_NOTE})`, metadata }));

  const graphs = { task: meta.task, config, weights };
  const out: OnnxExport = { model: finish(fullModelGraph(graphs, sidecar.logits), `${meta.task} model`), sidecar };
  if (!generation) return out;
  return {
    ...out,
    encoder: finish(encoderGraph(graphs), `${meta.task} encoder`),
    decoder: finish(decoderGraph(graphs, sidecar.logits), `${meta.task} decoder`),
    decoderWithPast: finish(decoderWithPastGraph(graphs, sidecar.logits), `${meta.task} decoder with key/value cache`),
  };
}

interface GraphSource {
  readonly task: ModelTask;
  readonly config: ModelConfig;
  readonly weights: WeightMap;
}

/** model.onnx: inputs → logits + every attention map. */
function fullModelGraph({ task, config, weights }: GraphSource, logitsName: string): FamilyGraph {
  const generation = task !== 'vqa';
  const full = new FamilyGraph(`amad_${task}`, config, weights);
  const enc = full.encoderFromInputs(true);
  if (generation) {
    const logits = full.decoder(full.decoderIdsInput(), enc.states, enc.valid, true);
    full.g.output(logits, logitsName, ElemType.FLOAT, ['batch', 'decoder_length', config.vocabSize]);
  } else {
    full.g.output(full.answerHead(enc.states, enc.valid), logitsName, ElemType.FLOAT, ['batch', config.numAnswers]);
  }
  full.declareAttentionOutputs(generation);
  return full;
}

/**
 * encoder.onnx: image + text → encoder states and key validity (VLModel.encode), and each decoder
 * layer's cross-attention keys/values of those states, which every decoding step would
 * otherwise project again (decoder-with-past.onnx reads them).
 */
function encoderGraph({ task, config, weights }: GraphSource): FamilyGraph {
  const graph = new FamilyGraph(`amad_${task}_encoder`, config, weights);
  const e = graph.encoderFromInputs(false);
  graph.g.output(graph.layers.unflatten(e.states, config.width), ENCODER_STATES_NAME, ElemType.FLOAT, ['batch', 'encoder_length', config.width]); // encoder_length = P + text_length
  graph.g.output(e.valid, ENCODER_MASK_NAME, ElemType.FLOAT, ['batch', 'encoder_length']);
  graph.crossKeysValues(e.states).forEach((kv, i) => {
    graph.g.output(kv.key, crossKeyName(i), ElemType.FLOAT, crossCacheDims(config));
    graph.g.output(kv.value, crossValueName(i), ElemType.FLOAT, crossCacheDims(config));
  });
  return graph;
}

/** `[B, Hd, encoder_length, dh]`: a decoder layer's cross-attention keys or values. */
function crossCacheDims(config: ModelConfig): Dim[] {
  return ['batch', config.heads.decoder, 'encoder_length', config.width / config.heads.decoder];
}

/** The decoder graphs' encoder inputs (encoder.onnx's outputs), the states as rows. */
function encoderInputs(graph: FamilyGraph, config: ModelConfig): { states: Tokens; valid: string } {
  const states = graph.g.input(ENCODER_STATES_NAME, ElemType.FLOAT, ['batch', 'encoder_length', config.width]);
  return {
    states: { x: graph.layers.flatten(states, config.width), batch: graph.dim(states, 0), length: graph.dim(states, 1) },
    valid: graph.g.input(ENCODER_MASK_NAME, ElemType.FLOAT, ['batch', 'encoder_length']),
  };
}

/** decoder.onnx: decoder ids + encoder outputs → logits (VLModel.decodeFrom). */
function decoderGraph({ task, config, weights }: GraphSource, logitsName: string): FamilyGraph {
  const graph = new FamilyGraph(`amad_${task}_decoder`, config, weights);
  const ids = graph.decoderIdsInput();
  const enc = encoderInputs(graph, config);
  graph.g.output(graph.decoder(ids, enc.states, enc.valid, false), logitsName, ElemType.FLOAT, ['batch', 'decoder_length', config.vocabSize]);
  return graph;
}

/**
 * decoder-with-past.onnx: decoder.onnx with a self-attention key/value cache, reading the
 * cross-attention keys/values encoder.onnx computed instead of the encoder states.
 */
function decoderWithPastGraph({ task, config, weights }: GraphSource, logitsName: string): FamilyGraph {
  const graph = new FamilyGraph(`amad_${task}_decoder_with_past`, config, weights);
  const ids = graph.decoderIdsInput();
  const valid = graph.g.input(ENCODER_MASK_NAME, ElemType.FLOAT, ['batch', 'encoder_length']);
  const cross = Array.from({ length: config.decoderLayers }, (_, i) => ({
    key: graph.g.input(crossKeyName(i), ElemType.FLOAT, crossCacheDims(config)),
    value: graph.g.input(crossValueName(i), ElemType.FLOAT, crossCacheDims(config)),
  }));
  const step = graph.decoderWithPast(ids, cross, valid);
  graph.g.output(step.logits, logitsName, ElemType.FLOAT, ['batch', 'decoder_length', config.vocabSize]);
  const cacheDims: Dim[] = ['batch', config.heads.decoder, 'present_length', config.width / config.heads.decoder];
  step.present.forEach((p, i) => {
    graph.g.output(p.key, `present_key.${i}`, ElemType.FLOAT, cacheDims);
    graph.g.output(p.value, `present_value.${i}`, ElemType.FLOAT, cacheDims);
  });
  graph.g.output(step.presentValid, 'present_valid', ElemType.FLOAT, ['batch', 'present_length']);
  return graph;
}

/** The sidecar describing model.onnx (contract/onnx-model.ts). */
export function sidecarFor(config: ModelConfig, meta: ExportMetadata, files: NonNullable<ExportOptions['files']>): OnnxSidecar {
  const generation = meta.task !== 'vqa';
  const counts = attentionLayerCounts(config);
  const kinds: AttentionKind[] = ['visionSelf', 'fusionSelf', 'crossImage', ...(generation ? (['decoderSelf', 'decoderCross'] as const) : [])];
  const tok = meta.tokenizer as { lowercase?: unknown };
  const [m, s] = [meta.pixelStats.mean, meta.pixelStats.std];
  return {
    format: 'amad-onnx/1',
    task: meta.task,
    image: { input: 'pixel_values', layout: 'NHWC', size: config.imageSize, mean: [m[0], m[1], m[2]], std: [s[0], s[1], s[2]] },
    text: { ids: 'input_ids', mask: 'attention_mask', idType: 'int64', maxLength: config.maxTextLength, padId: SPECIAL_TOKENS.PAD },
    ...(generation ? { decoder: { ids: 'decoder_input_ids', maxLength: config.maxTargetLength, bosId: SPECIAL_TOKENS.BOS, eosId: SPECIAL_TOKENS.EOS, padId: SPECIAL_TOKENS.PAD } } : {}),
    logits: 'logits',
    attention: kinds.flatMap((kind) =>
      Array.from({ length: counts[kind] }, (_, layer) => ({ output: attentionOutputName(kind, layer), kind, layer, heads: headsOf(config, kind) })),
    ),
    tokenizer: { file: files.tokenizer, kind: 'amad-json', lowercase: typeof tok?.lowercase === 'boolean' ? tok.lowercase : true },
    ...(generation ? {} : { answers: [...meta.answers] }),
    ...(!generation && meta.answerForms ? { answerForms: [...meta.answerForms] } : {}),
    ...(generation && files.encoder && files.decoder
      ? { split: { encoder: files.encoder, decoder: files.decoder, ...(files.decoderWithPast ? { decoderWithPast: files.decoderWithPast } : {}), states: ENCODER_STATES_NAME, mask: ENCODER_MASK_NAME } }
      : {}),
  };
}

function headsOf(c: ModelConfig, kind: AttentionKind): number {
  return kind === 'visionSelf' ? c.heads.vision : kind === 'decoderSelf' || kind === 'decoderCross' ? c.heads.decoder : c.heads.fusion;
}

interface AttentionRecord {
  readonly kind: AttentionKind;
  readonly layer: number;
  readonly probs: string;
  readonly heads: number;
  readonly dims: readonly [Dim, Dim];
}

/**
 * One graph of the family: inputs, embeddings, blocks, heads; records the attention maps it
 * builds. Token states flow as 2-D rows (`Tokens`, layers.ts explains why); `[B, T, width]`
 * appears only where positions are added and sequences are concatenated.
 */
class FamilyGraph {
  readonly g: OnnxGraph;
  readonly layers: LayerEmitter;
  private readonly added = new Map<string, string>();
  private readonly maps: AttentionRecord[] = [];

  constructor(
    name: string,
    private readonly c: ModelConfig,
    private readonly weights: WeightMap,
  ) {
    this.g = new OnnxGraph(name);
    this.layers = new LayerEmitter(this.g, { weight: (n) => this.weight(n), values: (n) => this.values(n), derived: (n, make) => this.derived(n, make) });
  }

  private values(name: string): { data: Float32Array; shape: readonly number[] } {
    const w = this.weights.get(name);
    if (!w) throw new OnnxExportError(`the weights have no "${name}": they do not belong to this model config`);
    return w;
  }

  /** A trained weight as an initializer named like the model's variable (added once: the token table is shared). */
  private weight(name: string): string {
    const known = this.added.get(name);
    if (known) return known;
    const w = this.values(name);
    this.added.set(name, this.g.floatInit(name, w.data, w.shape));
    return name;
  }

  /** An initializer derived from trained weights (rearranged or scaled), added once. */
  private derived(name: string, make: () => { data: Float32Array; dims: number[] }): string {
    const known = this.added.get(name);
    if (known) return known;
    const { data, dims } = make();
    this.added.set(name, this.g.floatInit(name, data, dims));
    return name;
  }

  /** Row `index` of a `[rows, width]` weight, as `[width]` (modality embeddings). */
  private row(name: string, index: number): string {
    return this.g.op('Gather', [this.weight(name), this.g.int64([index], [])], { axis: 0 });
  }

  /** The first `length` rows of a position table (`length`: int64 `[1]`). */
  private positions(name: string, length: string): string {
    return this.g.op('Slice', [this.weight(name), this.g.int64([0]), length, this.g.int64([0])]);
  }

  /** int64 `[1]` holding dimension `axis` of `value`. */
  dim(value: string, axis: number): string {
    return this.g.op('Shape', [value], { start: axis, end: axis + 1 });
  }

  private record(kind: AttentionKind, layer: number, probs: string, heads: number, dims: readonly [Dim, Dim], keep: boolean): void {
    if (keep) this.maps.push({ kind, layer, probs, heads, dims });
  }

  /** Every recorded attention map as an `attn.<kind>.<layer>` output, in sidecar order. */
  declareAttentionOutputs(generation: boolean): void {
    const order: AttentionKind[] = ['visionSelf', 'fusionSelf', 'crossImage', 'decoderSelf', 'decoderCross'];
    const sorted = [...this.maps].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.layer - b.layer);
    for (const m of sorted) {
      if (!generation && (m.kind === 'decoderSelf' || m.kind === 'decoderCross')) continue;
      this.g.output(m.probs, attentionOutputName(m.kind, m.layer), ElemType.FLOAT, ['batch', m.heads, ...m.dims]);
    }
  }

  /**
   * The patch embedding (VLModel.embedImages' linear) as one Gemm on rows `[B·P, width]`.
   * Pixels `[B, S, S, 3]` are `[B·gy, py, gx·px·3]`; one fast transpose of the last two axes
   * gives `[B·gy, gx·px·3, py]`, i.e. rows (b, gy, gx) whose features are ordered (px, c, py)
   * instead of the model's (py, px, c): the weight's rows are permuted to match at export,
   * where the direct route (`[B, gy, gx, py, px·3]`) costs a slow block transpose per run.
   */
  private patchRows(pixels: string): string {
    const c = this.c;
    const g = this.g;
    const ps = c.patchSize;
    const grid = c.imageSize / ps;
    const features = ps * ps * 3;
    const byRow = g.op('Reshape', [pixels, g.int64([-1, ps, grid * ps * 3])]); // [B·gy, py, gx·px·3]
    const patches = g.op('Reshape', [g.op('Transpose', [byRow], { perm: [0, 2, 1] }), g.int64([-1, features])]); // [B·P, px·3·py]
    const w = this.values('embedding/patch/w');
    const wName = this.derived('embedding/patch/w/px_c_py_rows', () => {
      const [rows, width] = w.shape as [number, number];
      const out = new Float32Array(rows * width);
      for (let py = 0; py < ps; py++)
        for (let px = 0; px < ps; px++)
          for (let ch = 0; ch < 3; ch++) out.set(w.data.subarray(((py * ps + px) * 3 + ch) * width, ((py * ps + px) * 3 + ch + 1) * width), ((px * 3 + ch) * ps + py) * width);
      return { data: out, dims: [rows, width] };
    });
    return g.op('Gemm', [patches, wName, this.weight('embedding/patch/b')]); // [B·P, width]
  }

  /**
   * Inputs → encoder states as rows `[B·(P+L), width]` and key validity `[B, P+L]`
   * (VLModel.encoderPass).
   * @param recordMaps keep the attention probabilities for outputs
   */
  encoderFromInputs(recordMaps: boolean): { states: Tokens; valid: string } {
    const c = this.c;
    const g = this.g;
    const L = this.layers;
    const P = numPatches(c);
    const pixels = g.input('pixel_values', ElemType.FLOAT, ['batch', c.imageSize, c.imageSize, 3]);
    const ids = g.input('input_ids', ElemType.INT64, ['batch', 'text_length']);
    const mask = g.input('attention_mask', ElemType.INT64, ['batch', 'text_length']);
    const batch = this.dim(pixels, 0);
    const textLen = this.dim(ids, 1);

    // --- embeddings (VLModel.embedImages / embedText) -----------------------------------------
    const imageExtra = g.op('Add', [this.weight('embedding/imagePositions'), this.row('embedding/modality', 0)]); // [P, width]
    const image = g.op('Add', [L.unflatten({ x: this.patchRows(pixels), batch, length: P }, c.width), imageExtra]); // [B, P, width]
    const textExtra = g.op('Add', [this.positions('embedding/textPositions', textLen), this.row('embedding/modality', 1)]); // [L, width]
    const text = g.op('Add', [g.op('Gather', [this.weight('embedding/token'), ids], { axis: 0 }), textExtra]); // [B, L, width]
    const textValid = g.op('Cast', [mask], { to: ElemType.FLOAT }); // [B, L]
    const imageValid = g.op('Expand', [g.float32(new Array(P).fill(1), [1, P]), g.op('Concat', [batch, g.int64([P])], { axis: 0 })]); // [B, P] ones
    const encoderValid = g.op('Concat', [imageValid, textValid], { axis: 1 }); // [B, P+L]
    const encoderLen = g.op('Add', [g.int64([P]), textLen]); // P + L

    // --- vision blocks ------------------------------------------------------------------------
    let imageStates: Tokens = { x: L.flatten(image, c.width), batch, length: P };
    for (let i = 0; i < c.visionLayers; i++) {
      imageStates = this.encoderBlock(`vision/${i}`, imageStates, c.heads.vision, NO_GRAPH_MASK, (probs) => this.record('visionSelf', i, probs, c.heads.vision, [P, P], recordMaps));
    }

    // --- fusion ---------------------------------------------------------------------------------
    if (c.fusion === 'single-stream') {
      const joint = g.op('Concat', [L.unflatten(imageStates, c.width), text], { axis: 1 }); // [B, P+L, width]
      let x: Tokens = { x: L.flatten(joint, c.width), batch, length: encoderLen };
      const fusionMask = L.paddingMask(encoderValid, false); // image keys always valid: no empty row
      for (let i = 0; i < c.fusionLayers; i++) {
        x = this.encoderBlock(`fusion/${i}`, x, c.heads.fusion, fusionMask, (probs) => this.record('fusionSelf', i, probs, c.heads.fusion, ['encoder_length', 'encoder_length'], recordMaps));
      }
      return { states: { ...x, x: L.layerNorm(x.x, 'encoder/norm') }, valid: encoderValid };
    }
    const memory: Tokens = { ...imageStates, x: L.layerNorm(imageStates.x, 'vision/norm') }; // [B·P, width]
    const selfMask = L.paddingMask(textValid, true); // an all-padding text has no valid key
    let x: Tokens = { x: L.flatten(text, c.width), batch, length: textLen };
    for (let i = 0; i < c.fusionLayers; i++) {
      x = this.crossBlock(`fusion/${i}`, x, memory, c.heads.fusion, selfMask, NO_GRAPH_MASK, undefined, (self, cross) => {
        this.record('fusionSelf', i, self, c.heads.fusion, ['text_length', 'text_length'], recordMaps);
        this.record('crossImage', i, cross, c.heads.fusion, ['text_length', P], recordMaps);
      }).out;
    }
    const textOut: Tokens = { ...x, x: L.layerNorm(x.x, 'encoder/norm') };
    const states = g.op('Concat', [L.unflatten(memory, c.width), L.unflatten(textOut, c.width)], { axis: 1 }); // [B, P+L, width]
    return { states: { x: L.flatten(states, c.width), batch, length: encoderLen }, valid: encoderValid };
  }

  decoderIdsInput(): string {
    return this.g.input('decoder_input_ids', ElemType.INT64, ['batch', 'decoder_length']);
  }

  /** Decoder blocks → LM logits `[B, Ld, vocab]` (VLModel.decoderPass). */
  decoder(ids: string, memory: Tokens, encoderValid: string, recordMaps: boolean): string {
    const c = this.c;
    const len = this.dim(ids, 1);
    const targetValid = this.tokenValid(ids); // [B, Ld]
    const selfMask: GraphMask = {
      bias: this.g.op('Add', [this.layers.causalBias(c.maxTargetLength, this.g.int64([0]), len), this.layers.keyPaddingBias(targetValid)]),
      keyKeep: this.layers.keyKeep(targetValid),
    };
    return this.decoderStack(ids, this.positions('decoder/positions', len), memory, encoderValid, selfMask, undefined, recordMaps).logits;
  }

  /**
   * The decoder with a key/value cache: N new tokens `[B, N]` after P cached positions give
   * logits `[B, N, vocab]` and the cache grown to P+N. Per decoder layer i the cache is
   * `past_key.i` / `past_value.i` `[B, H, P, dh]` (self-attention keys/values after projection)
   * and, shared by all layers, `past_valid` `[B, P]` (1 = a real token, 0 = PAD), which the
   * full decoder derives from the ids; outputs `present_*` are the same with P+N positions.
   * The first step feeds P = 0 (empty tensors). The cross-attention reads `cross`, each layer's
   * keys/values of the encoder states (`crossKeysValues`, computed once per encoded batch).
   */
  decoderWithPast(ids: string, cross: readonly KeysValues[], encoderValid: string): { logits: string; present: KeysValues[]; presentValid: string } {
    const c = this.c;
    const g = this.g;
    const L = this.layers;
    const dh = c.width / c.heads.decoder;
    const past = Array.from({ length: c.decoderLayers }, (_, i) => ({
      key: g.input(`past_key.${i}`, ElemType.FLOAT, ['batch', c.heads.decoder, 'past_length', dh]),
      value: g.input(`past_value.${i}`, ElemType.FLOAT, ['batch', c.heads.decoder, 'past_length', dh]),
    }));
    const pastValid = g.input('past_valid', ElemType.FLOAT, ['batch', 'past_length']);
    const start = this.dim(pastValid, 1); // P
    const end = g.op('Add', [start, this.dim(ids, 1)]); // P + N
    const positions = g.op('Slice', [this.weight('decoder/positions'), start, end, g.int64([0])]); // [N, width]
    const allValid = g.op('Concat', [pastValid, this.tokenValid(ids)], { axis: 1 }); // [B, P+N]
    const selfMask: GraphMask = { bias: g.op('Add', [L.causalBias(c.maxTargetLength, start, end), L.keyPaddingBias(allValid)]), keyKeep: L.keyKeep(allValid) };
    const out = this.decoderStack(ids, positions, cross, encoderValid, selfMask, past, false);
    return { logits: out.logits, present: out.present, presentValid: allValid };
  }

  /** Each decoder layer's cross-attention keys/values of the encoder states `memory` (blocks.ts crossBlock's K/V projections). */
  crossKeysValues(memory: Tokens): KeysValues[] {
    const c = this.c;
    return Array.from({ length: c.decoderLayers }, (_, i) => this.layers.keysValues(`decoder/${i}/crossAttention`, memory, c.heads.decoder, c.width));
  }

  /** 1 for real tokens, 0 for PAD: int64 ids `[B, T]` → float32 `[B, T]` (masks.ts tokenValidity). */
  private tokenValid(ids: string): string {
    const g = this.g;
    return g.op('Cast', [g.op('Not', [g.op('Equal', [ids, g.int64([SPECIAL_TOKENS.PAD], [])])])], { to: ElemType.FLOAT });
  }

  /** @param memory the encoder states, or each layer's cross-attention keys/values of them (`crossKeysValues`) */
  private decoderStack(
    ids: string,
    positions: string,
    memory: Tokens | readonly KeysValues[],
    encoderValid: string,
    selfMask: GraphMask,
    past: KeysValues[] | undefined,
    recordMaps: boolean,
  ): { logits: string; present: KeysValues[] } {
    const c = this.c;
    const g = this.g;
    const L = this.layers;
    const embedded = g.op('Add', [g.op('Gather', [this.weight('embedding/token'), ids], { axis: 0 }), positions]); // [B, Ld, width]
    let y: Tokens = { x: L.flatten(embedded, c.width), batch: this.dim(ids, 0), length: this.dim(ids, 1) };
    const memoryMask = L.paddingMask(encoderValid, false);
    const present: KeysValues[] = [];
    for (let i = 0; i < c.decoderLayers; i++) {
      const block = this.crossBlock(`decoder/${i}`, y, Array.isArray(memory) ? memory[i]! : (memory as Tokens), c.heads.decoder, selfMask, memoryMask, past?.[i], (self, cross) => {
        this.record('decoderSelf', i, self, c.heads.decoder, ['decoder_length', 'decoder_length'], recordMaps);
        this.record('decoderCross', i, cross, c.heads.decoder, ['decoder_length', 'encoder_length'], recordMaps);
      });
      y = block.out;
      if (block.present) present.push(block.present);
    }
    const logits = L.linear(L.layerNorm(y.x, 'decoder/norm'), 'decoder/lmHead'); // [B·Ld, vocab]
    return { logits: L.unflatten({ ...y, x: logits }, c.vocabSize), present };
  }

  /** VQA head: linear on the mean of the encoder output over valid positions → `[B, A]`. */
  answerHead(states: Tokens, valid: string): string {
    const g = this.g;
    const weights = g.op('Div', [valid, g.op('ReduceSum', [valid, g.int64([1])], { keepdims: 1 })]); // [B, T]
    const pooled = g.op('MatMul', [g.op('Unsqueeze', [weights, g.int64([1])]), this.layers.unflatten(states, this.c.width)]); // [B, 1, width]
    return this.layers.linear(g.op('Squeeze', [pooled, g.int64([1])]), 'head/answer');
  }

  /** blocks.ts encoderBlock: x + Attn(LN(x)); + MLP(LN(·)), on rows. */
  private encoderBlock(prefix: string, x: Tokens, heads: number, mask: GraphMask, onMaps: (probs: string) => void): Tokens {
    const L = this.layers;
    const g = this.g;
    const h: Tokens = { ...x, x: L.layerNorm(x.x, `${prefix}/attentionNorm`) };
    const a = L.attention(`${prefix}/attention`, h, h, heads, this.c.width, mask);
    onMaps(a.probs);
    const x1 = g.op('Add', [x.x, a.out]);
    return { ...x, x: g.op('Add', [x1, L.mlp(L.layerNorm(x1, `${prefix}/mlpNorm`), `${prefix}/mlp`)]) };
  }

  /**
   * blocks.ts crossBlock: x + SelfAttn(LN(x)); + CrossAttn(LN(·), memory); + MLP(LN(·)), on rows.
   * @param past this block's self-attention key/value cache (decoder with past only)
   */
  private crossBlock(
    prefix: string,
    x: Tokens,
    memory: Tokens | KeysValues,
    heads: number,
    selfMask: GraphMask,
    memoryMask: GraphMask,
    past: KeysValues | undefined,
    onMaps: (self: string, cross: string) => void,
  ): { out: Tokens; present?: KeysValues } {
    const L = this.layers;
    const g = this.g;
    const h: Tokens = { ...x, x: L.layerNorm(x.x, `${prefix}/selfNorm`) };
    const s = L.attention(`${prefix}/selfAttention`, h, h, heads, this.c.width, selfMask, past);
    const x1 = g.op('Add', [x.x, s.out]);
    const cr = L.attention(`${prefix}/crossAttention`, { ...x, x: L.layerNorm(x1, `${prefix}/crossNorm`) }, memory, heads, this.c.width, memoryMask);
    onMaps(s.probs, cr.probs);
    const x2 = g.op('Add', [x1, cr.out]);
    return { out: { ...x, x: g.op('Add', [x2, L.mlp(L.layerNorm(x2, `${prefix}/mlpNorm`), `${prefix}/mlp`)]) }, present: s.present };
  }
}
