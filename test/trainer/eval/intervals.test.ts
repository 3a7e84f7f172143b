import { holmAdjust, meanInterval, studentTQuantile } from '../../../trainer/eval/stats/intervals';

test('t quantiles match the tables', () => {
  // Reference values: R qt(0.975, df) and qt(0.05, 5).
  expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.302653, 5);
  expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228139, 5);
  expect(studentTQuantile(0.975, 1000)).toBeCloseTo(1.962339, 5);
  expect(studentTQuantile(0.05, 5)).toBeCloseTo(-2.015048, 5);
  expect(studentTQuantile(0.5, 3)).toBe(0);
  expect(() => studentTQuantile(1, 3)).toThrow(/q must be in \(0, 1\)/);
});

test('the 95% interval of a mean is mean ± t·s/√n; no interval below two values', () => {
  const ci = meanInterval(1.5, 2, 4);
  expect(ci.halfWidth).toBeCloseTo(3.182446 * 1, 5); // qt(0.975, 3) · 2/√4
  expect([ci.lo, ci.hi]).toEqual([1.5 - ci.halfWidth, 1.5 + ci.halfWidth]);
  expect(Number.isNaN(meanInterval(1, 0, 1).lo)).toBe(true);
});

test("Holm's adjusted p-values (R p.adjust(method = 'holm'))", () => {
  // p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
  const adj = holmAdjust([0.01, 0.04, 0.03, 0.005]);
  [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adj[i]).toBeCloseTo(v, 12));
  // capped at 1; NaN counts as 1
  expect(holmAdjust([0.5, NaN, 0.4])).toEqual([1, 1, 1]);
  expect(holmAdjust([])).toEqual([]);
});
