/** The commit a benchmark or experiment ran at, as results files name it. */
import { execSync } from 'node:child_process';

/** `git rev-parse --short HEAD`, marked when tracked files have uncommitted changes; "unknown" outside a checkout. */
export function commitOf(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() ? ' (with uncommitted changes)' : '';
    return sha + dirty;
  } catch {
    return 'unknown';
  }
}
