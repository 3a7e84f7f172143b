/**
 * Issue 18: the reported VQA accuracy equals the official scorer's (GT-Vision-Lab/VQA,
 * PythonEvaluationTools/vqaEvaluation/vqaEval.py, `VQAEval.evaluate`) on the RAW annotation
 * files. The official algorithm, per question:
 *   1. every human answer and the prediction: '\n' and '\t' → ' ', then strip;
 *   2. ONLY if the human answers are not all identical (len(set(gtAnswers)) > 1): normalise them
 *      and the prediction (punctuation, lower case, number words → digits, articles dropped);
 *   3. for each human answer left out in turn (the 10-choose-9 subsets):
 *      acc = min(1, #(other answers == prediction) / 3); the question scores their mean;
 *   4. the corpus scores the mean over questions.
 * Every expected value below is worked out by hand from these rules (derivations in comments),
 * and `officialEvaluate` re-states them independently of trainer/eval over the raw JSON files.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLayout, runUriFor } from '../../../contract/layout';
import { parseJobSpec } from '../../../contract/spec';
import { initBackend } from '../../../trainer/backend';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { VQA_ANSWERS } from '../../../trainer/data/synthetic/vqa';
import { normalizeVqaAnswer, vqaAccuracy, vqaAccuracyOne } from '../../../trainer/eval';
import { EvalResultSchema } from '../../../trainer/eval/result-schema';
import { fitConfigToData } from '../../../trainer/jobs/task';
import { VLModel } from '../../../trainer/model';
import { saveModel } from '../../../trainer/model-io';
import { loadPredictor } from '../../../trainer/predict';
import { evaluateShard, mergeEvaluations } from '../../../trainer/stages/evaluate';
import { cocoName, solidJpeg, write } from '../data/fixtures';

const ten = (...groups: [string, number][]): string[] => groups.flatMap(([a, n]) => Array<string>(n).fill(a));

describe('official VQA accuracy of one question, values worked out by hand', () => {
  test('unanimous answers are compared raw: "t-shirt" ×10 gives "t shirt" 0 and "t-shirt" 1', () => {
    // set size 1 → no normalisation; "t shirt" ≠ "t-shirt" → 0 matches in every subset → 0.
    expect(vqaAccuracyOne('t shirt', ten(['t-shirt', 10]))).toBe(0);
    // every subset holds 9 × "t-shirt" → min(1, 9/3) = 1.
    expect(vqaAccuracyOne('t-shirt', ten(['t-shirt', 10]))).toBe(1);
    // case is not folded either: "T-shirt" ≠ "t-shirt".
    expect(vqaAccuracyOne('T-shirt', ten(['t-shirt', 10]))).toBe(0);
  });

  test('unanimous numbers written as words: "two" ×10 gives "2" 0 and "two" 1', () => {
    expect(vqaAccuracyOne('2', ten(['two', 10]))).toBe(0);
    expect(vqaAccuracyOne('two', ten(['two', 10]))).toBe(1);
    // ...and the other way round.
    expect(vqaAccuracyOne('two', ten(['2', 10]))).toBe(0);
  });

  test('unanimous answers with an article keep it: "a dog" ×10 gives "dog" 0', () => {
    expect(vqaAccuracyOne('dog', ten(['a dog', 10]))).toBe(0);
    expect(vqaAccuracyOne('a dog', ten(['a dog', 10]))).toBe(1);
  });

  test('disagreement: both sides normalised, then the leave-one-out mean', () => {
    // "t-shirt" ×2 + "T-shirt" ×1 + "shirt" ×7 → "t shirt" ×3, "shirt" ×7; prediction "t shirt" → 3 matches:
    // 3 subsets drop a match (2/3), 7 keep all three (1) → (3·2/3 + 7·1)/10 = 9/10.
    const humans = ten(['t-shirt', 2], ['T-shirt', 1], ['shirt', 7]);
    expect(vqaAccuracyOne('t shirt', humans)).toBeCloseTo(0.9, 12);
    expect(vqaAccuracyOne('t-shirt', humans)).toBeCloseTo(0.9, 12);
    // "two" ×2 + "2" ×1 + "3" ×7 → "2" ×3: "two", "2" and "Two." all normalise to "2" → 9/10.
    for (const p of ['two', '2', 'Two.']) expect(vqaAccuracyOne(p, ten(['two', 2], ['2', 1], ['3', 7]))).toBeCloseTo(0.9, 12);
    // "the dog" + "dog" + "a cat" ×8 → "dog" ×2, "cat" ×8; "a dog" → "dog", 2 matches:
    // 2 subsets keep 1 (1/3), 8 keep 2 (2/3) → (2/3 + 16/3)/10 = 0.6.
    expect(vqaAccuracyOne('a dog', ten(['the dog', 1], ['dog', 1], ['a cat', 8]))).toBeCloseTo(0.6, 12);
    // 1 match: 1 subset 0, 9 subsets 1/3 → 0.3; 4 matches: every subset ≥ 3 → 1.
    expect(vqaAccuracyOne('Cat', ten(['cat', 1], ['dog', 9]))).toBeCloseTo(0.3, 12);
    expect(vqaAccuracyOne('yes!', ten(['yes', 4], ['no', 6]))).toBe(1);
  });
});

/** The official evaluate loop over the raw annotation file, restated here (see the module comment). */
interface RawAnnotation {
  question_id: number;
  answers: { answer: string; answer_confidence: string; answer_id: number }[];
}
function officialEvaluate(annotationsFile: string, predictions: Record<string, string>): { overall: number; perQuestion: Record<string, number> } {
  const { annotations } = JSON.parse(readFileSync(annotationsFile, 'utf8')) as { annotations: RawAnnotation[] };
  const clean = (s: string) => s.replace(/\n/g, ' ').replace(/\t/g, ' ').trim();
  const perQuestion: Record<string, number> = {};
  for (const ann of annotations) {
    let gts = ann.answers.map((a) => ({ ...a, answer: clean(a.answer) }));
    let res = clean(predictions[String(ann.question_id)]!);
    if (new Set(gts.map((g) => g.answer)).size > 1) {
      gts = gts.map((g) => ({ ...g, answer: normalizeVqaAnswer(g.answer) }));
      res = normalizeVqaAnswer(res);
    }
    // `item != gtAnsDatum` compares the answer dicts by value (answer, confidence, answer_id).
    const same = (x: RawAnnotation['answers'][number], y: RawAnnotation['answers'][number]) =>
      x.answer === y.answer && x.answer_confidence === y.answer_confidence && x.answer_id === y.answer_id;
    const accs = gts.map((left) => Math.min(1, gts.filter((o) => !same(o, left) && o.answer === res).length / 3));
    perQuestion[String(ann.question_id)] = accs.reduce((s, a) => s + a, 0) / accs.length;
  }
  const values = Object.values(perQuestion);
  return { overall: values.reduce((s, a) => s + a, 0) / values.length, perQuestion };
}

const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * A VQA v2-layout set whose raw answers carry punctuation, number words and articles.
 * Train classes (labels): "t shirt", "2", "yes", "dog", "no"; raw forms among the training
 * annotations: "t shirt" ← "t-shirt" ×8, "t shirt" ×3, "T-Shirt" ×1; "2" ← "two" ×6, "2" ×4;
 * "dog" ← "a dog" ×5, "dog" ×3, "the dog" ×2; "yes" ← "yes" ×10; "no" ← "no" ×7.
 */
function writeRawVqa(root: string) {
  for (const id of [1, 2]) write(path.join(root, 'train2014', cocoName('train', id)), solidJpeg(8, 8, [40 * id, 0, 0]));
  for (const id of [10, 11]) write(path.join(root, 'val2014', cocoName('val', id)), solidJpeg(8, 8, [0, 20 * id, 0]));
  const train = [
    { qid: 1, img: 1, mc: 't-shirt', answers: ten(['t-shirt', 8], ['T-Shirt', 1], ['tshirt', 1]) },
    { qid: 2, img: 1, mc: '2', answers: ten(['two', 6], ['2', 4]) },
    { qid: 3, img: 2, mc: 'yes', answers: ten(['yes', 10]) },
    { qid: 4, img: 2, mc: 'dog', answers: ten(['a dog', 5], ['dog', 3], ['the dog', 2]) },
    { qid: 5, img: 2, mc: 'no', answers: ten(['no', 7], ['t shirt', 3]) },
  ];
  const val = [
    { qid: 101, img: 10, mc: 't-shirt', answers: ten(['t-shirt', 10]) },
    { qid: 102, img: 10, mc: 'two', answers: ten(['two', 10]) },
    { qid: 103, img: 10, mc: 'a dog', answers: ten(['a dog', 10]) },
    { qid: 104, img: 11, mc: 'shirt', answers: ten(['t-shirt', 2], ['T-shirt', 1], ['shirt', 7]) },
    { qid: 105, img: 11, mc: '3', answers: ten(['two', 2], ['2', 1], ['3', 7]) },
    { qid: 106, img: 11, mc: 'cat', answers: ten(['the dog', 1], ['dog', 1], ['a cat', 8]) },
  ];
  const files = (split: string, items: typeof train) => ({
    questions: write(
      path.join(root, `v2_OpenEnded_mscoco_${split}2014_questions.json`),
      JSON.stringify({ questions: items.map((x) => ({ image_id: x.img, question: 'what is it?', question_id: x.qid })) }),
    ),
    annotations: write(
      path.join(root, `v2_mscoco_${split}2014_annotations.json`),
      JSON.stringify({
        annotations: items.map((x) => ({
          question_id: x.qid, image_id: x.img, multiple_choice_answer: x.mc, question_type: 'what', answer_type: 'other',
          answers: x.answers.map((answer, i) => ({ answer, answer_confidence: 'yes', answer_id: i + 1 })),
        })),
      }),
    ),
  });
  const t = files('train', train);
  const v = files('val', val);
  return {
    valAnnotations: v.annotations,
    source: {
      format: 'vqa-v2' as const,
      questions: { train: t.questions, val: v.questions },
      annotations: { train: t.annotations, val: v.annotations },
      images: { train: path.join(root, 'train2014'), val: path.join(root, 'val2014') },
      imageSize: 8,
      shardSize: 4,
    },
  };
}

describe('prepared VQA v2 data scored against the raw annotation files', () => {
  let fx: ReturnType<typeof writeRawVqa>;
  let dataDir: string;
  beforeAll(async () => {
    fx = writeRawVqa(tmp('vqa-official-'));
    dataDir = tmp('vqa-official-data-');
    await prepareData(fx.source, dataDir);
  });

  test('references keep the human answers as written; classes stay normalised; surface forms are the most frequent raw training form', async () => {
    const ds = await openDataset(dataDir);
    const refs = await ds.split('test').references();
    expect(refs.get('101')).toEqual(ten(['t-shirt', 10]));
    expect(refs.get('104')).toEqual(ten(['t-shirt', 2], ['T-shirt', 1], ['shirt', 7]));
    expect(refs.get('106')).toEqual(ten(['the dog', 1], ['dog', 1], ['a cat', 8]));
    // Five labels, one each → ties alphabetical.
    expect(ds.answerVocab).toEqual(['2', 'dog', 'no', 't shirt', 'yes']);
    expect(ds.answerSurfaceForms).toEqual(['two', 'a dog', 'no', 't-shirt', 'yes']);
    // Soft targets still count normalised answers: question 1 has "t shirt" ×9 → 1.
    const b = await ds.split('train').batch([0]);
    expect(b.answerScores![ds.answerVocab.indexOf('t shirt')]).toBe(1);
  });

  test('the accuracy on the prepared references equals the official values, for the classes and for their surface forms', async () => {
    const ds = await openDataset(dataDir);
    const refs = Object.fromEntries(await ds.split('test').references());
    // Predicting the normalised classes (what used to be written):
    // 101 "t shirt" vs "t-shirt" ×10 → 0; 102 "2" vs "two" ×10 → 0; 103 "dog" vs "a dog" ×10 → 0;
    // 104 → 0.9; 105 → 0.9; 106 → 0.6 (see above) → mean 2.4 / 6 = 0.4.
    const classes = { '101': 't shirt', '102': '2', '103': 'dog', '104': 't shirt', '105': '2', '106': 'dog' };
    const byClass = vqaAccuracy(classes, refs);
    expect(byClass.perQuestion).toEqual({ '101': 0, '102': 0, '103': 0, '104': expect.closeTo(0.9, 12), '105': expect.closeTo(0.9, 12), '106': expect.closeTo(0.6, 12) });
    expect(byClass.score).toBeCloseTo(0.4, 12);
    // Predicting the surface forms: the unanimous questions now match raw → 1 each → (3 + 2.4) / 6 = 0.9.
    const forms = { '101': 't-shirt', '102': 'two', '103': 'a dog', '104': 't-shirt', '105': 'two', '106': 'a dog' };
    expect(vqaAccuracy(forms, refs).score).toBeCloseTo(0.9, 12);
    // And the restated official loop on the raw file agrees on both, question by question.
    for (const preds of [classes, forms]) {
      const official = officialEvaluate(fx.valAnnotations, preds);
      const ours = vqaAccuracy(preds, refs);
      expect(ours.score).toBeCloseTo(official.overall, 12);
      for (const [id, v] of Object.entries(official.perQuestion)) expect(ours.perQuestion[id]).toBeCloseTo(v, 12);
    }
  });

  test('any prediction drawn from the raw forms scores as the official loop does', async () => {
    const ds = await openDataset(dataDir);
    const refs = Object.fromEntries(await ds.split('test').references());
    const pool = ['t-shirt', 't shirt', 'T-Shirt', 'two', '2', 'Two.', 'a dog', 'dog', 'the dog', 'shirt', '3', 'cat', 'a cat', 'yes', ' no\n'];
    const ids = Object.keys(refs);
    for (let trial = 0; trial < 40; trial++) {
      const preds = Object.fromEntries(ids.map((id, q) => [id, pool[(trial * 7 + q * 5 + ((trial * q) % 3)) % pool.length]!]));
      expect(vqaAccuracy(preds, refs).score).toBeCloseTo(officialEvaluate(fx.valAnnotations, preds).overall, 12);
    }
  });

  test('evaluation and the predictor answer in the surface form: a model that always picks the class "t shirt" answers "t-shirt"', async () => {
    await initBackend();
    const root = tmp('vqa-official-run-');
    const runUri = runUriFor(root, 'run1');
    const layout = runLayout(runUri);
    await prepareData(fx.source, layout.data);
    const ds = await openDataset(layout.data);
    const config = fitConfigToData(
      { fusion: 'single-stream', patchSize: 4, width: 16, mlpWidth: 16, visionLayers: 1, fusionLayers: 1, decoderLayers: 0, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 },
      ds.manifest,
      ds.tokenizer.vocabSize,
      'test model',
    );
    const model = new VLModel(config, { seed: 1 });
    // Answer head: zero weights, bias one-hot on "t shirt" → that class wins for every input.
    const k = ds.answerVocab.indexOf('t shirt');
    for (const { name, tensor } of model.namedWeights()) {
      if (name.endsWith('head/answer/w')) tensor.assign(tf.zerosLike(tensor));
      if (name.endsWith('head/answer/b')) tensor.assign(tf.oneHot([k], ds.answerVocab.length).reshape(tensor.shape).toFloat());
    }
    await saveModel(layout.teacherModel, model, {
      task: 'vqa', tokenizer: ds.tokenizer.toJSON(), answers: ds.answerVocab, answerForms: ds.answerSurfaceForms, pixelStats: ds.manifest.pixelStats, provenance: {},
    });
    model.dispose();

    const spec = parseJobSpec({
      version: 1,
      data: { format: 'synthetic', task: 'vqa' },
      teacher: { checkpoint: 'file:///unused' },
      students: [{ name: 'small', model: {} }],
      evaluation: { latency: { warmup: 1, runs: 1 } },
    });
    const split = ds.split('test');
    const partUris: string[] = [];
    for (let s = 0; s < split.numShards; s++) {
      const outUri = layout.evalPart('teacher', s);
      await evaluateShard({ runUri, spec, model: { modelId: 'teacher', modelUri: layout.teacherModel, stage: null }, shardUri: split.shardUri(s), shardIndex: s, outUri });
      partUris.push(outUri);
    }
    const outUri = layout.evalFile('teacher');
    await mergeEvaluations({ runUri, spec, modelId: 'teacher', partUris, outUri });
    const result = EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(outUri), 'utf8')));
    expect(result.primaryMetric).toBe('vqaAccuracy');
    expect(result.perExample.map((e) => e.prediction)).toEqual(Array(6).fill('t-shirt'));
    // "t-shirt" everywhere: 101 → 1 (raw match); 102, 103 → 0 (unanimous, other raw form);
    // 104 → 0.9 ("t shirt" ×3 after normalising); 105, 106 → 0 → mean 1.9 / 6.
    expect(result.metrics.vqaAccuracy).toBeCloseTo(1.9 / 6, 12);
    const predictions = Object.fromEntries(result.perExample.map((e) => [e.id, e.prediction]));
    expect(result.metrics.vqaAccuracy).toBeCloseTo(officialEvaluate(fx.valAnnotations, predictions).overall, 12);

    const p = await loadPredictor(layout.teacherModel);
    expect(p.answer(new Uint8Array(8 * 8 * 3), 'what is it?').answer).toBe('t-shirt');
    p.dispose();
  });
});

test('the synthetic world answers only in normalised form, so its (label-scored) VQA figures do not change', () => {
  const answers = [...new Set(Object.values(VQA_ANSWERS).flat())];
  expect(answers.length).toBeGreaterThan(0);
  for (const a of answers) expect(normalizeVqaAnswer(a)).toBe(a);
});
