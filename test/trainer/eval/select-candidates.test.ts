import { paperMatches, selectCandidate, type CandidateScores } from '../../../trainer/eval/select-candidates';

const cand = (name: string, values: CandidateScores['values'], scores: number[]): CandidateScores => ({ name, values, seeds: scores.map((score, seed) => ({ seed, score })) });

test('the best mean validation score over seeds wins, whatever one seed says', () => {
  const s = selectCandidate('amad', 'accuracy', [cand('a-c0', { temperature: 1 }, [0.5, 0.5]), cand('a-c1', { temperature: 0.1 }, [0.4, 0.7]), cand('a-c2', { temperature: 0.03 }, [0.62, 0.3])]);
  expect(s.selected).toBe('a-c1');
  expect(s.reason).toBe('best validation mean');
  s.candidates.forEach((c, i) => expect(c.mean).toBeCloseTo([0.5, 0.55, 0.46][i]!, 12));
});

test("a tie goes to the paper's setting (τ = 1), wherever it is listed", () => {
  const tied = [cand('a-c0', { temperature: 0.1 }, [0.6, 0.4]), cand('a-c1', { temperature: 1 }, [0.5, 0.5]), cand('a-c2', { temperature: 0.03 }, [0.3, 0.2])];
  const s = selectCandidate('amad', 'accuracy', tied);
  expect(s.selected).toBe('a-c1');
  expect(s.reason).toMatch(/2 candidates tied.*paper's setting wins/);
  // Without the tie the better one wins even when it is not the paper's.
  expect(selectCandidate('amad', 'accuracy', [cand('a-c0', { temperature: 0.1 }, [0.6, 0.41]), tied[1]!]).selected).toBe('a-c0');
});

test('a tie among non-paper settings goes to the one listed first; more paper fields win over fewer', () => {
  expect(selectCandidate('s', 'm', [cand('c0', { temperature: 0.3 }, [0.5]), cand('c1', { temperature: 0.1 }, [0.5])]).selected).toBe('c0');
  const s = selectCandidate('s', 'm', [
    cand('c0', { variant: 'mean-head', temperature: 1 }, [0.5]),
    cand('c1', { variant: 'kl', temperature: 0.1 }, [0.5]),
    cand('c2', { variant: 'kl', temperature: 1 }, [0.5]),
  ]);
  expect(s.selected).toBe('c2');
  expect(paperMatches({ variant: 'kl', temperature: 1, alphaAttn: 2 })).toBe(2);
});

test('a tolerance lets the paper setting keep its place unless beaten by more than it', () => {
  const c = [cand('c0', { temperature: 1 }, [0.5]), cand('c1', { temperature: 0.1 }, [0.505])];
  expect(selectCandidate('s', 'm', c).selected).toBe('c1');
  expect(selectCandidate('s', 'm', c, 0.01).selected).toBe('c0');
  expect(() => selectCandidate('s', 'm', c, -1)).toThrow(/tolerance must be ≥ 0/);
});

test('candidates without a score cannot be chosen; none scored → no choice, said why', () => {
  expect(selectCandidate('s', 'm', [cand('c0', { temperature: 1 }, []), cand('c1', { temperature: 0.1 }, [0.1])]).selected).toBe('c1');
  const none = selectCandidate('s', 'm', [cand('c0', { temperature: 1 }, [])]);
  expect(none.selected).toBeNull();
  expect(none.reason).toMatch(/no candidate has a validation score/);
});
