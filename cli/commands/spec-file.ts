/** Reads a job spec file and reports every problem with its path. */
import { promises as fs } from 'node:fs';
import { parseJobSpecText, RUN_ID_PATTERN, type JobSpec } from '../../contract/spec';
import { ConfigError } from '../../trainer/model/config';
import { generateRunId, type CommandDeps } from './deps';

export type SpecFileResult = { ok: true; spec: JobSpec; raw: Record<string, unknown> } | { ok: false };

/** Parses `file`; on failure prints each problem on its own line (`  - path: message`) to stderr. */
export async function readSpecFile(file: string, deps: Pick<CommandDeps, 'err'>): Promise<SpecFileResult> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    deps.err(`cannot read job spec ${file}: ${(e as Error).message}`);
    return { ok: false };
  }
  try {
    const spec = parseJobSpecText(text, file);
    return { ok: true, spec, raw: JSON.parse(text) as Record<string, unknown> };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    deps.err(e.message);
    return { ok: false };
  }
}

/**
 * The run id of a command: `--run-id`, else the spec's `runId`, else a generated one. Prints why
 * and returns null when it is invalid or contradicts the spec (exit code 2 for the caller).
 */
export function resolveRunId(
  flag: string | undefined,
  spec: JobSpec,
  file: string,
  deps: Pick<CommandDeps, 'err' | 'now'>,
): string | null {
  if (spec.runId !== undefined && flag !== undefined && spec.runId !== flag) {
    deps.err(`--run-id ${flag} differs from runId "${spec.runId}" in ${file}: drop one of them`);
    return null;
  }
  const runId = flag ?? spec.runId ?? generateRunId(deps.now());
  if (!RUN_ID_PATTERN.test(runId)) {
    deps.err(`invalid --run-id "${runId}": 1–64 letters, digits, "-" or "_"`);
    return null;
  }
  return runId;
}
