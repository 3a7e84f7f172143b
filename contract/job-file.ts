/**
 * Job files: a job spec uploaded as `jobs/<name>.json` starts a run. Its run id is the spec's own
 * `runId` when it has a valid one, else `<file name>-<content hash prefix>`, stable across
 * redeliveries. start-run names the execution by it, and a refused request is recorded under it.
 */
import { createHash } from 'node:crypto';
import { RUN_ID_PATTERN } from './spec';

/** Run id of a job file without one: `<file name>-<etag or sha256 prefix>`. */
export function runIdForJobFile(key: string, etag: string | undefined, body: Buffer): string {
  const base = (key.split('/').pop() ?? 'job').replace(/\.json$/i, '').replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[-_]+/, '').slice(0, 48) || 'job';
  const tag = (etag?.replace(/"/g, '') || createHash('sha256').update(body).digest('hex')).slice(0, 12);
  return `${base}-${tag}`;
}

/** The run id a job file starts: the parsed spec's valid `runId`, else `runIdForJobFile`. */
export function runIdOfJobFile(key: string, etag: string | undefined, body: Buffer, parsedSpec: unknown): string {
  const given = (parsedSpec as { runId?: unknown } | null | undefined)?.runId;
  return typeof given === 'string' && RUN_ID_PATTERN.test(given) ? given : runIdForJobFile(key, etag, body);
}
