/** `amad validate <spec>`: checks a job spec; prints every problem with its path and exits 1. */
import { PlacementError, planRun } from '../../contract/plan';
import { runUriFor } from '../../contract/layout';
import type { CommandDeps } from './deps';
import { readSpecFile } from './spec-file';

export interface ValidateArgs {
  readonly spec: string;
}

export async function validateCommand(args: ValidateArgs, deps: CommandDeps): Promise<number> {
  const r = await readSpecFile(args.spec, deps);
  if (!r.ok) return 1;
  let plan;
  try {
    plan = planRun(r.spec, r.spec.runId ?? 'preview', runUriFor('.', r.spec.runId ?? 'preview'));
  } catch (e) {
    // A spec whose plan cannot fit (a pinned Lambda that cannot finish in 900 s, ...) is refused.
    if (!(e instanceof PlacementError)) throw e;
    deps.err(`${args.spec}: ${e.message}`);
    return 1;
  }
  deps.out(
    `${args.spec}: valid job spec (${r.spec.students.length} student(s), ${plan.studentJobs.length} student job(s), ` +
      `teacher ${plan.teacher.trainRequired ? 'trained by the run' : `from ${plan.teacher.modelUri}`}, cache ${plan.cacheEnabled ? 'on' : 'off'}, evaluation on ${plan.evalSplit}; placement: prepare ${plan.placement.prepare}, cache ${plan.placement.cacheTeacher}, evaluate ${plan.placement.evaluate})`,
  );
  return 0;
}
