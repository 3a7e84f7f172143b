/** Summary of measured latencies (milliseconds per call). */

export interface LatencyStats {
  /** Median, ms. */
  readonly p50: number;
  /** 95th percentile, ms. */
  readonly p95: number;
  /** Arithmetic mean, ms. */
  readonly mean: number;
}

/**
 * Percentile by linear interpolation between order statistics (numpy's default "linear"
 * method: position q·(n−1) in the sorted samples).
 */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile: no samples');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile: q must be in [0, 1], got ${q}`);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** p50, p95 and mean of latency samples in ms. @throws on empty, negative or non-finite samples. */
export function latencyStats(samplesMs: readonly number[]): LatencyStats {
  if (samplesMs.length === 0) throw new RangeError('latencyStats: samplesMs is empty; time at least one call');
  const bad = samplesMs.findIndex((v) => !Number.isFinite(v) || v < 0);
  if (bad >= 0) throw new RangeError(`latencyStats: samplesMs[${bad}] must be a finite duration ≥ 0 ms, got ${samplesMs[bad]}`);
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}
