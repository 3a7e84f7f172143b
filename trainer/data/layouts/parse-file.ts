/** Validates a parsed layout file (or one element of it) against its schema; errors name the file and the JSON path. */
import type { z } from 'zod';
import { DataError } from '../errors';

export function parseLayoutFile<S extends z.ZodType>(schema: S, json: unknown, file: string): z.output<S> {
  return parseLayoutItem(schema, json, file, '');
}

/** One element streamed from a file: `at` is its JSON path, e.g. "questions.12". */
export function parseLayoutItem<S extends z.ZodType>(schema: S, json: unknown, file: string, at: string): z.output<S> {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${[at, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`);
    throw new DataError('bad-json', `${file} does not have the expected layout:\n  - ${issues.join('\n  - ')}`);
  }
  return r.data;
}
