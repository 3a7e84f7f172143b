/**
 * SelectCandidates: scores every candidate student on the validation split (from the parts the
 * EvaluateCandidates Map wrote), chooses one candidate per student entry (trainer/eval/
 * select-candidates.ts: best validation mean over seeds, ties to the paper's setting), writes
 * selection/selection.json and returns the models to evaluate on the evaluation split: the
 * run's models plus every seed of each chosen candidate. Candidates that were not chosen are
 * never evaluated on the test split.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { fingerprint, isStageComplete, outputsFingerprint, runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { candidateGroups } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import { scoreCandidate } from '../../trainer/stages';
import { selectCandidate, SelectionFileSchema, type CandidateScores, type SelectionFile } from '../../trainer/eval/select-candidates';
import { SelectCandidatesEventSchema, type SelectCandidatesResult } from './schema';

const logger = new Logger({ serviceName: 'amad-select-candidates' });

export async function handler(event: unknown, context?: Context): Promise<SelectCandidatesResult> {
  if (context) logger.addContext(context);
  const e = parseEvent(SelectCandidatesEventSchema, event, 'SelectCandidates event');
  if (e.candidateModels.length === 0) return { models: e.models, selectionUri: null };
  const layout = runLayout(e.runUri);
  const shardIndices = e.valShards.map((_, i) => i);
  // Inputs: every validation part present now and every student's outcome (as MergeEval).
  const parts = await Promise.all(e.candidateModels.flatMap((m) => shardIndices.map((i) => outputsFingerprint(e.runUri, Stage.evaluateVal(m.modelId, i)))));
  const inputHash = fingerprint({ parts, students: e.students.map((s) => [s.modelId, s.status]) });
  const { result, skipped } = await runStageOnce(
    e.runUri,
    Stage.selectCandidates,
    async () => {
      const spec = await readRunSpec(e.specUri);
      const outputs: string[] = [];
      const scores = new Map<string, { seed: number; score: number }[]>();
      let metric = '';
      for (const m of e.candidateModels) {
        const complete = shardIndices.length > 0 && (await Promise.all(shardIndices.map((i) => isStageComplete(e.runUri, Stage.evaluateVal(m.modelId, i), { verify: 'size' })))).every(Boolean);
        if (!complete) {
          logger.warn('Candidate not scored', { runId: e.runId, modelId: m.modelId, reason: 'not every validation shard has a result (training failed?)' });
          continue;
        }
        const outUri = layout.valScore(m.modelId);
        const s = await scoreCandidate({ runUri: e.runUri, spec, modelId: m.modelId, partUris: shardIndices.map((i) => layout.valEvalPart(m.modelId, i)), outUri });
        outputs.push(...s.outputs);
        metric = s.metric;
        const [student, seedPart] = splitModelId(m.modelId);
        scores.set(student, [...(scores.get(student) ?? []), { seed: seedPart, score: s.score }]);
      }
      const selection: SelectionFile = {
        version: 1,
        split: 'val',
        tolerance: 0,
        groups: candidateGroups(spec).map((g) =>
          selectCandidate(
            g.student,
            metric,
            g.candidates.map((c): CandidateScores => ({ name: c.name, values: c.candidateOf!.values, seeds: scores.get(c.name) ?? [] })),
          ),
        ),
      };
      await storageFor(layout.selection).put(layout.selection, JSON.stringify(SelectionFileSchema.parse(selection), null, 1) + '\n');
      outputs.push(layout.selection);
      const chosen = new Set(selection.groups.map((g) => g.selected).filter((s): s is string => s !== null));
      const models = [...e.models, ...e.candidateModels.filter((m) => chosen.has(splitModelId(m.modelId)[0]))];
      return { outputs, result: { models, selectionUri: layout.selection } };
    },
    { inputHash },
  );
  logger.info('Candidates selected', { runId: e.runId, models: result.models.length, skipped });
  return result;
}

/** `<student>/seed-<n>` → [student, n]. */
function splitModelId(modelId: string): [string, number] {
  const m = /^(.*)\/seed-(\d+)$/.exec(modelId);
  if (!m) throw new Error(`SelectCandidates: "${modelId}" is not a student model id (<student>/seed-<n>)`);
  return [m[1]!, Number(m[2])];
}
