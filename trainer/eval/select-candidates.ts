/**
 * Candidate selection on the validation split: per student entry that listed candidates, the
 * candidate with the highest mean validation score over its seeds wins. The test split plays no
 * part. Ties go to the paper's setting (PAPER_SETTING: variant kl, τ = 1, α_attn = 1): among tied
 * candidates the one that matches the paper in the most fields, then the one listed first.
 *
 * "Tied" means within `tolerance` of the best mean (default 0: exactly equal means — validation
 * scores are averages over the same examples, so equal means are real ties, e.g. two candidates
 * answering the same questions right). A positive tolerance makes the paper's setting win unless
 * another candidate beats it by more than that margin.
 */
import { z } from 'zod';
import { CANDIDATE_FIELDS, PAPER_SETTING, type CandidateValues } from '../../contract/spec';

export interface CandidateScores {
  /** The candidate student's name (`<name>-c<k>`). */
  readonly name: string;
  readonly values: CandidateValues;
  /** Validation score per seed that trained and was scored (higher is better). */
  readonly seeds: readonly { seed: number; score: number }[];
}

export const CandidateResultSchema = z.strictObject({
  name: z.string(),
  values: z.record(z.string(), z.union([z.string(), z.number()])),
  seeds: z.array(z.strictObject({ seed: z.number().int(), score: z.number() })),
  /** Mean over the seeds; null when no seed was scored (the candidate cannot be chosen). */
  mean: z.number().nullable(),
  /** Fields in which the candidate matches the paper's setting. */
  paperMatches: z.number().int().nonnegative(),
});
export type CandidateResult = z.infer<typeof CandidateResultSchema>;

export const GroupSelectionSchema = z.strictObject({
  /** The student entry that listed the candidates. */
  student: z.string(),
  metric: z.string(),
  candidates: z.array(CandidateResultSchema),
  /** Name of the chosen candidate; null when no candidate was scored. */
  selected: z.string().nullable(),
  /** Why: "best validation mean", or how a tie was broken. */
  reason: z.string(),
});
export type GroupSelection = z.infer<typeof GroupSelectionSchema>;

export const SelectionFileSchema = z.strictObject({
  version: z.literal(1),
  split: z.literal('val'),
  tolerance: z.number().nonnegative(),
  groups: z.array(GroupSelectionSchema),
});
export type SelectionFile = z.infer<typeof SelectionFileSchema>;

/** How many of the candidate's fields equal the paper's setting. */
export function paperMatches(values: CandidateValues): number {
  return CANDIDATE_FIELDS.filter((f) => values[f] !== undefined && values[f] === PAPER_SETTING[f]).length;
}

/** Chooses among one student entry's candidates (see the module comment for the rule). */
export function selectCandidate(student: string, metric: string, candidates: readonly CandidateScores[], tolerance = 0): GroupSelection {
  if (!(tolerance >= 0)) throw new Error(`selectCandidate: tolerance must be ≥ 0 (got ${tolerance})`);
  const results: CandidateResult[] = candidates.map((c) => ({
    name: c.name,
    values: { ...c.values } as Record<string, string | number>,
    seeds: c.seeds.map((s) => ({ ...s })),
    mean: c.seeds.length ? c.seeds.reduce((a, s) => a + s.score, 0) / c.seeds.length : null,
    paperMatches: paperMatches(c.values),
  }));
  const scored = results.filter((r) => r.mean !== null);
  if (scored.length === 0) return { student, metric, candidates: results, selected: null, reason: 'no candidate has a validation score (every candidate failed to train or to be scored)' };
  const best = Math.max(...scored.map((r) => r.mean!));
  const tied = scored.filter((r) => r.mean! >= best - tolerance);
  // Stable: among equal paper matches the candidate listed first wins.
  const chosen = tied.reduce((a, b) => (b.paperMatches > a.paperMatches ? b : a));
  const reason =
    tied.length === 1
      ? 'best validation mean'
      : `${tied.length} candidates tied${tolerance > 0 ? ` within ${tolerance}` : ''} at the best validation mean: ` +
        (chosen.paperMatches > Math.min(...tied.map((t) => t.paperMatches)) ? "the paper's setting wins the tie" : 'the first listed wins the tie');
  return { student, metric, candidates: results, selected: chosen.name, reason };
}
