/** Validates a parsed layout file against its schema; errors name the file and the JSON path. */
import type { z } from 'zod';
import { DataError } from '../errors';

export function parseLayoutFile<S extends z.ZodType>(schema: S, json: unknown, file: string): z.output<S> {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new DataError('bad-json', `${file} does not have the expected layout:\n  - ${issues.join('\n  - ')}`);
  }
  return r.data;
}
