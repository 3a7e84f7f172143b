/**
 * The teacher check: does an ONNX teacher do what its sidecar says? Run by `amad validate` and
 * by the pipeline's Validate stage, so a mismatch is refused BEFORE any data is prepared or any
 * student trained. Checks, each refused with a message naming the input/output and the fix:
 *
 *   - every input and output the sidecar names exists in the model, and the model has no input
 *     the sidecar does not describe;
 *   - the image input's declared shape agrees with the sidecar's layout and size;
 *   - a probe batch (seeded pixels; token ids spanning the tokenizer) runs;
 *   - the logits are `[B, numAnswers]` with numAnswers = the sidecar's answer list (VQA);
 *   - every attention output is `[B, H, Q, K]` with H = the sidecar's `heads`, and its rows are
 *     probability distributions (finite, ≥ 0, summing to 1 over K) on the probe's unpadded
 *     example — i.e. softmax probabilities, not scores.
 *
 * Every problem found is reported at once. `teacherFitsStudents` adds the checks that need the
 * students: each mapped teacher map has the shape of the student map it teaches.
 */
import type { OnnxSidecar } from '../../contract/onnx-model';
import { SPECIAL_TOKENS, type Batch } from '../data/batch';
import { Prng } from '../data/prng';
import type { Tokenizer } from '../data/tokenizer';
import { OnnxTeacherError, type OnnxTeacher } from './onnx-teacher';

/** |Σ_k A[q, k] − 1| allowed for a probability row (float32 softmax sums are within ~1e-6). */
export const ROW_SUM_TOLERANCE = 1e-3;
/** Smallest value allowed in a probability map (float32 rounding). */
const MIN_PROBABILITY = -1e-6;

export interface TeacherCheckSummary {
  /** Attention output name → `[H, Q, K]`. */
  readonly maps: Record<string, [number, number, number]>;
  /** Logits per example: `[A]` (VQA). */
  readonly logitsShape: number[];
}

/**
 * A probe batch in the data's representation (NHWC pixels normalised to mean 0 / std 1, ids
 * with PAD = 0): example 0 has no padding (every query row is real), example 1 pads the second
 * half of its text. Ids cycle through the whole vocabulary, so an embedding smaller than the
 * tokenizer fails here rather than in the cache stage.
 */
export function probeBatch(sidecar: OnnxSidecar, vocabSize: number, seed = 1): Batch {
  const S = sidecar.image.size;
  const L = sidecar.text.maxLength;
  const prng = new Prng(seed);
  const images = Float32Array.from({ length: 2 * S * S * 3 }, () => prng.uniform(-1, 1));
  const text = new Int32Array(2 * L);
  const firstWord = Math.min(4, vocabSize - 1);
  for (let i = 0; i < 2 * L; i++) text[i] = firstWord + ((i * 7) % Math.max(1, vocabSize - firstWord));
  text[L - 1] = vocabSize - 1; // the largest id
  for (let i = L + Math.ceil(L / 2); i < 2 * L; i++) text[i] = SPECIAL_TOKENS.PAD;
  return { size: 2, ids: ['probe-0', 'probe-1'], images, text };
}

/** Checks an ONNX teacher against its sidecar. @throws OnnxTeacherError listing every problem */
export async function checkOnnxTeacher(teacher: OnnxTeacher, tokenizer: Tokenizer): Promise<TeacherCheckSummary> {
  const sc = teacher.sidecar;
  const where = `ONNX teacher ${teacher.ref.onnx}`;
  const problems: string[] = [];
  const inputs = new Set(teacher.inputNames);
  const outputs = new Set(teacher.outputNames);
  const list = (names: Iterable<string>) => [...names].map((n) => `"${n}"`).join(', ');

  if (sc.task !== 'vqa') {
    problems.push(`sidecar task "${sc.task}": ONNX teachers are supported for VQA only so far (generation needs decoding through ONNX, not built yet); use a tfjs teacher for ${sc.task}`);
  }
  const named: [string, string][] = [
    [sc.image.input, 'image.input'],
    [sc.text.ids, 'text.ids'],
    [sc.text.mask, 'text.mask'],
    ...(sc.decoder ? [[sc.decoder.ids, 'decoder.ids'] as [string, string]] : []),
  ];
  for (const [name, field] of named) {
    if (!inputs.has(name)) problems.push(`input "${name}" (sidecar ${field}) is not an input of the model (its inputs: ${list(inputs)}): set ${field} to the model's input name, or re-export with that input name`);
  }
  const fed = new Set(named.map(([n]) => n));
  for (const name of inputs) {
    if (!fed.has(name)) problems.push(`the model has an input "${name}" that the sidecar does not describe (the pipeline feeds only ${list(fed)}): re-export without it, or name it in the sidecar's image/text fields`);
  }
  if (!outputs.has(sc.logits)) problems.push(`output "${sc.logits}" (sidecar logits) is not an output of the model (its outputs: ${list(outputs)}): set "logits" to the model's logits output, or re-export with output_names including it`);
  sc.attention.forEach((a, i) => {
    if (!outputs.has(a.output)) {
      problems.push(`output "${a.output}" (sidecar attention[${i}], ${a.kind} layer ${a.layer}) is not an output of the model (its outputs: ${list(outputs)}): export the attention probabilities of that layer as a named output, or remove the entry`);
    }
  });

  const shape = teacher.inputShapes[sc.image.input];
  if (shape && shape.length > 0) {
    const S = sc.image.size;
    const expected = sc.image.layout === 'NCHW' ? [3, S, S] : [S, S, 3];
    const bad = shape.length !== 4 || shape.slice(1).some((d, i) => typeof d === 'number' && d !== expected[i]);
    if (bad) {
      problems.push(
        `input "${sc.image.input}" has shape [${shape.join(', ')}] but the sidecar says ${sc.image.layout} ${S}×${S} ([batch, ${expected.join(', ')}]): ` +
          `set image.layout and image.size to what the model reads`,
      );
    }
  }
  if (problems.length > 0) throw refusal(where, problems);

  const probe = probeBatch(sc, tokenizer.vocabSize);
  const mapNames = sc.attention.map((a) => a.output);
  let out: Awaited<ReturnType<OnnxTeacher['run']>>;
  try {
    out = await teacher.run(probe, { mean: [0, 0, 0], std: [1, 1, 1] }, mapNames);
  } catch (e) {
    throw refusal(where, [
      `the model failed on a probe batch of 2 examples (${sc.image.layout} ${sc.image.size}px images, ${sc.text.maxLength} ${sc.text.idType} token ids up to ${tokenizer.vocabSize - 1}): ` +
        `${(e as Error).message.split('\n')[0]}. Check image.size/layout, text.maxLength/idType, that the batch dimension is dynamic, and that the model's vocabulary holds the tokenizer's ${tokenizer.vocabSize} tokens`,
    ]);
  }

  const logitsShape = out.logits.dims.slice(1);
  if (sc.task === 'vqa') {
    const A = sc.answers!.length;
    if (out.logits.dims.length !== 2 || out.logits.dims[0] !== probe.size || out.logits.dims[1] !== A) {
      problems.push(`output "${sc.logits}" is [${out.logits.dims.join(', ')}] on a batch of ${probe.size}, expected [${probe.size}, ${A}] (the sidecar lists ${A} answers): make "answers" the model's answer classes in logit order`);
    }
  }
  const maps: TeacherCheckSummary['maps'] = {};
  sc.attention.forEach((a, i) => {
    const m = out.maps[a.output]!;
    const d = m.dims;
    if (d.length !== 4 || d[0] !== probe.size) {
      problems.push(`output "${a.output}" is [${d.join(', ')}] on a batch of ${probe.size}: attention outputs must be [batch, heads, queries, keys]`);
      return;
    }
    const [, H, Q, K] = d as [number, number, number, number];
    if (H !== a.heads) {
      problems.push(`output "${a.output}" has ${H} heads ([B, H, Q, K] = [${d.join(', ')}]) but the sidecar says attention[${i}].heads = ${a.heads}: set heads to ${H}`);
      return;
    }
    maps[a.output] = [H, Q, K];
    const bad = firstNonProbabilityRow(m.data, H, Q, K);
    if (bad) {
      problems.push(
        `output "${a.output}" is not row-stochastic on the probe input: head ${bad.head}, query ${bad.query} ${bad.why}. ` +
          `Export the attention probabilities (softmax over keys, after masking) as [B, H, Q, K], not the scores or logits`,
      );
    }
  });
  if (problems.length > 0) throw refusal(where, problems);
  return { maps, logitsShape };
}

/** The first row of example 0 (unpadded) that is not a probability distribution, or null. */
function firstNonProbabilityRow(data: Float32Array, H: number, Q: number, K: number): { head: number; query: number; why: string } | null {
  for (let h = 0; h < H; h++) {
    for (let q = 0; q < Q; q++) {
      const row = data.subarray((h * Q + q) * K, (h * Q + q + 1) * K); // example 0
      let sum = 0;
      let min = Infinity;
      for (const v of row) {
        if (!Number.isFinite(v)) return { head: h, query: q, why: `holds ${v}` };
        sum += v;
        min = Math.min(min, v);
      }
      if (min < MIN_PROBABILITY) return { head: h, query: q, why: `has a negative value ${min.toPrecision(3)}` };
      if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) return { head: h, query: q, why: `sums to ${sum.toPrecision(4)} over the keys, not 1` };
    }
  }
  return null;
}

function refusal(where: string, problems: readonly string[]): OnnxTeacherError {
  return new OnnxTeacherError(`${where} does not match its sidecar (docs/TEACHERS.md):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}
