/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The ONNX teacher check (trainer/onnx/teacher-check.ts, check-spec.ts) on the PyTorch-exported
 * fixture (test/fixtures/onnx-teacher, made by examples/teachers/pytorch/train_and_export.py):
 * the fixture passes and ONNX Runtime reproduces PyTorch's outputs; every bad teacher — built
 * from the fixture by editing its sidecar, or as a tiny hand-built ONNX graph — is refused with
 * a message naming the input/output and the fix.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { OnnxSidecarInput } from '../../../contract/onnx-model';
import { parseJobSpec, type JobSpecInput } from '../../../contract/spec';
import { checkOnnxTeacherOfSpec } from '../../../trainer/onnx/check-spec';
import { OnnxTeacher, readTeacherTokenizer, type OnnxTeacherRef } from '../../../trainer/onnx/onnx-teacher';
import { checkOnnxTeacher } from '../../../trainer/onnx/teacher-check';
import { resetOnnxRuntimeForTests } from '../../../trainer/onnx/runtime';
import { FIXTURE, readReference } from '../../helpers/onnx-fixture';
import { tinyTeacherOnnx } from '../../helpers/tiny-onnx';

const FIXTURE_REF: OnnxTeacherRef = { onnx: path.join(FIXTURE, 'teacher.onnx'), sidecar: path.join(FIXTURE, 'teacher.onnx.json') };
const fixtureSidecar = (): OnnxSidecarInput => JSON.parse(readFileSync(FIXTURE_REF.sidecar, 'utf8'));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'amad-onnx-check-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A teacher: the fixture's model (or `model` bytes) with an edited copy of its sidecar and tokenizer. */
function teacherWith(edit: (s: OnnxSidecarInput) => void, model?: Uint8Array): OnnxTeacherRef {
  const d = path.join(dir, `t${n++}`);
  mkdirSync(d);
  const sidecar = fixtureSidecar();
  edit(sidecar);
  writeFileSync(path.join(d, 'teacher.onnx.json'), JSON.stringify(sidecar));
  copyFileSync(path.join(FIXTURE, 'tokenizer.json'), path.join(d, 'tokenizer.json'));
  const onnx = path.join(d, 'teacher.onnx');
  if (model) writeFileSync(onnx, model);
  else copyFileSync(FIXTURE_REF.onnx, onnx);
  return { onnx, sidecar: path.join(d, 'teacher.onnx.json') };
}

async function check(ref: OnnxTeacherRef) {
  const teacher = await OnnxTeacher.load(ref);
  try {
    return await checkOnnxTeacher(teacher, await readTeacherTokenizer(teacher.sidecar, ref.sidecar));
  } finally {
    await teacher.release();
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('the PyTorch-exported fixture', () => {
  test('passes the check: 4 fusion layers of 6 heads over 16 patches + 12 tokens, logits over its answers', async () => {
    const summary = await check(FIXTURE_REF);
    expect(Object.keys(summary.maps)).toEqual(['attn.fusionSelf.0', 'attn.fusionSelf.1', 'attn.fusionSelf.2', 'attn.fusionSelf.3']);
    for (const shape of Object.values(summary.maps)) expect(shape).toEqual([6, 28, 28]);
    expect(summary.logitsShape).toEqual([fixtureSidecar().answers!.length]);
  });

  test('ONNX Runtime reproduces what PyTorch computed for the reference inputs', async () => {
    // GIVEN the inputs PyTorch stored and its outputs for them
    const ref = readReference();
    const px = ref.arrays.get('pixel_values')!;
    const B = px.shape[0]!;
    const teacher = await OnnxTeacher.load(FIXTURE_REF);
    try {
      // WHEN ONNX Runtime runs the exported model on the same inputs
      const names = teacher.sidecar.attention.map((a) => a.output);
      const out = await teacher.runFeeds(
        {
          pixel_values: { type: 'float32', data: px.data, dims: px.shape },
          input_ids: { type: 'int64', data: BigInt64Array.from(ref.input_ids.flat(), BigInt), dims: [B, ref.input_ids[0]!.length] },
          attention_mask: { type: 'int64', data: BigInt64Array.from(ref.attention_mask.flat(), BigInt), dims: [B, ref.attention_mask[0]!.length] },
        },
        ['logits', ...names],
      );
      // THEN every output agrees to float32 rounding of different kernels (1e-4 absolute; maps are ≤ 1, logits O(10))
      expect(maxAbsDiff(out.logits!.data, ref.arrays.get('logits')!.data)).toBeLessThan(1e-4);
      for (const name of names) {
        expect(out[name]!.dims).toEqual(ref.arrays.get(name)!.shape);
        expect(maxAbsDiff(out[name]!.data, ref.arrays.get(name)!.data)).toBeLessThan(1e-5);
      }
    } finally {
      await teacher.release();
    }
  });
});

describe('bad teachers are refused with the output/input and the fix', () => {
  test('a missing attention output', async () => {
    const ref = teacherWith((s) => s.attention.push({ output: 'attn.fusionSelf.9', kind: 'fusionSelf', layer: 9, heads: 6 }));
    await expect(check(ref)).rejects.toThrow(/output "attn\.fusionSelf\.9" \(sidecar attention\[4\], fusionSelf layer 9\) is not an output of the model .*export the attention probabilities of that layer as a named output, or remove the entry/);
  });

  test('a missing logits output and a misnamed input', async () => {
    const ref = teacherWith((s) => {
      s.logits = 'answer_logits';
      s.image.input = 'pixels';
    });
    const err = check(ref);
    await expect(err).rejects.toThrow(/input "pixels" \(sidecar image\.input\) is not an input of the model \(its inputs: "pixel_values", "input_ids", "attention_mask"\)/);
    await expect(check(ref)).rejects.toThrow(/output "answer_logits" \(sidecar logits\) is not an output of the model/);
    await expect(check(ref)).rejects.toThrow(/the model has an input "pixel_values" that the sidecar does not describe/);
  });

  test('an attention output whose head count contradicts the sidecar', async () => {
    const ref = teacherWith((s) => {
      s.attention[2]!.heads = 8;
    });
    await expect(check(ref)).rejects.toThrow(/output "attn\.fusionSelf\.2" has 6 heads \(\[B, H, Q, K\] = \[2, 6, 28, 28\]\) but the sidecar says attention\[2\]\.heads = 8: set heads to 6/);
  });

  test('a wrong image size, and a wrong layout', async () => {
    await expect(check(teacherWith((s) => (s.image.size = 64)))).rejects.toThrow(
      /input "pixel_values" has shape \[batch, 3, 32, 32\] but the sidecar says NCHW 64×64 \(\[batch, 3, 64, 64\]\): set image\.layout and image\.size to what the model reads/,
    );
    await expect(check(teacherWith((s) => (s.image.layout = 'NHWC')))).rejects.toThrow(/input "pixel_values" has shape \[batch, 3, 32, 32\] but the sidecar says NHWC 32×32/);
  });

  test('logits whose size contradicts the answer classes', async () => {
    const ref = teacherWith((s) => s.answers!.pop());
    await expect(check(ref)).rejects.toThrow(/output "logits" is \[2, 16\] on a batch of 2, expected \[2, 15\] \(the sidecar lists 15 answers\)/);
  });

  test('a tokenizer with more tokens than the model embeds', async () => {
    const ref = teacherWith(() => undefined);
    const tok = JSON.parse(readFileSync(path.join(path.dirname(ref.sidecar), 'tokenizer.json'), 'utf8'));
    tok.vocab.push(...Array.from({ length: 50 }, (_, i) => `extra${i}`));
    writeFileSync(path.join(path.dirname(ref.sidecar), 'tokenizer.json'), JSON.stringify(tok));
    await expect(check(ref)).rejects.toThrow(/the model failed on a probe batch .*token ids up to \d+\).*the model's vocabulary holds the tokenizer's \d+ tokens/s);
  });

  test('maps that are not row-stochastic (scores, not probabilities); the same graph with 1/K rows passes', async () => {
    const shape = { imageSize: 32, textLength: 12, answers: 16, heads: 6, queries: 28, keys: 28, layers: 4 };
    const bad = teacherWith(() => undefined, tinyTeacherOnnx({ ...shape, rowValue: 0.5 }));
    await expect(check(bad)).rejects.toThrow(
      /output "attn\.fusionSelf\.0" is not row-stochastic on the probe input: head 0, query 0 sums to 14\.00 over the keys, not 1\. Export the attention probabilities/,
    );
    const good = teacherWith(() => undefined, tinyTeacherOnnx({ ...shape, rowValue: 1 / 28 }));
    await expect(check(good)).resolves.toMatchObject({ maps: { 'attn.fusionSelf.0': [6, 28, 28] } });
  });
});

describe('the spec against the ONNX teacher (Validate stage)', () => {
  const student = (patchSize: number, variant: 'kl' | 'relation' = 'kl') => ({
    name: `s${patchSize}${variant}`,
    model: { patchSize, width: 16, mlpWidth: 32, fusionLayers: 2, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 },
    distill: { variant },
  });
  const spec = (over: Partial<JobSpecInput> = {}) =>
    parseJobSpec({
      version: 1,
      data: { format: 'synthetic', task: 'vqa', seed: 7, train: 80, val: 6, test: 10 },
      teacher: { onnx: FIXTURE_REF.onnx, sidecar: FIXTURE_REF.sidecar },
      students: [student(8)],
      ...over,
    } as JobSpecInput);

  test('a 2-head student with the teacher\'s token grid fits', async () => {
    await expect(checkOnnxTeacherOfSpec(spec())).resolves.toMatchObject({ summary: { maps: { 'attn.fusionSelf.3': [6, 28, 28] } } });
  });

  test('a student whose maps have another size is refused, naming the student, the output and the fix', async () => {
    await expect(checkOnnxTeacherOfSpec(spec({ students: [student(4)] }))).rejects.toThrow(
      /students\.0 \(s4kl\): its fusionSelf layer 0 maps are 76×76 but the teacher output "attn\.fusionSelf\.0" it learns from is 28×28: give the student the teacher's token layout/,
    );
  });

  test('without ONNX Runtime (a Validate Lambda bundled without it) the sidecar and layer map are still checked, the model checks deferred', async () => {
    const saved = process.env.AMAD_INFERENCE_RUNTIME;
    process.env.AMAD_INFERENCE_RUNTIME = 'tfjs';
    resetOnnxRuntimeForTests();
    try {
      await expect(checkOnnxTeacherOfSpec(spec())).resolves.toMatchObject({ summary: null, deferred: expect.stringMatching(/model checks run at the start of every CacheTeacher shard/) });
      const undeclared = { ...student(8), distill: { variant: 'kl' as const, layerMap: { fusionSelf: [[0, 7]] as [number, number][] } } };
      await expect(checkOnnxTeacherOfSpec(spec({ students: [undeclared] }))).rejects.toThrow(/teacher layer 7 is not among the teacher's declared fusionSelf outputs/);
    } finally {
      if (saved === undefined) delete process.env.AMAD_INFERENCE_RUNTIME;
      else process.env.AMAD_INFERENCE_RUNTIME = saved;
      resetOnnxRuntimeForTests();
    }
  });

  test('the relation baseline and a disabled cache are refused', async () => {
    await expect(checkOnnxTeacherOfSpec(spec({ students: [student(8, 'relation')] }))).rejects.toThrow(/students\.0\.distill\.variant "relation" needs the teacher's queries\/keys\/values/);
    await expect(checkOnnxTeacherOfSpec(spec({ cache: { enabled: false } }))).rejects.toThrow(/cache\.enabled is false: a teacher given as ONNX teaches through the teacher cache only/);
  });
});
