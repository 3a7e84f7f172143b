/**
 * Parsing of external input at a boundary (Lambda events, CLI files): zod `safeParse`, and on
 * failure one error that lists every bad field with its path, so the caller sees all problems at
 * once and knows where they are.
 */
import { z } from 'zod';
import { formatIssues } from '../trainer/model/config';

/**
 * A malformed event. Its `name` is what Step Functions matches in Retry/Catch: it is not one of
 * the retried transient errors, so a malformed event fails the stage at once.
 */
export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'InvalidEvent';
  }
}

/** Parses `input` with `schema`. @throws InvalidEventError naming every bad field of `what` */
export function parseEvent<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = formatIssues(r.error);
  throw new InvalidEventError(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}
