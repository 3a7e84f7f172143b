import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The repository root: the nearest folder above `from` holding package.json.
 * Walking up (instead of `__dirname/..`) keeps paths right both from `infra/*.ts` (tsx, jest)
 * and from compiled `dist/infra/*.js`, since dist/ holds no package.json.
 */
export function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found in ${from} or any folder above it`);
    dir = parent;
  }
}
