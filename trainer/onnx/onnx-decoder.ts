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
 * No key/value cache in either: a step re-reads the whole prefix, as the tfjs decoder does.
 */
import { SPECIAL_TOKENS } from '../data/batch';
import { candidatesFromLogits, type StepDecoder, type StepQuery } from '../eval/decode';
import { OnnxModel, OnnxModelError, type OnnxBatchInputs } from './onnx-model';

/** Encodes `inputs` (once) and returns the decoder of that batch. */
export async function onnxStepDecoder(model: OnnxModel, inputs: OnnxBatchInputs, opts: { useSplit?: boolean } = {}): Promise<StepDecoder> {
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
    const feeds = model.encoderFeeds(inputs);
    const enc = await split.encoder.session.run(feeds, [names.states, names.mask]);
    Object.values(feeds).forEach((t) => t.dispose());
    const states = enc[names.states]!;
    const mask = enc[names.mask]!;
    const [, T, W] = states.dims.map(Number) as [number, number, number];
    const statesData = states.data as Float32Array; // [B, T, W]
    const maskData = mask.data as Float32Array; // [B, T]
    return {
      batch: B,
      maxTargetLength: dec.maxLength,
      async candidates(q) {
        const R = q.rowExample.length;
        const rowStates = new Float32Array(R * T * W); // [R, T, W]
        const rowMask = new Float32Array(R * T); // [R, T]
        q.rowExample.forEach((b, r) => {
          rowStates.set(statesData.subarray(b * T * W, (b + 1) * T * W), r * T * W);
          rowMask.set(maskData.subarray(b * T, (b + 1) * T), r * T);
        });
        const stepFeeds = {
          [dec.ids]: model.idTensor(prefixIds(q, q.t), [R, q.t]),
          [names.states]: model.floatTensor(rowStates, [R, T, W]),
          [names.mask]: model.floatTensor(rowMask, [R, T]),
        };
        const out = await split.decoder.session.run(stepFeeds, [model.sidecar.logits]);
        Object.values(stepFeeds).forEach((t) => t.dispose());
        const logits = out[model.sidecar.logits]!;
        const last = lastLogits(logits.data as Float32Array, logits.dims.map(Number), R, q.t - 1);
        logits.dispose();
        return candidatesFromLogits(last, R, vocabSize, q.k);
      },
      dispose() {
        states.dispose();
        mask.dispose();
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
