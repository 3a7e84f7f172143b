/**
 * Spread over training seeds, and the paired comparison of two methods run with the same seeds
 * (seed k of method A and seed k of method B share data order and initialisation, so their
 * difference removes the seed's own effect: a paired t-test).
 */
import { studentTTwoSidedP } from './student-t';

export interface SeedSummary {
  readonly mean: number;
  /** Sample standard deviation (n − 1 denominator); 0 when n = 1 (no spread observable). */
  readonly std: number;
  readonly n: number;
  readonly min: number;
  readonly max: number;
}

/** Mean, sample std, count and range of one metric over seeds. @throws on empty or non-finite input. */
export function summarizeSeeds(values: readonly number[]): SeedSummary {
  assertFiniteNonEmpty('summarizeSeeds', 'values', values);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n, min: Math.min(...values), max: Math.max(...values) };
}

export interface PairedComparison {
  /** Mean of (a_k − b_k) over seeds k. */
  readonly meanDiff: number;
  /** Sample std of the differences (n − 1). */
  readonly std: number;
  readonly n: number;
  /** Paired t statistic meanDiff / (std / √n); ±Infinity when every difference is equal and non-zero, 0 when all are 0. */
  readonly t: number;
  /** Degrees of freedom n − 1. */
  readonly df: number;
  /** Two-sided p-value of H0: mean difference = 0; NaN when n < 2 (no test possible). */
  readonly p: number;
}

/** Paired comparison of method A against method B over the same seeds (a[k] pairs with b[k]). */
export function pairedComparison(a: readonly number[], b: readonly number[]): PairedComparison {
  assertFiniteNonEmpty('pairedComparison', 'a', a);
  assertFiniteNonEmpty('pairedComparison', 'b', b);
  if (a.length !== b.length) {
    throw new RangeError(`pairedComparison: a and b must pair up seed by seed, got ${a.length} and ${b.length} values`);
  }
  const diffs = a.map((v, k) => v - b[k]!);
  const { mean, std, n } = summarizeSeeds(diffs);
  const df = n - 1;
  if (n < 2) return { meanDiff: mean, std: 0, n, t: NaN, df, p: NaN };
  let t: number;
  if (std === 0) t = mean === 0 ? 0 : mean > 0 ? Infinity : -Infinity;
  else t = mean / (std / Math.sqrt(n));
  return { meanDiff: mean, std, n, t, df, p: studentTTwoSidedP(t, df) };
}

function assertFiniteNonEmpty(fn: string, name: string, values: readonly number[]): void {
  if (values.length === 0) throw new RangeError(`${fn}: ${name} is empty; pass one value per seed`);
  const bad = values.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`${fn}: ${name}[${bad}] must be a finite number, got ${String(values[bad])}`);
}
