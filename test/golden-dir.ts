/**
 * Where the shared golden files are: `$<envVar>` when set, else `shared/golden/<name>` beside the
 * repository (how CI and the development machines lay it out), else the workplace's absolute
 * path. Tests read the directory at run time; nothing is copied into the repository.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export function goldenDir(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  const candidates = [path.resolve(__dirname, '..', '..', 'shared', 'golden', name), path.join('/work/shared/golden', name)];
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}
