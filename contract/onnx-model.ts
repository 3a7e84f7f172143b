/**
 * The ONNX model contract: what an ONNX model must expose for the pipeline to run it — a
 * teacher exported from any framework (PyTorch, …) or a model this project exports itself
 * (`amad export`, `model.onnx` beside every trained model) — and the JSON sidecar that says
 * which input and output is which. One contract for both, so the inference stages (teacher
 * cache, evaluation, latency) have one ONNX Runtime code path. docs/TEACHERS.md explains it
 * for users; docs/SERVING.md for serving teams.
 *
 * Inputs (names are the defaults; the sidecar may rename them):
 *   pixel_values       float32 image, layout and normalisation stated by `image`
 *   input_ids          int64 (or int32, `text.idType`) `[B, L]` encoder text ids, `text.padId` = padding
 *   attention_mask     same dtype `[B, L]`, 1 = real token, 0 = padding
 *   decoder_input_ids  generation tasks only: `[B, Ld]` teacher-forced decoder input (BOS, tokens…)
 * Outputs:
 *   logits             VQA: `[B, numAnswers]`; generation: `[B, Ld, vocabSize]`
 *   one output per distilled attention module: `[B, H, Q, K]` softmax probabilities (rows sum to 1
 *   over K for real query rows), named and described by `attention[]`.
 *
 * The batch dimension is dynamic; text lengths may be fixed or dynamic (the pipeline always
 * feeds `text.maxLength` / `decoder.maxLength` tokens, padded).
 *
 * A teacher given as `teacher: { onnx, sidecar }` (trainer/onnx/onnx-teacher.ts) may declare any
 * subset of its layers in `attention[]` (by its own layer numbers; the layer map spreads over the
 * declared ones) and any head count; its maps must have the students' `[Q, K]` (single-stream:
 * `[patches ; text]`) to be distilled. The Validate stage checks all of this on a probe batch
 * (trainer/onnx/teacher-check.ts).
 */
import { z } from 'zod';

/** Attention module kinds, the same names as the model family's (trainer/model/types.ts). */
export const OnnxAttentionKindSchema = z.enum(['visionSelf', 'fusionSelf', 'crossImage', 'decoderSelf', 'decoderCross']);

const positiveInt = (what: string) => z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).positive(`${what} must be > 0`);
const channelTriple = (what: string) =>
  z.tuple([z.number(), z.number(), z.number()], { error: `${what} must be three numbers (R, G, B)` });

export const OnnxImageInputSchema = z.strictObject({
  /** Input name. @default "pixel_values" */
  input: z.string().min(1).default('pixel_values'),
  /** `NCHW` = `[B, 3, S, S]` (PyTorch's habit); `NHWC` = `[B, S, S, 3]` (this project's models). */
  layout: z.enum(['NCHW', 'NHWC']),
  /** Square image side S in pixels; images are resized to it (RGB). */
  size: positiveInt('image.size'),
  /** Fed value = (rgb / 255 − mean[c]) / std[c], per channel (RGB order). */
  mean: channelTriple('image.mean'),
  std: channelTriple('image.std'),
});

export const OnnxTextInputSchema = z.strictObject({
  /** @default "input_ids" */
  ids: z.string().min(1).default('input_ids'),
  /** @default "attention_mask" */
  mask: z.string().min(1).default('attention_mask'),
  /** Integer type of ids and mask. @default "int64" */
  idType: z.enum(['int64', 'int32']).default('int64'),
  /** Tokens fed per example (padded/truncated to it). */
  maxLength: positiveInt('text.maxLength'),
  /** Padding id. @default 0 */
  padId: z.number().int().nonnegative().default(0),
});

export const OnnxDecoderInputSchema = z.strictObject({
  /** @default "decoder_input_ids" */
  ids: z.string().min(1).default('decoder_input_ids'),
  /** Decoder tokens per example (teacher-forced), BOS included. */
  maxLength: positiveInt('decoder.maxLength'),
  bosId: z.number().int().nonnegative(),
  eosId: z.number().int().nonnegative(),
  /** @default 0 */
  padId: z.number().int().nonnegative().default(0),
});

export const OnnxAttentionOutputSchema = z.strictObject({
  /** Output name, e.g. "attn.fusionSelf.3". */
  output: z.string().min(1),
  kind: OnnxAttentionKindSchema,
  /** 0-based index among the model's modules of this kind (the teacher's own layer number; a teacher may list a subset). */
  layer: z.number().int().nonnegative(),
  /** H of `[B, H, Q, K]`. */
  heads: positiveInt('attention[].heads'),
});

/**
 * The encoder/decoder pair of a generation model:
 *   encoder: image + text inputs (as the full model) → `states` `[B, T, width]` float32 and
 *            `mask` `[B, T]` float32 (1 = a key the decoder may attend to: patches and real text tokens),
 *            and each decoder layer's cross-attention keys/values of the states (decoderWithPast reads them);
 *   decoder: `decoder.ids` + `states` + `mask` → `logits` `[B, Ld, vocabSize]`;
 *   decoderWithPast (optional): the decoder with a key/value cache (below).
 */
export const OnnxSplitSchema = z.strictObject({
  encoder: z.string().min(1),
  decoder: z.string().min(1),
  /**
   * The decoder with a self-attention key/value cache: inputs `decoder.ids` (the N new tokens),
   * `mask`, and per decoder layer i the encoder's `cross_key.i` / `cross_value.i` (see
   * `crossKeyName`; older exports read `states` instead), `past_key.i` / `past_value.i`
   * `[B, H, P, dh]` and `past_valid` `[B, P]` (1 = real token) for the P positions already
   * decoded (P = 0 on the first step: empty tensors); outputs `logits` `[B, N, vocab]` for the
   * N new tokens and `present_key.i` / `present_value.i` / `present_valid` (P+N positions) to
   * feed back as the next step's past.
   */
  decoderWithPast: z.string().min(1).optional(),
  /** @default "encoder_hidden_states" */
  states: z.string().min(1).default('encoder_hidden_states'),
  /** @default "encoder_attention_mask" */
  mask: z.string().min(1).default('encoder_attention_mask'),
});

/** Default names of the split's encoder outputs (= the decoder's extra inputs). */
export const ENCODER_STATES_NAME = 'encoder_hidden_states';
export const ENCODER_MASK_NAME = 'encoder_attention_mask';

/**
 * encoder.onnx's precomputed cross-attention keys/values of decoder layer i, `[B, Hd, P+L,
 * width/Hd]`, which decoder-with-past.onnx reads instead of the encoder states (exports from
 * before these names fed decoder-with-past the states: the runtime accepts both).
 */
export const crossKeyName = (layer: number) => `cross_key.${layer}`;
export const crossValueName = (layer: number) => `cross_value.${layer}`;

export const OnnxSidecarSchema = z
  .strictObject({
    format: z.literal('amad-onnx/1', { error: 'format must be "amad-onnx/1"' }),
    task: z.enum(['vqa', 'captioning', 'translation']),
    image: OnnxImageInputSchema,
    text: OnnxTextInputSchema,
    /** Generation tasks only. */
    decoder: OnnxDecoderInputSchema.optional(),
    /** @default "logits" */
    logits: z.string().min(1).default('logits'),
    /** The attention outputs the model exposes (at least one to distil from). */
    attention: z.array(OnnxAttentionOutputSchema).min(1, 'attention must list at least one output'),
    /** The tokenizer, a path relative to the sidecar: a WordPiece `vocab.txt` or this project's `tokenizer.json`. */
    tokenizer: z.strictObject({
      file: z.string().min(1),
      kind: z.enum(['wordpiece-vocab', 'amad-json']),
      /** WordPiece vocabularies: lowercase before tokenising. @default true */
      lowercase: z.boolean().default(true),
    }),
    /** VQA: the answer classes in logit order, inline. */
    answers: z.array(z.string()).optional(),
    /**
     * VQA, optional: the form each class is answered in, in logit order (the class's most
     * frequent raw training answer, e.g. "t-shirt" for the class "t shirt": the official VQA
     * scorer compares raw strings when the annotators agree). Absent: answer with `answers`.
     */
    answerForms: z.array(z.string()).optional(),
    /**
     * Generation models this project exports: the same model split in two for autoregressive
     * serving (encode once, decode many prefixes). Paths relative to the sidecar.
     */
    split: OnnxSplitSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.task === 'vqa' && !s.answers?.length) ctx.addIssue({ code: 'custom', path: ['answers'], message: 'a VQA teacher needs its answer classes in logit order: add "answers": ["yes", "no", …]' });
    if (s.answerForms && s.answerForms.length !== (s.answers?.length ?? 0)) {
      ctx.addIssue({ code: 'custom', path: ['answerForms'], message: `answerForms lists ${s.answerForms.length} forms for ${s.answers?.length ?? 0} answers: give one per answer, in the same order` });
    }
    if (s.task !== 'vqa' && !s.decoder) ctx.addIssue({ code: 'custom', path: ['decoder'], message: `a ${s.task} teacher needs "decoder": { ids, maxLength, bosId, eosId }` });
    const seen = new Set<string>();
    s.attention.forEach((a, i) => {
      const key = `${a.kind}.${a.layer}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['attention', i], message: `${key} is listed twice: each module once` });
      seen.add(key);
    });
  });

export type OnnxSidecarInput = z.input<typeof OnnxSidecarSchema>;
export type OnnxSidecar = z.output<typeof OnnxSidecarSchema>;

/** The conventional output name of an attention module in models this project exports. */
export function attentionOutputName(kind: z.infer<typeof OnnxAttentionKindSchema>, layer: number): string {
  return `attn.${kind}.${layer}`;
}

/** The sidecar's file name beside a model: `model.onnx` → `model.onnx.json`. */
export function sidecarPathFor(onnxPath: string): string {
  return `${onnxPath}.json`;
}
