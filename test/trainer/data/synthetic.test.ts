import { Prng } from '../../../trainer/data/prng';
import { CAPTIONS_PER_IMAGE, generateSynthetic, renderItem, syntheticExample } from '../../../trainer/data/synthetic/generate';
import { nounPhrase, prepositionalPhrase, NOUNS } from '../../../trainer/data/synthetic/german';
import { VQA_ANSWERS, VQA_QUESTION_TYPES } from '../../../trainer/data/synthetic/vqa';
import { COLOURS, SHAPES, sceneKey, type Colour, type Shape } from '../../../trainer/data/synthetic/world';
import { coloursIn, readShape } from './pixel-oracle';

const S = 32;

describe('Prng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Prng(7), b = new Prng(7), c = new Prng(8);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('gives roughly uniform integers', () => {
    const rng = new Prng(1);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400); // ~4.4 σ
  });
});

describe('synthetic generator', () => {
  it('is deterministic from the seed: same examples, same pixels', () => {
    const a = generateSynthetic('vqa', 11, { train: 50, val: 10, test: 10 });
    const b = generateSynthetic('vqa', 11, { train: 50, val: 10, test: 10 });
    const c = generateSynthetic('vqa', 12, { train: 50, val: 10, test: 10 });
    expect(b.train.map((x) => x.text)).toEqual(a.train.map((x) => x.text));
    expect(Buffer.from(renderItem(b.val[3]!, S)).equals(Buffer.from(renderItem(a.val[3]!, S)))).toBe(true);
    expect(c.train.map((x) => sceneKey(x.scene))).not.toEqual(a.train.map((x) => sceneKey(x.scene)));
  });

  it('fills every split with the requested counts, and splits share no scene', () => {
    for (const task of ['vqa', 'captioning', 'translation'] as const) {
      const s = generateSynthetic(task, 3, { train: 300, val: 60, test: 40 });
      expect([s.train.length, s.val.length, s.test.length]).toEqual([300, 60, 40]);
      const keys = (xs: typeof s.train) => new Set(xs.map((x) => sceneKey(x.scene)));
      const [tr, va, te] = [keys(s.train), keys(s.val), keys(s.test)];
      for (const k of va) expect(tr.has(k) || te.has(k)).toBe(false);
      for (const k of te) expect(tr.has(k)).toBe(false);
      expect(new Set([...s.train, ...s.val, ...s.test].map((x) => x.id)).size).toBe(400);
    }
  });

  it('renders [S, S, 3] uint8 images of the requested size with each object colour visible', () => {
    const item = generateSynthetic('vqa', 5, { train: 5, val: 1, test: 1 }).train[0]!;
    for (const size of [32, 48]) {
      const px = renderItem(item, size);
      expect(px).toBeInstanceOf(Uint8Array);
      expect(px.length).toBe(size * size * 3);
      expect(new Set(coloursIn(px, size))).toEqual(new Set(item.scene.objects.map((o) => o.colour)));
    }
  });
});

describe('synthetic VQA', () => {
  const data = generateSynthetic('vqa', 1, { train: 6000, val: 100, test: 2000 });

  it('asks every question type and balances the answers within each type', () => {
    for (const type of VQA_QUESTION_TYPES) {
      const answers = data.train.filter((x) => x.questionType === type).map((x) => x.answer!);
      expect(answers.length).toBeGreaterThan(900);
      const expected = answers.length / VQA_ANSWERS[type].length;
      for (const a of VQA_ANSWERS[type]) {
        const n = answers.filter((x) => x === a).length;
        expect(Math.abs(n - expected)).toBeLessThan(5 * Math.sqrt(expected));
      }
    }
  });

  it('has a low majority-class baseline (reported: the most frequent answer is about 20%)', () => {
    const counts = new Map<string, number>();
    for (const x of data.train) counts.set(x.answer!, (counts.get(x.answer!) ?? 0) + 1);
    const [majority] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    const testAcc = data.test.filter((x) => x.answer === majority).length / data.test.length;
    expect(testAcc).toBeGreaterThan(0.15);
    expect(testAcc).toBeLessThan(0.25);
  });

  it('is not answerable from the question alone: the best text-only predictor stays near chance', () => {
    // Best text-only predictor, estimated from train: the most frequent answer of each exact question.
    const byQuestion = new Map<string, Map<string, number>>();
    for (const x of data.train) {
      const m = byQuestion.get(x.text) ?? new Map<string, number>();
      m.set(x.answer!, (m.get(x.answer!) ?? 0) + 1);
      byQuestion.set(x.text, m);
    }
    const predict = (q: string) => [...(byQuestion.get(q) ?? new Map([['yes', 1]]))].sort((a, b) => b[1] - a[1])[0]![0];
    const acc = data.test.filter((x) => predict(x.text) === x.answer).length / data.test.length;
    // Chance per type: 1/6, 1/4, 1/4, 1/2, 1/2 → mean 0.333; a question-aware guesser gains little more.
    expect(acc).toBeLessThan(0.42);
  });

  it('answers colour and shape questions consistently with the pixels', () => {
    for (const x of data.test.slice(0, 300)) {
      const px = renderItem(x, S);
      if (x.questionType === 'colour') {
        // The asked-about shape is the only one of its kind; its colour is the answer.
        const shape = x.text.match(/the (\w+)\?$/)![1] as Shape;
        expect(x.scene.objects.filter((o) => o.shape === shape).map((o) => o.colour)).toEqual([x.answer]);
        expect(coloursIn(px, S)).toContain(x.answer);
      } else if (x.questionType === 'shape') {
        const colour = x.text.match(/the (\w+) (?:object|thing)\?$/)![1] as Colour;
        expect(readShape(px, S, colour)).toBe(x.answer);
      } else if (x.questionType === 'count' && /shapes are there|objects are in/.test(x.text)) {
        expect(String(x.scene.objects.length)).toBe(x.answer);
      }
    }
  });
});

describe('synthetic captioning', () => {
  it('gives several references per image that differ, and each mentions only colours in the image', () => {
    const data = generateSynthetic('captioning', 2, { train: 200, val: 10, test: 10 });
    let distinct = 0;
    for (const x of data.train) {
      expect(x.targets).toHaveLength(CAPTIONS_PER_IMAGE);
      if (new Set(x.targets).size > 1) distinct++;
      const present = new Set(x.scene.objects.map((o) => o.colour as string));
      for (const c of x.targets) {
        const mentioned = COLOURS.filter((col) => new RegExp(`\\b${col === 'gray' ? 'gr[ae]y' : col}\\b`).test(c));
        for (const m of mentioned) expect(present.has(m)).toBe(true);
      }
    }
    expect(distinct).toBe(data.train.length);
  });
});

describe('German-like grammar', () => {
  it('declines articles and adjectives by gender and case (hand-checked)', () => {
    expect(nounPhrase({ shape: 'circle', adjectives: ['rot'], definite: true, grammaticalCase: 'nom' })).toBe('der rote Kreis');
    expect(nounPhrase({ shape: 'diamond', adjectives: ['rot'], definite: true, grammaticalCase: 'nom' })).toBe('die rote Raute');
    expect(nounPhrase({ shape: 'triangle', adjectives: ['rot'], definite: true, grammaticalCase: 'dat' })).toBe('dem roten Dreieck');
    expect(nounPhrase({ shape: 'circle', adjectives: ['klein', 'blau'], definite: false, grammaticalCase: 'acc' })).toBe('einen kleinen blauen Kreis');
    expect(nounPhrase({ shape: 'square', adjectives: ['groß', 'gelb'], definite: false, grammaticalCase: 'acc' })).toBe('ein großes gelbes Quadrat');
    expect(nounPhrase({ shape: 'diamond', adjectives: ['weiß'], definite: false, grammaticalCase: 'nom' })).toBe('eine weiße Raute');
    expect(prepositionalPhrase('links von', { shape: 'circle', adjectives: ['grün'], definite: true, grammaticalCase: 'dat' })).toBe('links vom grünen Kreis');
    expect(prepositionalPhrase('links von', { shape: 'diamond', adjectives: ['grün'], definite: true, grammaticalCase: 'dat' })).toBe('links von der grünen Raute');
    expect(prepositionalPhrase('über', { shape: 'square', adjectives: ['grau'], definite: true, grammaticalCase: 'dat' })).toBe('über dem grauen Quadrat');
  });
});

describe('synthetic translation', () => {
  const data = generateSynthetic('translation', 4, { train: 4000, val: 50, test: 300 });
  const NOUN_TO_SHAPE = new Map(Object.entries(NOUNS).map(([shape, n]) => [n.word, shape as Shape]));
  const targetNouns = (t: string) => t.split(' ').filter((w) => NOUN_TO_SHAPE.has(w)).map((w) => NOUN_TO_SHAPE.get(w)!);

  it('never names a shape in the English source', () => {
    const shapeWord = new RegExp(`\\b(${SHAPES.join('|')})`);
    expect(data.train.filter((x) => shapeWord.test(x.text))).toEqual([]);
  });

  it('a text-only predictor gets the target nouns far less often than an image-aware oracle, which is exact', () => {
    // Best text-only predictor, estimated from train: the most frequent noun sequence per source sentence.
    const table = new Map<string, Map<string, number>>();
    for (const x of data.train) {
      const m = table.get(x.text) ?? new Map<string, number>();
      const key = targetNouns(x.targets[0]!).join(' ');
      m.set(key, (m.get(key) ?? 0) + 1);
      table.set(x.text, m);
    }
    let textOnly = 0, oracle = 0;
    for (const x of data.test) {
      const truth = targetNouns(x.targets[0]!);
      expect(truth).toEqual(x.referents);
      const guess = [...(table.get(x.text) ?? new Map([['circle', 1]]))].sort((a, b) => b[1] - a[1])[0]![0];
      if (guess === truth.join(' ')) textOnly++;
      // Oracle: each colour word of the source names one object; read its shape from the pixels.
      const px = renderItem(x, S);
      const colours = x.text.split(' ').filter((w): w is Colour => (COLOURS as readonly string[]).includes(w));
      const seen = colours.map((c) => readShape(px, S, c));
      if (seen.join(' ') === truth.join(' ')) oracle++;
    }
    expect(oracle / data.test.length).toBe(1);
    expect(textOnly / data.test.length).toBeLessThan(0.35); // ≈ 1/4 for one noun, 1/16 for two
  });

  it('makes articles depend on the image: the same source gets different articles', () => {
    const bySource = new Map<string, Set<string>>();
    for (const x of data.train) {
      const s = bySource.get(x.text) ?? new Set<string>();
      s.add(x.targets[0]!.split(' ')[0] === 'es' ? x.targets[0]!.split(' ')[2]! : x.targets[0]!.split(' ')[0]!);
      bySource.set(x.text, s);
    }
    const varied = [...bySource.values()].filter((s) => s.size > 1).length;
    expect(varied / bySource.size).toBeGreaterThan(0.5);
  });
});

describe('syntheticExample', () => {
  it('depends only on (seed, index)', () => {
    expect(syntheticExample('captioning', 9, 17)).toEqual(syntheticExample('captioning', 9, 17));
    expect(syntheticExample('captioning', 9, 17).targets).not.toEqual(syntheticExample('captioning', 9, 18).targets);
  });
});
