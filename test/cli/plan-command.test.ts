/** `amad plan` and the placement refusal of `amad validate` (issue 12 item 3). */
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerPipelineCommands } from '../../cli/commands';
import { planCommand } from '../../cli/commands/plan';
import { PLAN_GPU_TYPES_ENV } from '../../contract/placement';
import { validateCommand } from '../../cli/commands/validate';
import { testDeps } from './fixtures/deps';

const repo = path.join(__dirname, '..', '..');
const paper = path.join(repo, 'examples', 'paper-scale-vqa-v2-aws.json');
let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-plan-'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

test('amad plan prints every stage against its limit, the history, the largest state, prices and throughputs; exit 0 when it fits', async () => {
  const deps = testDeps();
  expect(await planCommand({ spec: paper }, deps)).toBe(0);
  const text = deps.stdout.join('\n');
  expect(text).toMatch(/\| prepare \| Lambda \| \d+ images \| \d+ \|/);
  expect(text).toMatch(/\| evaluate \| Batch GPU queue \| 2048 examples \| 1050 \|/);
  expect(text).toMatch(/\| trainStudents \| Batch GPU queue \| 1 job \| 9 \|/);
  expect(text).toMatch(/execution history: \d+ events of a successful run \(limit 25000\)/);
  expect(text).toMatch(/largest state: \d+ bytes \(limit 262144\)/);
  expect(text).toMatch(/estimated cost: \$\d+ \(on-demand; us-east-1 prices as of /);
  // The model Lambdas' forward rate is ONNX Runtime's (they run it), not wasm's.
  expect(text).toMatch(/onnxruntime-forward \(measured, .*\): .* — AMAD_BACKEND=wasm npx tsx bench\/run\.ts onnx-runtime/);
  expect(text).not.toMatch(/wasm-forward/);
  expect(text).toMatch(/gpu-t4 \(estimate\)/);
  expect(text).toMatch(/^fits: /m);
});

test('amad plan --json and --throughputs: a slower GPU table changes the plan', async () => {
  const table = JSON.parse(readFileSync(path.join(repo, 'contract', 'placement', 'throughputs.json'), 'utf8'));
  for (const e of table.entries) if (e.id === 'gpu-t4') e.flopsPerSecond /= 100;
  const file = path.join(dir, 'slow-gpu.json');
  await fs.writeFile(file, JSON.stringify(table));
  const deps = testDeps();
  expect(await planCommand({ spec: paper, throughputs: file, json: true }, deps)).toBe(1);
  const plan = JSON.parse(deps.stdout.join('\n'));
  expect(plan.problems.join('\n')).toMatch(/trainTeacher: a training job is estimated at \d+ h/);
});

test('amad validate refuses a pinned Lambda placement that cannot finish in 900 s, naming the stage and the fix', async () => {
  const spec = JSON.parse(readFileSync(paper, 'utf8'));
  spec.compute.placement = { evaluate: 'lambda' };
  const file = path.join(dir, 'pinned.json');
  await fs.writeFile(file, JSON.stringify(spec));
  const deps = testDeps();
  expect(await validateCommand({ spec: file }, deps)).toBe(1);
  expect(deps.stderr.join('\n')).toMatch(/evaluate: pinned to Lambda, an invocation is estimated at \d+ s, over 50% of the 900 s limit: set compute\.placement\.evaluate to "batch"/);
  expect(deps.stdout).toEqual([]);
});

test('amad plan of a spec whose dataset size is unknown leaves counts open and asks for --counts', async () => {
  const spec = JSON.parse(readFileSync(paper, 'utf8'));
  spec.data.questions.train = 's3://bucket/my-questions.json';
  const file = path.join(dir, 'custom.json');
  await fs.writeFile(file, JSON.stringify(spec));
  const deps = testDeps();
  expect(await planCommand({ spec: file }, deps)).toBe(0);
  expect(deps.stdout.join('\n')).toMatch(/data counts: unknown \(pass --counts\)/);
  const counts = path.join(dir, 'counts.json');
  await fs.writeFile(counts, JSON.stringify({ examples: { train: 1000, val: 500, test: 0 }, images: { train: 200, val: 100, test: 0 } }));
  const withCounts = testDeps();
  expect(await planCommand({ spec: file, counts }, withCounts)).toBe(0);
  expect(withCounts.stdout.join('\n')).toMatch(/\| evaluate \| Batch GPU queue \| 500 examples \| 10 \|/);
});

describe('amad plan --instance-types: the plan for a deployment', () => {
  const teacherRow = (text: string) => /\| trainTeacher \| Batch GPU queue \| 1 job \| 1 \| ([\d.]+ h) \//.exec(text)?.[1];

  test('without it the spec default g4dn.xlarge is named; with the default deployment the slower g4dn.xlarge, same estimates', async () => {
    const local = testDeps();
    expect(await planCommand({ spec: paper }, local)).toBe(0);
    const localText = local.stdout.join('\n');
    expect(localText).toMatch(/^GPU instance type: g4dn\.xlarge; from compute\.instanceTypes of the spec/m);
    const deployed = testDeps();
    expect(await planCommand({ spec: paper, instanceTypes: 'g5.xlarge,g4dn.xlarge' }, deployed)).toBe(0);
    const text = deployed.stdout.join('\n');
    expect(text).toMatch(/^GPU instance type: g4dn\.xlarge \(the slowest of g5\.xlarge, g4dn\.xlarge with a throughput entry: Batch may place a job on any of them\); from --instance-types/m);
    expect(teacherRow(text)).toBe(teacherRow(localText));
    expect(text).toMatch(/gpu-t4 \(estimate\)/);
  });

  test('a g5-only deployment plans on the A10G: a shorter training job', async () => {
    const deps = testDeps();
    expect(await planCommand({ spec: paper, instanceTypes: 'g5.xlarge' }, deps)).toBe(0);
    const text = deps.stdout.join('\n');
    expect(text).toMatch(/^GPU instance type: g5\.xlarge; from --instance-types/m);
    expect(text).toMatch(/gpu-a10g \(estimate\)/);
    expect(text).not.toMatch(/gpu-t4/);
    const t4 = testDeps();
    await planCommand({ spec: paper }, t4);
    expect(parseFloat(teacherRow(text)!)).toBeLessThan(parseFloat(teacherRow(t4.stdout.join('\n'))!));
  });

  test('a type without a throughput entry: exit 1, the type and the fix; a malformed list: exit 1 naming the flag', async () => {
    const unknown = testDeps();
    expect(await planCommand({ spec: paper, instanceTypes: 'g5.xlarge,x9.xlarge', json: true }, unknown)).toBe(1);
    const plan = JSON.parse(unknown.stdout.join('\n'));
    expect(plan.placement.gpu).toMatchObject({ instanceType: 'g5.xlarge', instanceTypes: ['g5.xlarge', 'x9.xlarge'], withoutThroughput: ['x9.xlarge'] });
    expect(plan.problems.join('\n')).toMatch(/trainTeacher: no throughput for GPU instance type x9\.xlarge \(from --instance-types.*\): add an entry to contract\/placement\/throughputs\.json or change --instance-types/);
    const bad = testDeps();
    expect(await planCommand({ spec: paper, instanceTypes: 'g5 xlarge' }, bad)).toBe(1);
    expect(bad.stderr.join('\n')).toMatch(/--instance-types: "g5 xlarge" is not an instance type/);
    expect(bad.stdout).toEqual([]);
  });

  test(`without the flag, ${PLAN_GPU_TYPES_ENV} in the environment is the deployment planned for`, async () => {
    const deps = testDeps({ env: { [PLAN_GPU_TYPES_ENV]: 'g5.xlarge' } });
    expect(await planCommand({ spec: paper }, deps)).toBe(0);
    expect(deps.stdout.join('\n')).toMatch(new RegExp(`^GPU instance type: g5\\.xlarge; from the deployment's compute environment \\(${PLAN_GPU_TYPES_ENV}\\)`, 'm'));
  });

  test('the command line passes --instance-types and documents it in the help', async () => {
    const deps = testDeps();
    const program = registerPipelineCommands(new Command('amad').exitOverride(), () => deps);
    const plan = program.commands.find((c) => c.name() === 'plan')!;
    expect(plan.helpInformation()).toMatch(/--instance-types <types>\s+plan for a deployment's GPU instance types/);
    const saved = process.exitCode;
    try {
      await program.parseAsync(['node', 'amad', 'plan', paper, '--instance-types', 'g5.xlarge']);
      expect(deps.stdout.join('\n')).toMatch(/^GPU instance type: g5\.xlarge; from --instance-types/m);
    } finally {
      process.exitCode = saved;
    }
  });
});
