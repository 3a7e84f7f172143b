/**
 * Real local esbuild bundling (Docker is never used): the bundles exist, exactly the model
 * handlers carry the tfjs wasm binaries next to index.js and ONNX Runtime with the linux-arm64
 * binary (the deployed architecture) and no other platform's, and every bundle fits Lambda's
 * 250 MB unzipped limit. test/infra/bundle-runtimes.test.ts runs the model bundles.
 *
 * To keep this file fast on a shared 2-core machine, only the two model handlers and one other
 * (validate) are bundled from their real entries (those pull in tfjs, zod, the SDK: seconds
 * each); the rest, and any handler not written yet, bundle the tiny fixture entry.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/** Bytes of every file under `dir`. */
function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? treeBytes(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size), 0);
}

/** Lambda's limit on a function's unzipped code (and layers). */
const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

describe('ONNX Runtime in the model bundles', () => {
  const ortBin = (name: HandlerName, ...rest: string[]) => path.join(bundleDirs[name], 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', ...rest);

  test.each(HANDLER_NAMES)('%s carries onnxruntime-node with the linux-arm64 binary only, exactly when it runs the model', (name) => {
    if (!HANDLER_SPECS[name].runsModel) {
      expect(existsSync(path.join(bundleDirs[name], 'node_modules'))).toBe(false);
      return;
    }
    // The functions run on Graviton (arm64): that binary and its library, and nothing for other platforms.
    expect(readdirSync(ortBin(name))).toEqual(['linux']);
    expect(readdirSync(ortBin(name, 'linux'))).toEqual(['arm64']);
    expect(readdirSync(ortBin(name, 'linux', 'arm64')).sort()).toEqual(['libonnxruntime.so.1', 'onnxruntime_binding.node']);
    expect(existsSync(path.join(bundleDirs[name], 'node_modules', 'onnxruntime-common', 'package.json'))).toBe(true);
  });

  test.each(HANDLER_NAMES)('%s fits within the 250 MB unzipped Lambda limit', (name) => {
    expect(treeBytes(bundleDirs[name])).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
  });
});
