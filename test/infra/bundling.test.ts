/**
 * Real local esbuild bundling (Docker is never used): the bundles exist, and exactly the model
 * handlers carry the tfjs wasm binaries next to index.js.
 *
 * To keep this file fast on a shared 2-core machine, only the two model handlers and one other
 * (validate) are bundled from their real entries (those pull in tfjs, zod, the SDK: seconds
 * each); the rest, and any handler not written yet, bundle the tiny fixture entry.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_NAMES, HANDLER_SPECS, type HandlerName } from '../../infra/functions/handler-specs';
import { PipelineFunctions } from '../../infra/functions/pipeline-functions';
import { ArtifactBucket } from '../../infra/storage/artifact-bucket';
import { FIXTURE_ENTRY, fixtureEntriesForMissingHandlers, REPO_ROOT, testApp, removeTestOutdirs } from './helpers';
import { logicalIdOf } from './template-helpers';

afterAll(removeTestOutdirs);

const WASM_FILES = readdirSync(path.join(REPO_ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')).filter((f) => f.endsWith('.wasm')).sort();

const BUNDLED_FROM_REAL_ENTRY: readonly HandlerName[] = ['cache-teacher', 'evaluate', 'validate'];

let bundleDirs: Record<HandlerName, string>;

beforeAll(() => {
  // GIVEN an app that bundles (no bundling-stacks filter)
  const app = testApp({}, { bundle: true });
  const stack = new Stack(app, 'BundleStack');
  const entryOverrides = {
    ...Object.fromEntries(HANDLER_NAMES.filter((n) => !BUNDLED_FROM_REAL_ENTRY.includes(n)).map((n) => [n, FIXTURE_ENTRY])),
    ...fixtureEntriesForMissingHandlers(),
  };
  const fns = new PipelineFunctions(stack, 'Fns', { artifacts: new ArtifactBucket(stack, 'A'), entryOverrides });
  // WHEN it is synthesized
  const outdir = app.synth().directory;
  const resources = Template.fromStack(stack).toJSON().Resources;
  bundleDirs = Object.fromEntries(
    HANDLER_NAMES.map((name) => {
      const id = logicalIdOf(fns.functions[name]);
      const key = resources[id].Properties.Code.S3Key as string;
      return [name, path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`)];
    }),
  ) as Record<HandlerName, string>;
});

describe('handler bundles', () => {
  test.each(HANDLER_NAMES)('%s has an index.js bundle', (name) => {
    expect(existsSync(path.join(bundleDirs[name], 'index.js'))).toBe(true);
  });

  test.each(HANDLER_NAMES)('%s ships the tfjs wasm binaries exactly when it runs the model', (name) => {
    const wasm = readdirSync(bundleDirs[name]).filter((f) => f.endsWith('.wasm')).sort();
    expect(wasm).toEqual(HANDLER_SPECS[name].runsModel ? WASM_FILES : []);
  });
});
