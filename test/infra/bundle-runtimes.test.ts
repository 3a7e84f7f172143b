/**
 * Every model-running handler bundle initialises the runtimes it was built for when it runs on
 * its own (issue 13 item 6, issue 15 item 3): each bundle is built with the deployed esbuild
 * settings (PipelineFunctions, real entry), copied to an empty folder outside the repository (so
 * nothing can resolve from the repo's node_modules) and `require`d in a child process with the
 * function's own environment variables from the template. The handler's cold start logs which
 * tfjs backend and which inference runtime came up; the test reads those lines: wasm, not the
 * cpu fallback, and ONNX Runtime, not TensorFlow.js.
 *
 * Why x86_64 here: the deployed functions are arm64, and an arm64 addon cannot load on this
 * x86_64 machine. So this test builds the SAME bundle layout for x86_64 (the `architecture`
 * prop, the only difference) to run it, and test/infra/bundling.test.ts asserts that the
 * deployed arm64 bundles carry the linux-arm64 binary.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { HANDLER_NAMES, HANDLER_SPECS, type HandlerName } from '../../infra/functions/handler-specs';
import { PipelineFunctions } from '../../infra/functions/pipeline-functions';
import { ArtifactBucket } from '../../infra/storage/artifact-bucket';
import { FIXTURE_ENTRY, removeTestOutdirs, testApp } from './helpers';
import { logicalIdOf } from './template-helpers';

const MODEL_HANDLERS = HANDLER_NAMES.filter((n) => HANDLER_SPECS[n].runsModel);
const scratch: string[] = [];

afterAll(() => {
  removeTestOutdirs();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

let bundles: Record<string, { dir: string; env: Record<string, string> }>;

beforeAll(() => {
  // GIVEN the model handlers bundled from their real entries for x86_64 (the others: the fixture)
  const app = testApp({}, { bundle: true });
  const stack = new Stack(app, 'RunnableBundles');
  const entryOverrides = Object.fromEntries(HANDLER_NAMES.filter((n) => !HANDLER_SPECS[n].runsModel).map((n) => [n, FIXTURE_ENTRY]));
  const fns = new PipelineFunctions(stack, 'Fns', { artifacts: new ArtifactBucket(stack, 'A'), entryOverrides, architecture: lambda.Architecture.X86_64 });
  const outdir = app.synth().directory;
  const resources = Template.fromStack(stack).toJSON().Resources;
  bundles = Object.fromEntries(
    MODEL_HANDLERS.map((name) => {
      const props = resources[logicalIdOf(fns.functions[name])].Properties;
      const env = Object.fromEntries(Object.entries(props.Environment.Variables as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
      return [name, { dir: path.join(outdir, `asset.${(props.Code.S3Key as string).replace(/\.zip$/, '')}`), env }];
    }),
  );
});

/** The JSON log lines a bundle's cold start writes, run from a copy of its folder alone. */
function coldStartLogs(name: HandlerName): Record<string, unknown>[] {
  const alone = mkdtempSync(path.join(tmpdir(), `amad-bundle-${name}-`));
  scratch.push(alone);
  execFileSync('cp', ['-R', `${bundles[name]!.dir}/.`, alone]);
  const run = spawnSync(process.execPath, ['-e', "require('./index.js')"], {
    cwd: alone,
    // The function's variables, and no NODE_PATH or inherited settings that could reach the repo.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: alone, ...bundles[name]!.env },
    encoding: 'utf8',
    timeout: 90_000,
  });
  if (run.status !== 0) throw new Error(`${name} bundle exited ${run.status}: ${run.stderr}`);
  return run.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('model handler bundles run on their own', () => {
  test('the runnable bundles are the x86_64 build of the layout (arm64 is asserted in bundling.test.ts)', () => {
    expect(MODEL_HANDLERS).toEqual(['cache-teacher', 'evaluate', 'merge-eval', 'report']);
    for (const name of MODEL_HANDLERS) {
      expect(readdirSync(path.join(bundles[name]!.dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux'))).toEqual(['x64']);
    }
  });

  test.each(MODEL_HANDLERS)('%s initialises tfjs wasm and ONNX Runtime, not a fallback', (name) => {
    const logs = coldStartLogs(name);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'tensorflow.js backend selected', backend: 'wasm' }));
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'inference runtime selected', runtime: 'onnxruntime' }));
    expect(logs).not.toContainEqual(expect.objectContaining({ runtime: 'tfjs' }));
  });
});
