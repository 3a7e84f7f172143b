/**
 * Caption/translation metrics against the shared golden corpora (values computed by
 * pycocoevalcap, vrama91/cider and NLTK 3.8; see shared/golden/metrics/README.md beside the repository).
 * The directory is read at test time, never copied.
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { cider, ciderD, cocoBleu, corpusBleu, MetricInputError } from '../../../trainer/eval';
import { goldenDir } from '../../golden-dir';

const GOLDEN_DIR = goldenDir('metrics', 'AMAD_GOLDEN_METRICS');

const PerImage = z.record(z.string(), z.number());
const GoldenSchema = z.object({
  name: z.string(),
  hypotheses: z.record(z.string(), z.string()),
  references: z.record(z.string(), z.array(z.string())),
  expected: z.object({
    cocoBleu: z.array(z.number()).length(4),
    nltkCorpusBleu4: z.number(),
    nltkCorpusBleu4Smooth1: z.number(),
    cider: z.number(),
    ciderPerImage: PerImage,
    ciderD: z.number(),
    ciderDPerImage: PerImage,
  }),
  extra: z.object({ ciderOriginal: z.number(), ciderOriginalPerImage: PerImage }),
});

/** 1e-6 relative, 1e-9 absolute near zero (the README's tolerance). */
function expectClose(actual: number, expected: number, what: string): void {
  const err = Math.abs(actual - expected);
  const ok = err <= 1e-9 || err <= 1e-6 * Math.abs(expected);
  if (!ok) throw new Error(`${what}: got ${actual}, expected ${expected} (|Δ| = ${err})`);
}

function expectPerImage(actual: Record<string, number>, expected: Record<string, number>, what: string): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [id, v] of Object.entries(expected)) expectClose(actual[id]!, v, `${what}[${id}]`);
}

const files = fs.existsSync(GOLDEN_DIR) ? fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.json')).sort() : [];

describe('golden metric corpora', () => {
  test('the golden directory holds corpora', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  describe.each(files)('%s', (file) => {
    const golden = GoldenSchema.parse(JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, file), 'utf8')));
    const { hypotheses: hyps, references: refs, expected } = golden;

    test('cocoBleu matches BLEU-1..4 of pycocoevalcap Bleu(4)', () => {
      const bleu = cocoBleu(hyps, refs);
      expect(bleu).toHaveLength(4);
      bleu.forEach((b, k) => expectClose(b, expected.cocoBleu[k]!, `BLEU-${k + 1}`));
    });

    test('corpusBleu matches NLTK corpus_bleu without smoothing and with method1', () => {
      expectClose(corpusBleu(hyps, refs), expected.nltkCorpusBleu4, 'nltk BLEU-4');
      expectClose(corpusBleu(hyps, refs, { smoothing: 'none' }), expected.nltkCorpusBleu4, 'nltk BLEU-4 (none)');
      expectClose(corpusBleu(hyps, refs, { smoothing: 'method1' }), expected.nltkCorpusBleu4Smooth1, 'nltk BLEU-4 method1');
    });

    test('ciderD matches the COCO Cider scorer, corpus and per image', () => {
      const r = ciderD(hyps, refs);
      expectClose(r.score, expected.ciderD, 'CIDEr-D');
      expectPerImage(r.perImage, expected.ciderDPerImage, 'CIDEr-D');
      expectClose(r.score, expected.cider, 'COCO Cider (is CIDEr-D)');
    });

    test('cider matches original CIDEr (no clipping, no length penalty)', () => {
      const r = cider(hyps, refs);
      expectClose(r.score, golden.extra.ciderOriginal, 'CIDEr');
      expectPerImage(r.perImage, golden.extra.ciderOriginalPerImage, 'CIDEr');
    });
  });
});

describe('hand-checked metric properties', () => {
  test('a perfect single-reference corpus scores BLEU 1 (both definitions)', () => {
    const hyps = { a: 'a red circle above a blue square', b: 'two big green stars' };
    const refs = { a: ['a red circle above a blue square'], b: ['two big green stars'] };
    cocoBleu(hyps, refs).forEach((b) => expectClose(b, 1, 'coco'));
    expectClose(corpusBleu(hyps, refs), 1, 'nltk');
  });

  test('NLTK floors each sentence denominator at 1; COCO counts max(0, len − n + 1)', () => {
    // "two green stars" has no 4-gram: NLTK adds 0/1 to p4, so p4 = 4/(4 + 1) over the corpus
    // (7-word sentence: 4 correct 4-grams); COCO adds 0/0 and keeps p4 = 4/4.
    const hyps = { a: 'a red circle above a blue square', b: 'two green stars' };
    const refs = { a: ['a red circle above a blue square'], b: ['two green stars'] };
    expectClose(corpusBleu(hyps, refs), (4 / 5) ** 0.25, 'nltk');
    expectClose(cocoBleu(hyps, refs)[3], 1, 'coco');
  });

  test('brevity penalty: a hypothesis half as long as its only reference (all n-grams correct)', () => {
    // c = 4, r = 8: BP = exp(1 − 8/4) = e^-1; all precisions 1.
    const hyps = { x: 'w1 w2 w3 w4' };
    const refs = { x: ['w1 w2 w3 w4 w5 w6 w7 w8'] };
    expectClose(corpusBleu(hyps, refs), Math.exp(-1), 'nltk BP');
    expectClose(cocoBleu(hyps, refs)[3], Math.exp(-1), 'coco BP');
  });

  test('the closest reference length breaks ties toward the shorter reference', () => {
    // c = 3, refs of length 2 and 4 are equally close; the shorter (2) wins → no penalty (c > r).
    const hyps = { x: 'a b c' };
    const refs = { x: ['a b', 'a b c d'] };
    // NLTK: p1 = 3/3, p2 = 2/2, p3 = 1/1 ('a b c' is in ref 2), p4 numerator 0 → float min.
    const expected = Math.exp(0.25 * Math.log(2.2250738585072014e-308));
    expectClose(corpusBleu(hyps, refs), expected, 'nltk tie');
    // With the longer reference the brevity penalty would have been exp(1 − 4/3).
    expect(cocoBleu(hyps, refs)[2]).toBeCloseTo(1, 6);
  });

  test('CIDEr-D penalises repetition that original CIDEr rewards', () => {
    const refs = { a: ['a red circle'], b: ['a blue square'], c: ['a green star'] };
    const good = { a: 'a red circle', b: 'a blue square', c: 'a green star' };
    const repeat = { ...good, a: 'red red red red red red circle circle circle' };
    expect(ciderD(repeat, refs).perImage.a!).toBeLessThan(ciderD(good, refs).perImage.a!);
    expect(ciderD(repeat, refs).perImage.a!).toBeLessThan(cider(repeat, refs).perImage.a!);
  });

  test('mismatched ids are rejected naming the ids', () => {
    expect(() => cocoBleu({ a: 'x' }, { b: ['x'] })).toThrow(MetricInputError);
    expect(() => ciderD({ a: 'x' }, { a: ['x'], b: ['y'] })).toThrow(/no hypothesis for id\(s\) "b"/);
    expect(() => corpusBleu({ a: 'x' }, { a: [] })).toThrow(/at least one reference/);
    expect(() => corpusBleu({}, {})).toThrow(/empty/);
    expect(() => corpusBleu({ a: 'x' }, { a: ['x'] }, { smoothing: 'method7' as never })).toThrow(/smoothing/);
  });
});
