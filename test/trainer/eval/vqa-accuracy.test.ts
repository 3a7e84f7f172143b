/** VQA accuracy and the official answer normalisation, on hand-worked examples. */
import { normalizeVqaAnswer, plainAccuracy, processPunctuation, vqaAccuracy, vqaAccuracyOne } from '../../../trainer/eval';

const ten = (counts: Record<string, number>): string[] => Object.entries(counts).flatMap(([a, n]) => Array<string>(n).fill(a));

describe('vqaAccuracyOne (official leave-one-out over the 10 choose 9 subsets)', () => {
  test('3 or more matching humans: every subset still has ≥ 3 others → 1', () => {
    // 4 say "2": leaving out a "2" leaves 3 → 1; leaving out another leaves 4 → 1.
    expect(vqaAccuracyOne('2', ten({ '2': 4, '3': 6 }))).toBe(1);
  });

  test('exactly 3 matching humans: 3 subsets see 2 matches (2/3), 7 see 3 (1) → 0.9', () => {
    // (3 · 2/3 + 7 · 1) / 10 = 9/10
    expect(vqaAccuracyOne('yes', ten({ yes: 3, no: 7 }))).toBeCloseTo(0.9, 12);
  });

  test('2 matching humans: (2 · 1/3 + 8 · 2/3) / 10 = 0.6', () => {
    expect(vqaAccuracyOne('red', ten({ red: 2, blue: 8 }))).toBeCloseTo(0.6, 12);
  });

  test('1 matching human: (1 · 0 + 9 · 1/3) / 10 = 0.3', () => {
    expect(vqaAccuracyOne('cat', ten({ cat: 1, dog: 9 }))).toBeCloseTo(0.3, 12);
  });

  test('no matching human → 0', () => {
    expect(vqaAccuracyOne('bird', ten({ cat: 1, dog: 9 }))).toBe(0);
  });

  test('normalisation makes "Two." match "2" and drops articles', () => {
    // Answers differ, so both sides are normalised: "Two." → "2", "the dog" → "dog".
    expect(vqaAccuracyOne('Two.', ten({ '2': 3, '3': 7 }))).toBeCloseTo(0.9, 12);
    expect(vqaAccuracyOne('the dog', ten({ dog: 5, 'a cat': 5 }))).toBe(1);
  });

  test('official quirk: all-identical human answers are NOT normalised', () => {
    // gt set has one element → no processing → "Two" ≠ "2".
    expect(vqaAccuracyOne('Two', ten({ '2': 10 }))).toBe(0);
    expect(vqaAccuracyOne(' 2\n', ten({ '2': 10 }))).toBe(1); // whitespace clean-up always applies
  });

  test('a single reference always scores 0 (leave-one-out); plainAccuracy handles that data', () => {
    expect(vqaAccuracyOne('yes', ['yes'])).toBe(0);
    expect(plainAccuracy({ q: 'Yes!' }, { q: ['yes'] }).score).toBe(1);
    expect(plainAccuracy({ q: 'Yes!' }, { q: ['yes'] }, { normalize: false }).score).toBe(0);
  });
});

describe('vqaAccuracy over a corpus', () => {
  test('mean of the per-question accuracies', () => {
    const r = vqaAccuracy(
      { q1: 'yes', q2: 'red', q3: 'bird' },
      { q1: ten({ yes: 3, no: 7 }), q2: ten({ red: 2, blue: 8 }), q3: ten({ cat: 10 }) },
    );
    expect(r.perQuestion).toEqual({ q1: expect.closeTo(0.9, 12), q2: expect.closeTo(0.6, 12), q3: 0 });
    expect(r.score).toBeCloseTo((0.9 + 0.6 + 0) / 3, 12);
  });

  test('rejects a missing prediction naming the question', () => {
    expect(() => vqaAccuracy({ q1: 'yes' }, { q1: ['yes'], q2: ['no'] })).toThrow(/"q2"/);
  });
});

describe('official answer normalisation', () => {
  test.each([
    ['Two', '2'],
    ['none', '0'],
    ['the red one', 'red 1'],
    ['An apple.', 'apple'],
    ['dont', "don't"],
    ['isnt it', "isn't it"],
    ['yes!', 'yes'],
    ['black and white', 'black and white'],
    ['3.5', '3.5'], // a period followed by a digit stays
    ['1,000', '1000'], // digit,digit: commas (all punctuation) deleted
    ['t-shirt', 't shirt'], // a hyphen touching no space becomes a space
    ['red - white', 'red white'], // touching a space: deleted, then whitespace collapses
    ['Yes/no', 'yes no'],
    ["man's", "man's"], // apostrophes are not punctuation
  ])('%j → %j', (input, expected) => {
    expect(normalizeVqaAnswer(input)).toBe(expected);
  });

  test('the period regex removes at most 32 periods (re.UNICODE passed as count)', () => {
    const out = processPunctuation('.'.repeat(40));
    expect(out).toBe('.'.repeat(8));
  });
});
