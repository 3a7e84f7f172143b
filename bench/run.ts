/**
 * Benchmark dispatcher: `node dist/bench/run.js <name> [args…]` (or `npx tsx bench/run.ts …`)
 * loads `bench/<name>.ts` and calls its exported `run(args)`.
 */
import * as path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';

interface BenchModule {
  run(args: string[]): Promise<void> | void;
}

function available(): string[] {
  const ext = path.extname(__filename);
  return readdirSync(__dirname)
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && f !== path.basename(__filename))
    .map((f) => f.slice(0, -ext.length))
    .sort();
}

async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  const names = available();
  if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(path.join(__dirname, name + path.extname(__filename)))) {
    throw new Error(`usage: bench/run <name> [args…]; <name> is one of: ${names.join(', ')}${name ? ` (got "${name}")` : ''}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(__dirname, name)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function') throw new Error(`bench/${name} does not export run(args)`);
  await mod.run(args);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
