/** validate, run, status, report on this machine, and the commander wiring. */
import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registerPipelineCommands } from '../../cli/commands';
import { reportCommand } from '../../cli/commands/report';
import { runCommand } from '../../cli/commands/run';
import { runsCommand } from '../../cli/commands/runs';
import { statusCommand } from '../../cli/commands/status';
import { validateCommand } from '../../cli/commands/validate';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { TaskState } from '../../contract/state-machine';
import { testDeps } from './fixtures/deps';
import { fakeControl, fakePreparation } from './fixtures/fake-stages';
import { bundleFakeTrainer } from './fixtures/fake-trainer-bundle';
import { tinySpec } from './fixtures/tiny-spec';

jest.mock('../../trainer/stages', () => jest.requireActual('./fixtures/fake-stages').fakeStages);
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

let dir: string;
let trainer: Awaited<ReturnType<typeof bundleFakeTrainer>>;
beforeAll(async () => {
  trainer = await bundleFakeTrainer();
});
afterAll(() => trainer.cleanup());
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-cmd-'));
  fakeControl.reset();
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

async function specFile(spec: unknown, name = 'spec.json'): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, JSON.stringify(spec));
  return file;
}

const localDeps = (env: Record<string, string> = {}) =>
  testDeps({
    env: { AMAD_ARTIFACT_ROOT: dir, ...env },
    lambdas: defaultLambdaRegistry(fakePreparation),
    trainer: trainer.launcher(env),
  });

test('validate: a good spec exits 0 with a summary; a bad one exits 1 listing every problem', async () => {
  const ok = testDeps();
  expect(await validateCommand({ spec: await specFile(tinySpec()) }, ok)).toBe(0);
  expect(ok.stdout[0]).toMatch(/valid job spec \(2 student\(s\), 3 student job\(s\), teacher trained by the run, cache on, evaluation on test; placement: prepare lambda, cache lambda, evaluate lambda\)/);

  const bad = testDeps();
  const spec = tinySpec({ compute: { maxParallelJobs: 0 } });
  spec.students[1].distill = { variant: 'nope' as 'kl' };
  expect(await validateCommand({ spec: await specFile(spec) }, bad)).toBe(1);
  const text = bad.stderr.join('\n');
  expect(text).toMatch(/- students\.1\.distill\.variant: /);
  expect(text).toMatch(/- compute\.maxParallelJobs: /);

  const missing = testDeps();
  expect(await validateCommand({ spec: path.join(dir, 'absent.json') }, missing)).toBe(1);
  expect(missing.stderr[0]).toMatch(/cannot read job spec .*absent\.json/);
});

test('run, then status and report; a second run needs --resume', async () => {
  const spec = await specFile(tinySpec({ students: [tinySpec().students[1]] }));
  const deps = localDeps();
  expect(await runCommand({ spec, runId: 'cli-run' }, deps)).toBe(0);
  expect(deps.stdout).toEqual(['run cli-run succeeded', `report: ${path.join(dir, 'runs', 'cli-run', 'report', 'index.html')}`]);
  // Not a terminal: one JSON object per line, ending with the run's outcome.
  const lines = deps.progressText().trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.at(-1)).toMatchObject({ event: 'run-finished', status: 'SUCCEEDED', runId: 'cli-run' });
  expect(lines.some((l) => l.event === 'state-entered' && l.state === 'CacheTeacher' && l.total === 2)).toBe(true);

  const status = localDeps();
  expect(await statusCommand({ runId: 'cli-run' }, status)).toBe(0);
  expect(status.stdout.slice(1)).toEqual([
    '  done     validate',
    '  done     prepare-data',
    '  done     train-teacher',
    '  done     train-student/one2one/seed-0',
    '  done     merge-eval',
    '  done     report',
    '  2 teacher cache shard(s), 2 evaluation shard(s) done',
  ]);

  // Status lists stages only: a placement that no longer fits (here: a GPU type with no throughput entry) does not break it.
  process.env.AMAD_PLAN_GPU_INSTANCE_TYPES = 'x9.unknown';
  try {
    const later = localDeps();
    expect(await statusCommand({ runId: 'cli-run' }, later)).toBe(0);
    expect(later.stdout.slice(1)).toEqual(status.stdout.slice(1));
  } finally {
    delete process.env.AMAD_PLAN_GPU_INSTANCE_TYPES;
  }

  const report = localDeps();
  expect(await reportCommand({ runId: 'cli-run' }, report)).toBe(0);
  expect(report.stdout.map((p) => path.basename(p))).toEqual(['index.html', 'metrics.json', 'summary.md']);

  // The runs index lists the run (written by the Report Lambda) and links its report.
  const runs = localDeps();
  expect(await runsCommand({}, runs)).toBe(0);
  expect(runs.stdout[0]).toMatch(/^Run\s+Started\s+Task\s+Status/);
  expect(runs.stdout[2]).toMatch(/^cli-run\s+.*\bvqa\b.*\bsucceeded\b.*amad report cli-run --url$/);
  const index = JSON.parse(await fs.readFile(path.join(dir, 'runs', 'index.json'), 'utf8'));
  expect(index.runs).toEqual([expect.objectContaining({ runId: 'cli-run', status: 'succeeded', link: 'cli-run/report/index.html' })]);
  expect(await fs.readFile(path.join(dir, 'runs', 'index.html'), 'utf8')).toContain('href="cli-run/report/index.html"');

  const again = localDeps();
  expect(await runCommand({ spec, runId: 'cli-run' }, again)).toBe(2);
  expect(again.stderr[0]).toMatch(/already exists .*--resume/);
  const resumed = localDeps();
  expect(await runCommand({ spec, runId: 'cli-run', resume: true }, resumed)).toBe(0);
});

test('a failed run exits 1 and says how to resume; status shows what is pending', async () => {
  fakeControl.failMerge = true;
  const spec = await specFile(tinySpec({ students: [tinySpec().students[1]] }));
  const deps = localDeps();
  expect(await runCommand({ spec, runId: 'broken' }, deps)).toBe(1);
  expect(deps.stderr.join('\n')).toMatch(/run broken failed: Error: .*merge crashed[\s\S]*failure\.json[\s\S]*--run-id broken --resume/);
  const status = localDeps();
  await statusCommand({ runId: 'broken' }, status);
  expect(status.stdout).toEqual(expect.arrayContaining(['  pending  merge-eval', '  pending  report', '  done     train-teacher']));
  expect(status.stdout.at(-1)).toMatch(/last failure: MergeEval: Error/);
  const report = localDeps();
  expect(await reportCommand({ runId: 'broken' }, report)).toBe(1);
  expect(report.stderr[0]).toMatch(/failed before its report: see .*failure\.json/);
  // --url of a failed run opens its failure record (the command the failure notification names).
  const url = localDeps();
  expect(await reportCommand({ runId: 'broken', url: true }, url)).toBe(0);
  expect(url.stdout).toEqual([expect.stringMatching(/^file:\/\/.*\/runs\/broken\/failure\.json$/)]);
  const runs = localDeps();
  expect(await runsCommand({}, runs)).toBe(0);
  expect(runs.stdout[2]).toMatch(/^broken\s+.*\bfailed \(MergeEval\)/);
});

test('status and report of an unknown run exit 1', async () => {
  const deps = localDeps();
  expect(await statusCommand({ runId: 'ghost' }, deps)).toBe(1);
  expect(await reportCommand({ runId: 'ghost' }, deps)).toBe(1);
  expect(deps.stderr.join('\n')).toMatch(/no run ghost[\s\S]*no report for run ghost/);
});

test('registerPipelineCommands wires the subcommands and sets the exit code', async () => {
  const deps = testDeps();
  const program = registerPipelineCommands(new Command('amad').exitOverride(), () => deps);
  expect(program.commands.map((c) => c.name()).sort()).toEqual(['cancel', 'export', 'plan', 'report', 'run', 'runs', 'status', 'submit', 'validate']);
  const saved = process.exitCode;
  try {
    await program.parseAsync(['node', 'amad', 'validate', await specFile({ version: 1 })]);
    expect(process.exitCode).toBe(1);
    await program.parseAsync(['node', 'amad', 'submit', await specFile(tinySpec())]);
    expect(process.exitCode).toBe(2);
    expect(deps.stderr.at(-1)).toBe('usage: missing --bus: pass --bus or set AMAD_EVENT_BUS');
  } finally {
    process.exitCode = saved;
  }
});
