/**
 * The study's results from the completed blocks under --root: per student and seed, the
 * validation metric (selection) and the test metric. (First version: per-seed table only.)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStageMarker, runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../contract/layout';
import { toUri } from '../contract/storage';
import { EvalResultSchema } from '../trainer/eval/result-schema';
import { blockRunId, phaseBlocks, studyBlockSpec, type StudyPhase } from './study-spec';

/** True when the block's run reached its Report stage (trained, evaluated, reported). */
export async function blockDone(root: string, runId: string): Promise<boolean> {
  return !!(await readStageMarker(runUriFor(toUri(root), runId), Stage.report));
}

export interface SeedValues {
  readonly student: string;
  readonly seed: number;
  /** Final validation score of training (the selection metric), when logged. */
  readonly val?: number;
  /** Primary metric on the test split. */
  readonly test?: number;
}

/** The last `val` score in a train-log.jsonl (the end-of-training validation). */
export function finalValidation(logText: string): number | undefined {
  let last: number | undefined;
  for (const line of logText.split('\n')) {
    if (!line.trim()) continue;
    const l = JSON.parse(line) as { val?: Record<string, number> };
    if (l.val) last = l.val.accuracy ?? l.val.tokenAccuracy;
  }
  return last;
}

const file = (uri: string) => fileURLToPath(uri);

/** Per-seed values of every completed block of a phase, and the primary metric's name. */
export async function phaseValues(root: string, p: StudyPhase): Promise<{ metric?: string; teacher?: number; values: SeedValues[]; blocks: number }> {
  const values: SeedValues[] = [];
  let metric: string | undefined;
  let teacher: number | undefined;
  let blocks = 0;
  for (let b = 0; b < phaseBlocks(p).length; b++) {
    const runId = blockRunId(p, b);
    if (!(await blockDone(root, runId))) continue;
    blocks++;
    const layout = runLayout(runUriFor(toUri(root), runId));
    const spec = studyBlockSpec(p, b, root);
    const t = file(layout.evalFile(TEACHER_MODEL_ID));
    if (existsSync(t) && teacher === undefined) {
      const e = EvalResultSchema.parse(JSON.parse(readFileSync(t, 'utf8')));
      metric = e.primaryMetric;
      teacher = e.metrics[metric];
    }
    for (const s of spec.students) {
      for (const seed of s.seeds ?? [0]) {
        const id = studentModelId(s.name, seed);
        const logFile = file(layout.trainLog(id));
        const evalFile = file(layout.evalFile(id));
        const val = existsSync(logFile) ? finalValidation(readFileSync(logFile, 'utf8')) : undefined;
        let test: number | undefined;
        if (existsSync(evalFile)) {
          const e = EvalResultSchema.parse(JSON.parse(readFileSync(evalFile, 'utf8')));
          test = e.metrics[e.primaryMetric];
        }
        values.push({ student: s.name, seed, val, test });
      }
    }
  }
  return { metric, teacher, values, blocks };
}

export async function summariseStudy(o: { root: string; phases: readonly StudyPhase[]; out: string; command: string }): Promise<void> {
  const lines: string[] = ['# Study results (generated)', '', `From \`${o.command}\` over the runs under \`${o.root}\`.`, ''];
  for (const p of o.phases) {
    const r = await phaseValues(o.root, p);
    lines.push(`## ${p.id}`, '', p.question, '', `Completed blocks: ${r.blocks} of ${phaseBlocks(p).length}.`, '');
    if (r.values.length === 0) continue;
    lines.push('| student | seed | validation | test |', '|---|---:|---:|---:|');
    for (const v of r.values) lines.push(`| ${v.student} | ${v.seed} | ${v.val?.toFixed(4) ?? '–'} | ${v.test?.toFixed(4) ?? '–'} |`);
    lines.push('');
  }
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, lines.join('\n'));
  process.stdout.write(`wrote ${o.out}\n`);
}
