/** Seed statistics and the Student t distribution against closed forms and table values. */
import { pairedComparison, studentTCdf, studentTTwoSidedP, summarizeSeeds } from '../../../trainer/eval';

describe('studentTCdf', () => {
  test('df = 1 is the Cauchy distribution: F(t) = ½ + atan(t)/π', () => {
    for (const t of [-5, -1, -0.3, 0, 0.7, 1, 3, 40]) expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
  });

  test('df = 2 closed form: F(t) = ½ + t / (2√(2 + t²))', () => {
    for (const t of [-4, -0.5, 0.25, 2, 9]) expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
  });

  // Critical values t_{1−α/2, ν} from a standard t table (two-sided α).
  test.each([
    [12.7062047, 1, 0.05],
    [4.30265273, 2, 0.05],
    [2.57058184, 5, 0.05],
    [4.03214298, 5, 0.01],
    [2.22813885, 10, 0.05],
    [3.16927267, 10, 0.01],
    [1.81246112, 10, 0.1],
    [2.04227246, 30, 0.05],
    [1.95996398, 1e7, 0.05], // → the normal distribution
  ])('two-sided p at t = %f, df = %d is %f', (t, df, alpha) => {
    expect(studentTTwoSidedP(t, df)).toBeCloseTo(alpha, 7);
    expect(studentTTwoSidedP(-t, df)).toBeCloseTo(alpha, 7);
    expect(studentTCdf(t, df)).toBeCloseTo(1 - alpha / 2, 7);
  });

  test('limits and bad input', () => {
    expect(studentTCdf(0, 7)).toBe(0.5);
    expect(studentTTwoSidedP(0, 7)).toBe(1);
    expect(studentTTwoSidedP(Infinity, 3)).toBe(0);
    expect(() => studentTCdf(1, 0)).toThrow(/df must be > 0/);
  });
});

describe('summarizeSeeds', () => {
  test('mean, sample std (n − 1), n, min, max', () => {
    // mean 5; squared deviations 9+1+1+9 = 20; std = √(20/3)
    expect(summarizeSeeds([2, 4, 6, 8])).toEqual({ mean: 5, std: expect.closeTo(Math.sqrt(20 / 3), 12), n: 4, min: 2, max: 8 });
  });

  test('one seed has no observable spread', () => {
    expect(summarizeSeeds([0.42])).toEqual({ mean: 0.42, std: 0, n: 1, min: 0.42, max: 0.42 });
  });

  test('empty or non-finite input is rejected naming the index', () => {
    expect(() => summarizeSeeds([])).toThrow(/empty/);
    expect(() => summarizeSeeds([1, NaN])).toThrow(/values\[1\]/);
  });
});

describe('pairedComparison', () => {
  test('hand-worked: differences [0.1, 0.2, 0.1] give t = 4, df = 2', () => {
    // mean 2/15, std √(0.00̅6/2) = 0.0577, t = (2/15)/(0.0577/√3) = 4; df 2: p = 1 − t/√(2 + t²)
    const r = pairedComparison([0.5, 0.6, 0.7], [0.4, 0.4, 0.6]);
    expect(r.n).toBe(3);
    expect(r.df).toBe(2);
    expect(r.meanDiff).toBeCloseTo(2 / 15, 12);
    expect(r.std).toBeCloseTo(Math.sqrt(1 / 300), 12);
    expect(r.t).toBeCloseTo(4, 10);
    expect(r.p).toBeCloseTo(1 - 4 / Math.sqrt(18), 10);
  });

  test('swapping A and B flips the sign, not the p-value', () => {
    const ab = pairedComparison([1, 2, 3, 5], [1.5, 1.9, 2.1, 4]);
    const ba = pairedComparison([1.5, 1.9, 2.1, 4], [1, 2, 3, 5]);
    expect(ba.t).toBeCloseTo(-ab.t, 12);
    expect(ba.p).toBeCloseTo(ab.p, 12);
  });

  test('identical differences: infinite t and p = 0; one seed: no test (NaN)', () => {
    expect(pairedComparison([2, 3], [1, 2])).toMatchObject({ meanDiff: 1, t: Infinity, p: 0 });
    expect(pairedComparison([1, 2], [1, 2])).toMatchObject({ meanDiff: 0, t: 0, p: 1 });
    const one = pairedComparison([1], [0.5]);
    expect(one.meanDiff).toBe(0.5);
    expect(one.p).toBeNaN();
  });

  test('unpaired lengths are rejected', () => {
    expect(() => pairedComparison([1, 2], [1])).toThrow(/2 and 1 values/);
  });
});
