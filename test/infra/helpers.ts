/**
 * Shared setup of the infra tests: the same feature flags as `cdk.json`, and fixture entries for
 * Lambda handlers that are not written yet (so the stack can be synthesized while they are).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { HANDLER_NAMES, type HandlerName } from '../../infra/functions/handler-specs';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURE_ENTRY = path.join(__dirname, 'fixtures', 'handler', 'handler.ts');

/** The "context" block of cdk.json: feature flags the deployed app also runs with. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** Handlers whose lambdas/<name>/handler.ts does not exist yet, pointed at the fixture. */
export function fixtureEntriesForMissingHandlers(): Partial<Record<HandlerName, string>> {
  const out: Partial<Record<HandlerName, string>> = {};
  for (const name of HANDLER_NAMES) {
    if (!existsSync(path.join(REPO_ROOT, 'lambdas', name, 'handler.ts'))) out[name] = FIXTURE_ENTRY;
  }
  return out;
}

const outdirs: string[] = [];

/** Deletes the cloud assemblies written by this test file's apps (bundles are tens of MB). */
export function removeTestOutdirs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A fresh App with cdk.json's flags plus `context`, writing to a temp folder.
 * `bundle: false` skips esbuild and image staging (`aws:cdk:bundling-stacks: []`): templates are
 * identical, only the asset contents are placeholders.
 */
export function testApp(context: Record<string, unknown> = {}, opts: { bundle?: boolean } = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'amad-cdk-test-'));
  outdirs.push(outdir);
  return new App({
    outdir,
    context: {
      ...cdkJsonContext(),
      ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...context,
    },
  });
}
