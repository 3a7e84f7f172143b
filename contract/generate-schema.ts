/**
 * `npm run schema`: regenerates schema/job-spec.schema.json and docs/CONFIG.md from the job-spec
 * schema. Commit both; test/contract/schema-docs.test.ts fails when they drift.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_DOC_PATH, JSON_SCHEMA_PATH, renderConfigReference, renderJobSpecJsonSchema } from './schema-docs';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  for (const [rel, text] of [
    [JSON_SCHEMA_PATH, renderJobSpecJsonSchema()],
    [CONFIG_DOC_PATH, renderConfigReference()],
  ] as const) {
    const file = path.join(root, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, text);
    console.log(`wrote ${rel} (${text.length} bytes)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
