/**
 * The vision-language model family (teacher and student alike), config-driven.
 *
 * Data flow (all activations 2-D `[T·B, width]` between blocks, rows time-major: row t·B + b,
 * which lets the attention core read projections and write its output without transposes):
 *   images → patches `[P·B, p·p·3]` → linear → + image positions + image modality
 *   text   → token embedding       → + text positions  + text modality
 *   single-stream: visionLayers blocks over patches, then fusionLayers blocks over [patches ; tokens]
 *                  (text padding mask on keys), final LN → encoder output `[B, P+Lt, width]`
 *   two-stream:    visionLayers ViT blocks over patches → vision LN (the image memory);
 *                  fusionLayers text blocks: text self-attention (padding mask) + text→image
 *                  cross-attention + MLP → text LN; encoder output = [image memory ; text]
 *   decoder (decoderLayers > 0): causal self-attention (+ target padding) + cross-attention to
 *                  the encoder output (text padding on keys) + MLP → LN → LM head
 *   VQA head (numAnswers > 0): linear on the encoder output mean-pooled over valid positions.
 *
 * Pooling choice: the mean over every non-padding position of the encoder output (all patches
 * and the real text tokens). The family has no [CLS] token, the mean uses every position's
 * evidence, and it is identical for both fusion styles.
 */
import * as tf from '@tensorflow/tfjs';
import { parseModelConfig, numPatches, type ModelConfig, type ModelConfigInput } from './config';
import { ParamStore, type LayerNormParams, type LinearParams } from './params';
import {
  createCrossBlock,
  createEncoderBlock,
  crossBlock,
  encoderBlock,
  norm,
  type CrossBlockParams,
  type EncoderBlockParams,
} from './blocks';
import { ForwardContext } from './forward-context';
import { NO_MASK, causalPaddingMask, paddingMask, tokenValidity } from './masks';
import { embeddingLookup } from '../ops/embedding';
import { linear, mixRows } from '../ops/linear';
import { installZeroCopyIdentity } from '../ops/wasm-kernels';
import { ModelInputError, type EncodedBatch, type ForwardOptions, type ModelInputs, type ModelOutputs } from './types';

/** Index of each modality in the modality-embedding table. */
const IMAGE_MODALITY = 0;
const TEXT_MODALITY = 1;


/** The encoder output inside the model: `[(P+Lt)·B, width]` time-major rows, key validity `[B, P+Lt]`, and P+Lt. */
interface TimeMajorEncoding {
  readonly states: tf.Tensor2D;
  readonly valid: tf.Tensor2D;
  readonly length: number;
}

interface DecoderParams {
  readonly positions: tf.Variable<tf.Rank.R2>; // [maxTargetLength, width]
  readonly blocks: CrossBlockParams[];
  readonly finalNorm: LayerNormParams;
  readonly lmHead: LinearParams; // [width, vocab]
}

interface ModelParams {
  readonly patchEmbedding: LinearParams; // [p·p·3, width]
  readonly tokenEmbedding: tf.Variable<tf.Rank.R2>; // [vocab, width], shared by encoder text and decoder
  readonly imagePositions: tf.Variable<tf.Rank.R2>; // [P, width]
  readonly textPositions: tf.Variable<tf.Rank.R2>; // [maxTextLength, width]
  readonly modality: tf.Variable<tf.Rank.R2>; // [2, width]
  readonly visionBlocks: EncoderBlockParams[];
  /** two-stream: LN closing the ViT (its output is the image memory). */
  readonly visionNorm?: LayerNormParams;
  readonly fusionBlocks: EncoderBlockParams[];
  readonly textBlocks: CrossBlockParams[];
  readonly encoderNorm: LayerNormParams;
  readonly decoder?: DecoderParams;
  readonly answerHead?: LinearParams; // [width, numAnswers]
}

/** Names of models alive in this process: tf variable names are global. */
const liveNames = new Set<string>();
let anonymousModels = 0;

export class VLModel {
  readonly config: ModelConfig;
  readonly trainableWeights: tf.Variable[];
  readonly name: string;
  private readonly store: ParamStore;
  private readonly params: ModelParams;
  private disposed = false;

  /**
   * @param config validated or input-form config; validated again here.
   * @param opts.seed initialisation seed. @default 0
   * @param opts.name prefix of the tf variable names; must be unique among live models. @default "vlmodel<n>"
   * @throws ConfigError naming every bad config field; Error when `name` is in use.
   */
  constructor(config: ModelConfig | ModelConfigInput, opts: { seed?: number; name?: string } = {}) {
    this.config = parseModelConfig(config);
    const name = opts.name ?? nextAnonymousName();
    if (liveNames.has(name)) {
      throw new Error(`VLModel name "${name}" is already used by a live model (tf variable names are global): pass another opts.name or dispose the other model`);
    }
    this.name = name;
    this.store = new ParamStore(name, opts.seed ?? 0);
    this.params = createParams(this.store, this.config);
    liveNames.add(name);
    this.trainableWeights = this.store.named.map((e) => e.tensor);
  }

  /** Every weight with its name relative to the model (stable across instances and processes). */
  namedWeights(): { name: string; tensor: tf.Variable }[] {
    return this.store.named.map((e) => ({ name: e.name, tensor: e.tensor }));
  }

  countParams(): number {
    return this.trainableWeights.reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.trainableWeights) v.dispose();
    liveNames.delete(this.name);
  }

  /**
   * The forward pass. Pure tensor function: the caller wraps it in `tf.tidy` or an optimizer's
   * `minimize`. Every returned map is the exact softmax used in the forward pass and is
   * differentiable w.r.t. the weights.
   * @throws ModelInputError naming the input whose shape or dtype is wrong
   */
  apply(inputs: ModelInputs, opts: ForwardOptions): ModelOutputs {
    if (this.disposed) throw new Error(`VLModel "${this.name}" was disposed`);
    installZeroCopyIdentity(); // saved-for-gradient clones share buffers on wasm (see ops/wasm-kernels.ts)
    const { batch, textLen, decoderLen } = this.checkInputs(inputs);
    const stepSeed = opts.dropoutSeed ?? Math.floor(Math.random() * 0x7fffffff);
    const ctx = new ForwardContext(opts.training, this.config.dropout, stepSeed, opts.returnAttention ?? false, opts.returnQKV ?? false);
    const queryMask: ModelOutputs['queryMask'] = {};
    const enc = this.encoderPass(inputs.images, inputs.text, batch, textLen, ctx, queryMask);
    const outputs: ModelOutputs = { encoderOutput: batchMajor(enc, batch), attention: ctx.attention, qkv: ctx.qkv, queryMask };

    // --- VQA head: mean over valid encoder positions --------------------------------------------
    const p = this.params;
    if (p.answerHead) {
      // pooled[b] = Σ_t w[b, t] · enc[t·B + b] as one 2-D product with a block-sparse [B, T·B] matrix
      const weights = tf.div(enc.valid, tf.sum(enc.valid, 1, true)).reshape([batch, enc.length, 1]); // [B, T, 1]
      const pooling = tf.mul(weights, tf.eye(batch).reshape([batch, 1, batch])).reshape([batch, enc.length * batch]) as tf.Tensor2D; // [B, T·B]
      const pooled = mixRows(pooling, enc.states); // [B, width]
      outputs.answerLogits = linear(pooled, p.answerHead.w, p.answerHead.b); // [B, A]
    }
    if (p.decoder && inputs.decoderInput) {
      outputs.lmLogits = this.decoderPass(enc, inputs.decoderInput, batch, decoderLen, ctx, queryMask);
    }
    return outputs;
  }

  /**
   * The encoder half of `apply` at inference (no dropout, no maps): run it once per batch, then
   * `decodeFrom` as many decoder prefixes as needed against it — autoregressive decoding then
   * costs one encoder pass per batch instead of one per generated token.
   * @throws ModelInputError naming the input whose shape or dtype is wrong
   */
  encode(inputs: Pick<ModelInputs, 'images' | 'text'>): EncodedBatch {
    if (this.disposed) throw new Error(`VLModel "${this.name}" was disposed`);
    const { batch, textLen } = this.checkInputs({ images: inputs.images, text: inputs.text });
    const ctx = new ForwardContext(false, this.config.dropout, 0, false, false);
    const enc = this.encoderPass(inputs.images, inputs.text, batch, textLen, ctx, {});
    return { states: batchMajor(enc, batch), valid: enc.valid };
  }

  /**
   * Next-token logits `[B, Ld, vocabSize]` of `decoderInput` `[B, Ld]` given an `encode` result
   * (rows may be gathered from it, e.g. one per beam): the same numbers as `apply` with
   * `training: false` on the inputs that produced `encoded`.
   * @throws ModelInputError for a model without decoder or a malformed decoderInput
   */
  decodeFrom(encoded: EncodedBatch, decoderInput: tf.Tensor2D): tf.Tensor3D {
    if (this.disposed) throw new Error(`VLModel "${this.name}" was disposed`);
    const [batch, length, width] = encoded.states.shape;
    if (width !== this.config.width || encoded.valid.shape[0] !== batch || encoded.valid.shape[1] !== length) {
      throw new ModelInputError(
        `encoded must be { states [B, T, ${this.config.width}], valid [B, T] } from this model's encode(), got states [${encoded.states.shape}], valid [${encoded.valid.shape}]`,
      );
    }
    const decoderLen = this.checkDecoderInput(decoderInput, batch);
    const ctx = new ForwardContext(false, this.config.dropout, 0, false, false);
    const states = tf.transpose(encoded.states, [1, 0, 2]).reshape([length * batch, width]) as tf.Tensor2D; // time-major
    return this.decoderPass({ states, valid: encoded.valid, length }, decoderInput, batch, decoderLen, ctx, {});
  }

  /** Embeddings, vision blocks and fusion: the encoder output `[(P+Lt)·B, width]` (time-major) and its key validity `[B, P+Lt]`. */
  private encoderPass(
    images: tf.Tensor4D,
    textIdsBatchMajor: tf.Tensor2D,
    batch: number,
    textLen: number,
    ctx: ForwardContext,
    queryMask: ModelOutputs['queryMask'],
  ): TimeMajorEncoding {
    const c = this.config;
    const p = this.params;
    const patches = numPatches(c);

    // --- embeddings -------------------------------------------------------------------------
    const image = ctx.drop(this.embedImages(images, batch)); // [P·B, width]
    const textIds = tf.transpose(textIdsBatchMajor).reshape([textLen * batch]) as tf.Tensor1D; // time-major
    const text = ctx.drop(this.embedText(textIds, batch, textLen)); // [Lt·B, width]
    const textValid = tokenValidity(textIdsBatchMajor); // [B, Lt]
    const encoderValid = tf.concat([tf.ones([batch, patches]), textValid], 1) as tf.Tensor2D; // [B, P+Lt]

    // --- vision blocks ------------------------------------------------------------------------
    let imageStates = image;
    for (const block of p.visionBlocks) imageStates = encoderBlock(block, imageStates, batch, patches, NO_MASK, ctx, 'visionSelf');
    if (c.visionLayers > 0) queryMask.visionSelf = tf.ones([batch, patches]);

    // --- fusion ---------------------------------------------------------------------------------
    let encoder2D: tf.Tensor2D; // [(P+Lt)·B, width], time-major
    const encLen = patches + textLen;
    if (c.fusion === 'single-stream') {
      let x = tf.concat([imageStates, text], 0) as tf.Tensor2D; // [(P+Lt)·B, width]: time-major rows concatenate
      // Image keys are always valid, so no row is empty: no post-softmax guard needed.
      const mask = paddingMask(encoderValid, false);
      for (const block of p.fusionBlocks) x = encoderBlock(block, x, batch, encLen, mask, ctx, 'fusionSelf');
      if (c.fusionLayers > 0) queryMask.fusionSelf = encoderValid;
      encoder2D = norm(x, p.encoderNorm);
    } else {
      const imageMemory = norm(imageStates, p.visionNorm!); // [P·B, width]
      // An all-padding text has no valid key: guard those rows to all-zero.
      const textMask = paddingMask(textValid, true);
      let x = text;
      for (const block of p.textBlocks) {
        x = crossBlock(block, x, imageMemory, batch, textLen, patches, textMask, NO_MASK, ctx, { self: 'fusionSelf', cross: 'crossImage' });
      }
      queryMask.fusionSelf = textValid;
      queryMask.crossImage = textValid;
      const textOut = norm(x, p.encoderNorm);
      encoder2D = tf.concat([imageMemory, textOut], 0) as tf.Tensor2D;
    }
    return { states: encoder2D, valid: encoderValid, length: encLen };
  }

  /** Decoder blocks over `decoderInput` `[B, Ld]` with cross-attention to the encoder output → LM logits `[B, Ld, vocab]`. */
  private decoderPass(
    enc: TimeMajorEncoding,
    decoderInput: tf.Tensor2D,
    batch: number,
    decoderLen: number,
    ctx: ForwardContext,
    queryMask: ModelOutputs['queryMask'],
  ): tf.Tensor3D {
    const c = this.config;
    const d = this.params.decoder!;
    const width = c.width;
    const ids = tf.transpose(decoderInput).reshape([decoderLen * batch]) as tf.Tensor1D; // time-major
    const positions = d.positions.slice([0, 0], [decoderLen, width]).reshape([decoderLen, 1, width]);
    let y = ctx.drop(
      tf.add(embeddingLookup(ids, this.params.tokenEmbedding).reshape([decoderLen, batch, width]), positions).reshape([decoderLen * batch, width]) as tf.Tensor2D,
    ); // [Ld·B, width]
    const targetValid = tokenValidity(decoderInput); // [B, Ld]
    const selfMask = causalPaddingMask(targetValid);
    const memoryMask = paddingMask(enc.valid, false); // image keys always valid
    for (const block of d.blocks) {
      y = crossBlock(block, y, enc.states, batch, decoderLen, enc.length, selfMask, memoryMask, ctx, { self: 'decoderSelf', cross: 'decoderCross' });
    }
    queryMask.decoderSelf = targetValid;
    queryMask.decoderCross = targetValid;
    const logits = linear(norm(y, d.finalNorm), d.lmHead.w, d.lmHead.b); // [Ld·B, vocab]
    return tf.transpose(logits.reshape([decoderLen, batch, c.vocabSize]), [1, 0, 2]) as tf.Tensor3D; // [B, Ld, vocab]
  }

  /** Images `[B, S, S, 3]` → patch embeddings + positions + image modality, `[P·B, width]` time-major. */
  private embedImages(images: tf.Tensor4D, batch: number): tf.Tensor2D {
    const { imageSize: s, patchSize: ps, width } = this.config;
    const grid = s / ps;
    // Two small transposes (rank-6 ones take a slow path on wasm):
    // [B·gy, py, gx, px·3] → [B·gy, gx, py, px·3] = [B, P, p·p·3] (each patch's pixels contiguous, patches row-major)
    // → [P, B, p·p·3] (time-major rows).
    const perExample = tf.transpose(images.reshape([batch * grid, ps, grid, ps * 3]), [0, 2, 1, 3]).reshape([batch, grid * grid, ps * ps * 3]);
    const patches = tf.transpose(perExample, [1, 0, 2]).reshape([grid * grid * batch, ps * ps * 3]) as tf.Tensor2D; // [P·B, p·p·3]
    const p = this.params;
    const embedded = linear(patches, p.patchEmbedding.w, p.patchEmbedding.b).reshape([grid * grid, batch, width]); // [P, B, width]
    const extra = tf.add(p.imagePositions, p.modality.slice([IMAGE_MODALITY, 0], [1, width])).reshape([grid * grid, 1, width]); // [P, 1, width]
    return tf.add(embedded, extra).reshape([grid * grid * batch, width]) as tf.Tensor2D;
  }

  /** Time-major token ids `[Lt·B]` → token embeddings + positions + text modality, `[Lt·B, width]`. */
  private embedText(ids: tf.Tensor1D, batch: number, textLen: number): tf.Tensor2D {
    const width = this.config.width;
    const p = this.params;
    const tokens = embeddingLookup(ids, p.tokenEmbedding).reshape([textLen, batch, width]); // [Lt, B, width]
    const extra = tf.add(p.textPositions.slice([0, 0], [textLen, width]), p.modality.slice([TEXT_MODALITY, 0], [1, width])).reshape([textLen, 1, width]); // [Lt, 1, width]
    return tf.add(tokens, extra).reshape([textLen * batch, width]) as tf.Tensor2D;
  }

  private checkInputs(inputs: ModelInputs): { batch: number; textLen: number; decoderLen: number } {
    const c = this.config;
    const { images, text, decoderInput } = inputs;
    const s = c.imageSize;
    if (!images || images.rank !== 4 || images.shape[1] !== s || images.shape[2] !== s || images.shape[3] !== 3 || images.dtype !== 'float32') {
      throw new ModelInputError(`inputs.images must be float32 [B, ${s}, ${s}, 3] (config.imageSize = ${s}), got ${images?.dtype} [${images?.shape}]`);
    }
    const batch = images.shape[0];
    if (!text || text.rank !== 2 || text.dtype !== 'int32' || text.shape[0] !== batch) {
      throw new ModelInputError(`inputs.text must be int32 [${batch}, Lt] (B from images), got ${text?.dtype} [${text?.shape}]`);
    }
    const textLen = text.shape[1];
    if (textLen < 1 || textLen > c.maxTextLength) {
      throw new ModelInputError(`inputs.text length ${textLen} must be in [1, config.maxTextLength = ${c.maxTextLength}]`);
    }
    const decoderLen = decoderInput ? this.checkDecoderInput(decoderInput, batch) : 0;
    return { batch, textLen, decoderLen };
  }

  /** Decoder input length; @throws ModelInputError when the model has no decoder or the input is malformed. */
  private checkDecoderInput(decoderInput: tf.Tensor2D, batch: number): number {
    const c = this.config;
    if (c.decoderLayers === 0) {
      throw new ModelInputError('inputs.decoderInput was given but config.decoderLayers is 0: drop decoderInput or configure a decoder');
    }
    if (decoderInput.rank !== 2 || decoderInput.dtype !== 'int32' || decoderInput.shape[0] !== batch) {
      throw new ModelInputError(`inputs.decoderInput must be int32 [${batch}, Ld], got ${decoderInput.dtype} [${decoderInput.shape}]`);
    }
    const decoderLen = decoderInput.shape[1];
    if (decoderLen < 1 || decoderLen > c.maxTargetLength) {
      throw new ModelInputError(`inputs.decoderInput length ${decoderLen} must be in [1, config.maxTargetLength = ${c.maxTargetLength}]`);
    }
    return decoderLen;
  }
}

/** The encoder output `[(P+Lt)·B, width]` (time-major rows) as `[B, P+Lt, width]`. */
function batchMajor(enc: TimeMajorEncoding, batch: number): tf.Tensor3D {
  const width = enc.states.shape[1];
  return tf.transpose(enc.states.reshape([enc.length, batch, width]), [1, 0, 2]) as tf.Tensor3D;
}

function nextAnonymousName(): string {
  let name: string;
  do name = `vlmodel${anonymousModels++}`;
  while (liveNames.has(name));
  return name;
}

/** Creates every variable in a fixed order (the order of `trainableWeights` and checkpoints). */
function createParams(store: ParamStore, c: ModelConfig): ModelParams {
  const { width, mlpWidth } = c;
  const patchDim = c.patchSize * c.patchSize * 3;
  const params: ModelParams = {
    patchEmbedding: store.linear('embedding/patch', patchDim, width),
    tokenEmbedding: store.normal('embedding/token', [c.vocabSize, width]),
    imagePositions: store.normal('embedding/imagePositions', [numPatches(c), width]),
    textPositions: store.normal('embedding/textPositions', [c.maxTextLength, width]),
    modality: store.normal('embedding/modality', [2, width]),
    visionBlocks: range(c.visionLayers).map((i) => createEncoderBlock(store, `vision/${i}`, width, mlpWidth, c.heads.vision)),
    visionNorm: c.fusion === 'two-stream' ? store.layerNorm('vision/norm', width) : undefined,
    fusionBlocks:
      c.fusion === 'single-stream' ? range(c.fusionLayers).map((i) => createEncoderBlock(store, `fusion/${i}`, width, mlpWidth, c.heads.fusion)) : [],
    textBlocks: c.fusion === 'two-stream' ? range(c.fusionLayers).map((i) => createCrossBlock(store, `fusion/${i}`, width, mlpWidth, c.heads.fusion)) : [],
    encoderNorm: store.layerNorm('encoder/norm', width),
    decoder:
      c.decoderLayers > 0
        ? {
            positions: store.normal('decoder/positions', [c.maxTargetLength, width]),
            blocks: range(c.decoderLayers).map((i) => createCrossBlock(store, `decoder/${i}`, width, mlpWidth, c.heads.decoder)),
            finalNorm: store.layerNorm('decoder/norm', width),
            lmHead: store.linear('decoder/lmHead', width, c.vocabSize),
          }
        : undefined,
    answerHead: c.numAnswers > 0 ? store.linear('head/answer', width, c.numAnswers) : undefined,
  };
  return params;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
