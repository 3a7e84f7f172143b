/**
 * The ONNX model's decoder as a StepDecoder (trainer/eval/decode.ts), so greedy and beam search
 * run on ONNX Runtime with the very search code the tfjs path uses.
 *
 * With the sidecar's `split` (generation models this project exports): encoder.onnx runs once
 * per batch → states `[B, T, width]` and mask `[B, T]`; each step gathers the rows' encoder
 * outputs and runs decoder.onnx on `[R, t]` prefixes (as VLModel.encode / decodeFrom).
 * Without it (e.g. a foreign model): the full model per step, the rows' image and text gathered
 * and the prefix padded to `decoder.maxLength` — correct (causal masking: position t − 1 does not
 * see the padding after it) but it re-runs the encoder every step.
 * With the split's decoder-with-past.onnx (a self-attention key/value cache), each step feeds
 * only the rows' newest token, the cache of the rows they extend and the rows' cross-attention
 * keys/values, which encoder.onnx computed with the states (older exports: the states, projected
 * again at every step; either is fed by name from the encoder's outputs): a search step's row extends
 * the row of the previous step with the same example and prefix minus its last token (greedy:
 * the same row; beam search: the beam it came from), found by that key. A step whose rows do not
 * all extend a cached row (not produced by this project's searches) falls back, for the rest
 * of the batch, to decoder.onnx over the whole prefix — the same logits (parity tests).
 */
import { SPECIAL_TOKENS } from '../data/batch';
import { candidatesFromLogits, type StepDecoder, type StepQuery } from '../eval/decode';
import { OnnxModel, OnnxModelError, type OnnxBatchInputs } from './onnx-model';

/** Encodes `inputs` (once) and returns the decoder of that batch. */
export async function onnxStepDecoder(model: OnnxModel, inputs: OnnxBatchInputs, opts: { useSplit?: boolean; useCache?: boolean } = {}): Promise<StepDecoder> {
  const dec = model.sidecar.decoder;
  if (!dec) throw new OnnxModelError(`${model.uri} is a ${model.sidecar.task} model without a decoder: it cannot generate`);
  // The searches generate with this project's special tokens (BOS starts, EOS ends, PAD/BOS are never chosen).
  for (const [field, want] of [['bosId', SPECIAL_TOKENS.BOS], ['eosId', SPECIAL_TOKENS.EOS], ['padId', SPECIAL_TOKENS.PAD]] as const) {
    if (dec[field] !== want) throw new OnnxModelError(`${model.uri}: decoding needs decoder.${field} = ${want} (this project's tokenizer), the sidecar says ${dec[field]}`);
  }
  const B = inputs.batch;
  const split = opts.useSplit === false ? null : await model.splitSessions();
  let vocabSize = 0;
  const lastLogits = (logits: Float32Array, dims: readonly number[], R: number, position: number): Float32Array => {
    const [, Ld, V] = dims as [number, number, number];
    vocabSize = V;
    const out = new Float32Array(R * V); // [R, V]
    for (let r = 0; r < R; r++) out.set(logits.subarray((r * Ld + position) * V, (r * Ld + position + 1) * V), r * V);
    return out;
  };
  const prefixIds = (q: StepQuery, width: number): Int32Array => {
    const ids = new Int32Array(q.rowExample.length * width).fill(dec.padId); // [R, width]: BOS, prefix…, PAD…
    q.rowPrefix.forEach((p, r) => {
      ids[r * width] = dec.bosId;
      for (let i = 0; i < q.t - 1; i++) ids[r * width + 1 + i] = p[i]!;
    });
    return ids;
  };

  if (split) {
    const names = model.sidecar.split!;
    let cache = split.decoderWithPast && opts.useCache !== false ? new DecoderCache(model, split.decoderWithPast.session) : null;
    // decoder-with-past.onnx reads each layer's cross-attention keys/values, computed here once
    // per batch by encoder.onnx (an export from before that reads the states instead).
    if (cache && !cache.encoderInputs.every((n) => split.encoder.session.outputNames.includes(n))) cache = null;
    const fetches = [...new Set([names.states, names.mask, ...(cache?.encoderInputs ?? [])])];
    const feeds = model.encoderFeeds(inputs);
    const enc = await split.encoder.session.run(feeds, fetches);
    Object.values(feeds).forEach((t) => t.dispose());
    const rows = new EncoderRows(model, enc, B);
    return {
      batch: B,
      maxTargetLength: dec.maxLength,
      async candidates(q) {
        const R = q.rowExample.length;
        if (cache?.usable) {
          const logits = await cache.step(q, rows.feeds(cache.encoderInputs, q.rowExample)); // [R, V]
          if (logits) {
            vocabSize = logits.length / R;
            return candidatesFromLogits(logits, R, vocabSize, q.k);
          }
        }
        const stepFeeds = { ...rows.feeds([names.states, names.mask], q.rowExample), [dec.ids]: model.idTensor(prefixIds(q, q.t), [R, q.t]) };
        const out = await split.decoder.session.run(stepFeeds, [model.sidecar.logits]);
        stepFeeds[dec.ids]!.dispose();
        const logits = out[model.sidecar.logits]!;
        const last = lastLogits(logits.data as Float32Array, logits.dims.map(Number), R, q.t - 1);
        logits.dispose();
        return candidatesFromLogits(last, R, vocabSize, q.k);
      },
      dispose() {
        Object.values(enc).forEach((t) => t.dispose());
      },
    };
  }

  // The full model per step.
  const S = model.sidecar.image.size;
  const Lt = inputs.text.length / B;
  const perImage = S * S * 3;
  return {
    batch: B,
    maxTargetLength: dec.maxLength,
    async candidates(q) {
      const R = q.rowExample.length;
      const images = new Float32Array(R * perImage);
      const text = new Int32Array(R * Lt);
      q.rowExample.forEach((b, r) => {
        images.set(inputs.images.subarray(b * perImage, (b + 1) * perImage), r * perImage);
        text.set(inputs.text.subarray(b * Lt, (b + 1) * Lt), r * Lt);
      });
      const out = await model.run({ batch: R, images, pixelStats: inputs.pixelStats, text, decoderIds: prefixIds(q, dec.maxLength) });
      const last = lastLogits(out.logits.data, out.logits.shape, R, q.t - 1);
      return candidatesFromLogits(last, R, vocabSize, q.k);
    },
    dispose() {},
  };
}

type OrtSession = NonNullable<Awaited<ReturnType<OnnxModel['splitSessions']>>>['encoder']['session'];
type OrtTensor = ReturnType<OnnxModel['floatTensor']>;

/**
 * encoder.onnx's outputs for a search step's rows: row r gets its example's row of each output.
 * The rows change only when examples finish, so the last gather is kept and reused.
 */
class EncoderRows {
  private last: { key: string; feeds: Record<string, OrtTensor> } | null = null;

  constructor(
    private readonly model: OnnxModel,
    private readonly outputs: Record<string, OrtTensor>,
    private readonly batch: number,
  ) {}

  /** The named outputs gathered for `rowExample`, as feeds (shared between steps: not to be disposed). */
  feeds(names: readonly string[], rowExample: readonly number[]): Record<string, OrtTensor> {
    const key = `${names.join(',')}|${rowExample.join(',')}`;
    if (this.last?.key === key) return this.last.feeds;
    const feeds: Record<string, OrtTensor> = {};
    for (const name of names) {
      const t = this.outputs[name]!;
      const data = t.data as Float32Array;
      const per = data.length / this.batch;
      const rows = new Float32Array(rowExample.length * per);
      rowExample.forEach((b, r) => rows.set(data.subarray(b * per, (b + 1) * per), r * per));
      feeds[name] = this.model.floatTensor(rows, [rowExample.length, ...t.dims.slice(1).map(Number)]);
    }
    this.last = { key, feeds };
    return feeds;
  }
}

/** A row's key in the cache: its example and generated prefix. */
const rowKey = (example: number, prefix: readonly number[]) => `${example}:${prefix.join(',')}`;

/**
 * The self-attention key/value cache of one batch's search on decoder-with-past.onnx: after each
 * step, the `present_*` outputs of every row, found by the row's key.
 */
class DecoderCache {
  /** Set false at the first step it cannot serve; the search then runs decoder.onnx. */
  usable = true;
  /** The encoder.onnx outputs each step feeds: the mask and every layer's cross-attention keys/values (older exports: the states and the mask). */
  readonly encoderInputs: readonly string[];
  private readonly layers: number;
  private readonly heads: number;
  /** Depth per head of the self-attention cache (`past_key.0`'s last dimension). */
  private readonly dh: number;
  private rows = new Map<string, number>();
  /** `present_*` host copies of the previous step: `[Rprev, H, P, dh]` keys/values, `[Rprev, P]` valid. */
  private present: Record<string, { data: Float32Array; dims: number[] }> = {};
  private P = 0;

  constructor(
    private readonly model: OnnxModel,
    private readonly session: OrtSession,
  ) {
    this.layers = session.inputNames.filter((n) => n.startsWith('past_key.')).length;
    const self = model.sidecar.attention.find((a) => a.kind === 'decoderSelf');
    this.heads = self?.heads ?? 0;
    const depth = session.inputMetadata.find((m) => m.name === 'past_key.0')?.shape[3];
    this.dh = typeof depth === 'number' ? depth : 0;
    const own = new Set([...this.pastNames, model.sidecar.decoder?.ids ?? '']);
    this.encoderInputs = session.inputNames.filter((n) => !own.has(n));
    if (this.layers === 0 || !self || this.dh === 0) this.usable = false;
  }

  private get pastNames(): string[] {
    return ['past_valid', ...Array.from({ length: this.layers }, (_, i) => [`past_key.${i}`, `past_value.${i}`]).flat()];
  }

  /**
   * Logits `[R, V]` of the rows' next token, or null when a row extends no cached row (the cache is then dropped).
   * @param encoder the rows' `encoderInputs` (the caller's: not disposed here)
   */
  async step(q: StepQuery, encoder: Record<string, OrtTensor>): Promise<Float32Array | null> {
    const R = q.rowExample.length;
    const dec = this.model.sidecar.decoder!;
    const parents: number[] = [];
    if (q.t > 1) {
      if (this.P !== q.t - 1) return this.drop();
      for (let r = 0; r < R; r++) {
        const parent = this.rows.get(rowKey(q.rowExample[r]!, q.rowPrefix[r]!.slice(0, q.t - 2)));
        if (parent === undefined) return this.drop();
        parents.push(parent);
      }
    }
    const dh = this.dh;
    const feeds: Record<string, OrtTensor> = { ...encoder };
    // The newest token of each row: BOS at the first step, else the prefix's last token.
    feeds[dec.ids] = this.model.idTensor(q.rowPrefix.map((p) => (q.t === 1 ? dec.bosId : p[q.t - 2]!)), [R, 1]);
    for (const name of this.pastNames) {
      const perRow = name === 'past_valid' ? this.P : this.heads * this.P * dh;
      const data = new Float32Array(R * perRow);
      const from = this.present[name.replace('past_', 'present_')];
      if (from) parents.forEach((p, r) => data.set(from.data.subarray(p * perRow, (p + 1) * perRow), r * perRow));
      feeds[name] = this.model.floatTensor(data, name === 'past_valid' ? [R, this.P] : [R, this.heads, this.P, dh]);
    }
    const presentNames = this.pastNames.map((n) => n.replace('past_', 'present_'));
    const out = await this.session.run(feeds, [this.model.sidecar.logits, ...presentNames]);
    Object.entries(feeds).forEach(([name, t]) => name in encoder || t.dispose()); // the caller's encoder rows stay its own
    this.present = Object.fromEntries(presentNames.map((n) => [n, { data: out[n]!.data as Float32Array, dims: out[n]!.dims.map(Number) }]));
    this.P = q.t;
    this.rows = new Map(q.rowPrefix.map((p, r) => [rowKey(q.rowExample[r]!, p.slice(0, q.t - 1)), r]));
    const logits = out[this.model.sidecar.logits]!; // [R, 1, V]
    return logits.data as Float32Array;
  }

  private drop(): null {
    this.usable = false;
    this.present = {};
    this.rows.clear();
    return null;
  }
}
