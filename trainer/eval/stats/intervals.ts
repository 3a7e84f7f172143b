/**
 * What a claim over seeds needs beyond the paired t-test (seeds.ts): the t quantile, the
 * confidence interval of a paired mean difference, and Holm's step-down correction when several
 * claims are made at once (docs/STUDY.md).
 */
import { studentTCdf } from './student-t';

/** Quantile of Student's t: the t with P(T ≤ t) = q (df > 0, 0 < q < 1), by bisection on the CDF. */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`studentTQuantile: q must be in (0, 1), got ${q}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  if (q === 0.5) return 0;
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > q) lo *= 2;
  while (studentTCdf(hi, df) < q) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(hi)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Two-sided confidence interval of a mean from its sample std and n (the paired differences'
 * mean: pairedComparison's meanDiff, std, n). n < 2 → no interval (NaN bounds).
 */
export function meanInterval(mean: number, std: number, n: number, level = 0.95): { lo: number; hi: number; halfWidth: number } {
  if (!(level > 0 && level < 1)) throw new RangeError(`meanInterval: level must be in (0, 1), got ${level}`);
  if (n < 2) return { lo: NaN, hi: NaN, halfWidth: NaN };
  const halfWidth = studentTQuantile(1 - (1 - level) / 2, n - 1) * (std / Math.sqrt(n));
  return { lo: mean - halfWidth, hi: mean + halfWidth, halfWidth };
}

/**
 * Holm's step-down adjusted p-values (family-wise error control, any dependence): sort the m
 * p-values ascending, p̃_(k) = max over j ≤ k of min(1, (m − j + 1) · p_(j)). A claim is made at
 * level α when its adjusted p is below α. NaN (no test possible) counts as p = 1.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((v, i) => [Number.isNaN(v) ? 1 : v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(([v, i], j) => {
    running = Math.max(running, Math.min(1, (m - j) * v));
    out[i] = running;
  });
  return out;
}
