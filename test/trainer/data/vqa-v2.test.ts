import { mkdtempSync, rmSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../../../trainer/data/dataset';
import { DataError } from '../../../trainer/data/errors';
import { prepareData } from '../../../trainer/data/prepare';
import { buildAnswerVocab, encodeAnswers, mostFrequentAnswer, softScores } from '../../../trainer/data/vqa-answers';
import { normalizeVqaAnswer } from '../../../trainer/data/vqa-normalize';
import { cocoName, write, writeVqaFixture } from './fixtures';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'amad-vqa-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('VQA soft scores (hand-worked)', () => {
  it('scores min(count / 3, 1) per distinct answer', () => {
    const answers = [...Array(7).fill('yes'), 'no', 'no', 'maybe'];
    expect([...softScores(answers)]).toEqual([['yes', 1], ['no', 2 / 3], ['maybe', 1 / 3]]);
    expect([...softScores(['a', 'a', 'a', 'b'])]).toEqual([['a', 1], ['b', 1 / 3]]);
  });

  it('encodes sparse (class, score) pairs for in-vocabulary answers only, highest first', () => {
    const classes = new Map([['yes', 0], ['no', 1], ['2', 2]]);
    const enc = encodeAnswers(['no', 'yes', 'yes', 'yes', 'yes', 'maybe', 'no', 'maybe', 'maybe', 'maybe'], 'yes', classes);
    expect(Array.from(enc.answerIndex.slice(0, 3))).toEqual([0, 1, -1]);
    expect(enc.answerScore[0]).toBe(1);
    expect(enc.answerScore[1]).toBeCloseTo(2 / 3, 6);
    expect(enc.answerLabel).toBe(0);
    expect(encodeAnswers(['maybe'], 'maybe', classes).answerLabel).toBe(-1);
  });

  it('picks the most frequent answer (ties alphabetical) and the K most frequent labels', () => {
    expect(mostFrequentAnswer(['b', 'a', 'b', 'a', 'c'])).toBe('a');
    expect(buildAnswerVocab(['x', 'y', 'y', 'z', 'z', 'w'], 2)).toEqual(['y', 'z']);
  });

  it('normalises answers with the official rules (shared with evaluation)', () => {
    expect(normalizeVqaAnswer('Two')).toBe('2');
    expect(normalizeVqaAnswer('the blue')).toBe('blue');
    expect(normalizeVqaAnswer('Red.')).toBe('red');
    expect(normalizeVqaAnswer('dont')).toBe("don't");
  });
});

describe('VQA v2 layout', () => {
  it('prepares questions, normalised answers, soft scores and images', async () => {
    const fx = writeVqaFixture(tmp());
    const out = tmp();
    const summary = await prepareData(fx.source, out);
    expect(summary.task).toBe('vqa');
    expect(summary.splits.train).toMatchObject({ examples: 6, images: 3, shards: 2 });
    expect(summary.splits.test).toMatchObject({ examples: 2, sameAs: 'val' });
    expect(summary.shardUris.test).toEqual(summary.shardUris.val);
    const ds = await openDataset(out);
    // Train labels: red, yes, green, 2, blue, no → 6 classes (ties alphabetical).
    expect(ds.answerVocab).toEqual(['2', 'blue', 'green', 'no', 'red', 'yes']);
    // Each class answers in its most frequent raw training form ("two" ×1 < "2" ×2; "Red." ×1 < "red" ×8).
    expect(ds.answerSurfaceForms).toEqual(['2', 'blue', 'green', 'no', 'red', 'yes']);
    expect(summary.answerVocabSize).toBe(6);
    expect(summary.answerCoverage).toEqual({ train: 1, val: 0.5, test: 0.5 }); // "white" is not a training answer
    const cls = (a: string) => ds.answerVocab.indexOf(a);
    const train = ds.split('train');
    // Question 201: '2' ×2 + 'two' ×1 → "2" ×3 → 1; 'three' ×2 → "3" (no class); 'a lot' ×5 → "lot" (no class).
    const q201 = await train.record(3);
    expect(q201.id).toBe('201');
    expect(Array.from(q201.answerIndex!.slice(0, 2))).toEqual([cls('2'), -1]);
    expect(q201.answerScore![0]).toBe(1);
    // Question 101: yes ×7 → 1, no ×2 → 2/3 (maybe has no class).
    const b = await train.batch([1]);
    expect(b.answerScores![cls('yes')]).toBe(1);
    expect(b.answerScores![cls('no')]).toBeCloseTo(2 / 3, 6);
    expect(b.answerLabel![0]).toBe(cls('yes'));
    expect(ds.tokenizer.decode(b.text)).toBe('is it red ?');
    // Image of question 200 (green, 12×8 JPEG centre-cropped to 8×8 and resized).
    const img = (await train.record(2)).image;
    expect(img.length).toBe(8 * 8 * 3);
    for (let i = 0; i < img.length; i += 3) {
      expect(img[i]!).toBeLessThan(8);
      expect(img[i + 1]!).toBeGreaterThan(247);
    }
    // Majority baseline: the most frequent label over train, scored on test (= val) by soft score.
    expect(summary.majorityBaseline!.answer).toBe('2');
    expect(summary.majorityBaseline!.testAccuracy).toBe(0);
  });

  it('keeps every annotator answer of the evaluation splits for the official accuracy (not of train)', async () => {
    const fx = writeVqaFixture(tmp());
    const out = tmp();
    await prepareData(fx.source, out);
    const ds = await openDataset(out);
    expect(ds.manifest.splits.train.references).toBeUndefined();
    const refs = await ds.split('val').references();
    // Question 1000: no ×6, yes ×4 — all ten, as written, in order.
    expect(refs.get('1000')).toEqual([...Array(6).fill('no'), ...Array(4).fill('yes')]);
    expect(refs.get('1100')).toEqual(Array(10).fill('white'));
  });

  it('single-answer data (the synthetic world) gets no VQA references file: it is scored against the label', async () => {
    const out = tmp();
    await prepareData({ format: 'synthetic', task: 'vqa', seed: 1, train: 20, val: 5, test: 5, imageSize: 8 }, out);
    const ds = await openDataset(out);
    expect(ds.manifest.splits.test.references).toBeUndefined();
  });

  it('a missing image fails naming the question and the path; skipMissingImages counts it', async () => {
    const fx = writeVqaFixture(tmp());
    const missing = path.join(fx.root, 'train2014', cocoName('train', 2));
    unlinkSync(missing);
    const out = tmp();
    const err = await prepareData(fx.source, out).catch((e: unknown) => e as DataError);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('missing-image');
    expect((err as Error).message).toMatch(/image for question 200 \(image 2\) not found/);
    expect((err as Error).message).toContain(cocoName('train', 2));
    const summary = await prepareData({ ...fx.source, skipMissingImages: true }, out);
    expect(summary.skipped).toEqual({ missingImages: 2, badImages: 0 });
    expect(summary.splits.train.examples).toBe(4);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m.skipped.missingImages).toBe(2);
    expect(m.skipped.items.map((i: { id: string }) => i.id)).toEqual(['200', '201']);
  });

  it('an image that fails to decode is named; skipBadImages counts it', async () => {
    const fx = writeVqaFixture(tmp());
    writeFileSync(path.join(fx.root, 'val2014', cocoName('val', 11)), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]));
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/cannot decode the image for question 1100 \(image 11\).*COCO_val2014_000000000011\.jpg/);
    writeFileSync(path.join(fx.root, 'val2014', cocoName('val', 11)), 'not an image');
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/not a JPEG or PNG file/);
    const summary = await prepareData({ ...fx.source, skipBadImages: true }, tmp());
    expect(summary.skipped.badImages).toBe(1);
    expect(summary.splits.val.examples).toBe(1);
  });

  it('malformed or truncated JSON is reported with the file and the position', async () => {
    const fx = writeVqaFixture(tmp());
    const qFile = fx.source.questions.train;
    writeFileSync(qFile, '{\n  "questions": [\n    {"image_id": 1,, "question": "x"}\n  ]\n}');
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/v2_OpenEnded_mscoco_train2014_questions\.json: malformed JSON at line 3, column \d+/);
    writeFileSync(qFile, '{"questions": [{"image_id": 1, "question": "x", "quest');
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/questions\.json: malformed JSON at line 1, column \d+ \(offset \d+, end of file: truncated\?\)/);
    writeFileSync(qFile, JSON.stringify({ questions: [{ image_id: 'one', question: 'x', question_id: 5 }] }));
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/questions\.json does not have the expected layout[\s\S]*questions\.0\.image_id/);
  });

  it('a bad element deep in a streamed annotations file names the file and the field', async () => {
    const fx = writeVqaFixture(tmp());
    const aFile = fx.source.annotations.train;
    const ann = JSON.parse(readFileSync(aFile, 'utf8'));
    delete ann.annotations[4].answers;
    ann.annotations[2].question_id = 'x';
    writeFileSync(aFile, JSON.stringify(ann));
    const err = (await prepareData(fx.source, tmp()).catch((e: unknown) => e)) as DataError;
    expect(err.code).toBe('bad-json');
    // The first bad element stops the stream: its index and field, and the file.
    expect(err.message).toMatch(/v2_mscoco_train2014_annotations\.json does not have the expected layout:\n {2}- annotations\.2\.question_id/);
    writeFileSync(aFile, JSON.stringify({ info: {}, annotation: [] }));
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/annotations\.json does not have the expected layout:\n {2}- annotations: missing \(expected an array\)/);
  });

  it('question and annotation ids that do not match are listed', async () => {
    const fx = writeVqaFixture(tmp());
    const aFile = fx.source.annotations.val;
    const ann = JSON.parse(readFileSync(aFile, 'utf8'));
    ann.annotations[0].question_id = 999;
    writeFileSync(aFile, JSON.stringify(ann));
    const err = (await prepareData(fx.source, tmp()).catch((e: unknown) => e)) as DataError;
    expect(err.code).toBe('id-mismatch');
    expect(err.message).toMatch(/1 question id\(s\) have no annotation \(1000\); 1 annotation\(s\) have no question \(999\)/);
  });

  it('an empty split is refused, naming the split', async () => {
    const fx = writeVqaFixture(tmp());
    write(fx.source.questions.val, JSON.stringify({ questions: [] }));
    write(fx.source.annotations.val, JSON.stringify({ annotations: [] }));
    await expect(prepareData(fx.source, tmp())).rejects.toThrow(/the val split of the vqa-v2 source has no examples/);
  });

  it('reads the image pattern with {split} and zero-padded {id:N}', async () => {
    const fx = writeVqaFixture(tmp());
    const out = tmp();
    const renamed = { ...fx.source, imagePattern: 'img-{id:3}.jpg', images: { train: path.join(fx.root, 'flat'), val: path.join(fx.root, 'flat') } };
    for (const [split, id] of [['train', 1], ['train', 2], ['train', 3], ['val', 10], ['val', 11]] as const) {
      write(path.join(fx.root, 'flat', `img-${String(id).padStart(3, '0')}.jpg`), readFileSync(path.join(fx.root, `${split}2014`, cocoName(split, id))));
    }
    await expect(prepareData(renamed, out)).resolves.toMatchObject({ splits: { train: { examples: 6 } } });
  });
});
