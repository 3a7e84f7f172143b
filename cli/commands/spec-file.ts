/** Reads a job spec file and reports every problem with its path. */
import { promises as fs } from 'node:fs';
import { parseJobSpecText, type JobSpec } from '../../contract/spec';
import { ConfigError } from '../../trainer/model/config';
import type { CommandDeps } from './deps';

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
