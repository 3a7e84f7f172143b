/**
 * The input contract every corpus metric shares: hypotheses keyed by example id (one string
 * each) and references keyed by the same ids (one or more strings each). Validated with zod so
 * that a caller gets one error that names the offending id and the fix, not a NaN later.
 */
import { z } from 'zod';

export const HypothesesSchema = z.record(z.string(), z.string({ error: 'each hypothesis must be a string' }));
export const ReferencesSchema = z.record(
  z.string(),
  z.array(z.string({ error: 'each reference must be a string' }), { error: 'references must be arrays of strings' }).min(1, 'every id needs at least one reference'),
);

export type Hypotheses = Readonly<Record<string, string>>;
export type References = Readonly<Record<string, readonly string[]>>;

/** Thrown for malformed metric input; the message names the id and what to fix. */
export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}

/** One aligned example: its id, hypothesis and references. */
export interface AlignedExample {
  readonly id: string;
  readonly hyp: string;
  readonly refs: readonly string[];
}

/**
 * Checks the two maps (zod) and that they cover exactly the same ids, then returns the examples
 * in the references' key order (the COCO scorers iterate the ground-truth keys).
 * @throws MetricInputError naming missing/extra ids or the bad field.
 */
export function alignCorpus(metric: string, hyps: unknown, refs: unknown): AlignedExample[] {
  const h = HypothesesSchema.safeParse(hyps);
  if (!h.success) throw new MetricInputError(`${metric}: invalid hypotheses: ${describe(h.error)}`);
  const r = ReferencesSchema.safeParse(refs);
  if (!r.success) throw new MetricInputError(`${metric}: invalid references: ${describe(r.error)}`);
  const hypIds = Object.keys(h.data);
  const refIds = Object.keys(r.data);
  const missing = refIds.filter((id) => !(id in h.data));
  const extra = hypIds.filter((id) => !(id in r.data));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`no hypothesis for id(s) ${preview(missing)}`);
    if (extra.length > 0) parts.push(`no references for id(s) ${preview(extra)}`);
    throw new MetricInputError(`${metric}: hypotheses and references must have the same ids: ${parts.join('; ')}`);
  }
  if (refIds.length === 0) throw new MetricInputError(`${metric}: the corpus is empty (no ids); pass at least one example`);
  return refIds.map((id) => ({ id, hyp: h.data[id]!, refs: r.data[id]! }));
}

/** Whitespace tokenisation, as the COCO scorers' `str.split()` (inputs are pre-tokenised). */
export function splitTokens(s: string): string[] {
  const t = s.trim();
  return t === '' ? [] : t.split(/\s+/);
}

/**
 * Counts of every n-gram of order 1..maxN in `words`. Keys join tokens with a space; tokens
 * never contain whitespace (see splitTokens), so the key is unambiguous and its order is
 * `key.split(' ').length`.
 */
export function ngramCounts(words: readonly string[], maxN: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxN; n++) {
    for (let i = 0; i + n <= words.length; i++) {
      const key = words.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Order n of an n-gram key made by ngramCounts. */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}

function describe(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

function preview(ids: string[]): string {
  const shown = ids.slice(0, 5).map((i) => `"${i}"`).join(', ');
  return ids.length > 5 ? `${shown} … (${ids.length} in all)` : shown;
}
