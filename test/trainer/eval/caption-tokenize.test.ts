/** PTB-like caption tokenisation (what pycocoevalcap feeds its scorers). */
import { ciderD, cocoBleu, cocoCaptionTokenize } from '../../../trainer/eval';

describe('cocoCaptionTokenize', () => {
  test.each([
    ['A man riding a horse.', 'a man riding a horse'],
    ['Two dogs, playing in the snow!', 'two dogs playing in the snow'],
    ["The dog's toy isn't red", "the dog 's toy is n't red"],
    ['A man in a t-shirt (smiling) holds 3.5 kg of apples.', 'a man in a t-shirt smiling holds 3.5 kg of apples'],
    ['He said "hello" -- then left...', 'he said hello then left'],
    ["1,000 people at the game; wow: it's big", "1,000 people at the game wow it 's big"],
    ["the players' 'quoted' words", 'the players quoted words'],
    ['  A   cat\tsits\n', 'a cat sits'],
  ])('%j → %j', (input, expected) => {
    expect(cocoCaptionTokenize(input)).toBe(expected);
  });

  test('raw captions score like their tokenised forms', () => {
    const raw = { a: 'A red circle, above a blue square.', b: 'Two green stars!' };
    const refs = { a: ['a red circle above a blue square'], b: ['two green stars'] };
    const tokenised = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, cocoCaptionTokenize(v)]));
    expect(cocoBleu(tokenised, refs)[0]).toBeCloseTo(1, 9);
    expect(cocoBleu(raw, refs)[0]).toBeLessThan(1); // "circle," and "square." do not match
    expect(ciderD(tokenised, refs).score).toBeGreaterThan(ciderD(raw, refs).score);
  });
});
