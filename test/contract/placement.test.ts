/**
 * The scale planner (contract/placement): the paper-scale spec fits every limit with margin;
 * a pinned placement that cannot fit is refused naming the stage and the fix; tighter limits move
 * a stage to Batch; the planner's limits are the deployed ones; its FLOP arithmetic is the cost
 * module's.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { PlacementError, planRun, planRunWithoutPlacement } from '../../contract/plan';
import {
  AWS_LIMITS,
  deploymentGpuInstanceTypes,
  DEPLOYED_LAMBDA_LIMITS,
  DEFAULT_MODEL_MEMORY_MB,
  PLACEMENT_MARGIN,
  planningLambdaLimits,
  planPlacement,
  planScale,
  PLAN_GPU_TYPES_ENV,
  PLAN_LIMITS_ENV,
  resolveThroughputs,
  type LambdaLimits,
  type PlacedFunction,
} from '../../contract/placement';
import { parseJobSpec, parseJobSpecText, type JobSpecInput } from '../../contract/spec';
import { SUPPORTED_GPU_FAMILIES } from '../../infra/batch/gpu-families';
import { CONTEXT_DEFAULTS } from '../../infra/context';
import { HANDLER_SPECS } from '../../infra/functions/handler-specs';
import { flopsPerExample } from '../../trainer/eval/cost/flops';
import { parseModelConfig } from '../../trainer/model/config';
import { tinySpec } from '../cli/fixtures/tiny-spec';

const repo = path.join(__dirname, '..', '..');
const paperSpec = () => parseJobSpecText(readFileSync(path.join(repo, 'examples', 'paper-scale-vqa-v2-aws.json'), 'utf8'));
const plan = (spec = paperSpec(), limits?: Record<PlacedFunction, LambdaLimits>) =>
  planScale(spec, planRunWithoutPlacement(spec, spec.runId ?? 'x', 's3://' + 'b'.repeat(63) + '/runs/' + (spec.runId ?? 'x')), { limits });

describe('the paper-scale VQA v2 spec', () => {
  const p = plan();

  test('every invocation is estimated within its limit with margin', () => {
    expect(p.problems).toEqual([]);
    expect(p.placement.stages.map((s) => s.stage)).toEqual(['prepare', 'evaluate', 'trainTeacher', 'trainStudents']); // cache disabled
    for (const s of p.placement.stages) {
      expect(Number.isFinite(s.worstSeconds)).toBe(true);
      expect(s.worstSeconds).toBeLessThanOrEqual(PLACEMENT_MARGIN * s.limitSeconds);
      if (s.memoryMb) expect(s.memoryMb.estimate).toBeLessThanOrEqual(s.memoryMb.limit);
      expect(s.invocations).toBeGreaterThan(0);
    }
  });

  test('the width-768 teacher is evaluated on the GPU queue; preparation fans out over Lambda chunks', () => {
    const stage = (name: string) => p.placement.stages.find((s) => s.stage === name)!;
    expect(stage('evaluate')).toMatchObject({ placement: 'batch', queue: 'gpu' });
    expect(stage('prepare')).toMatchObject({ placement: 'lambda', unit: 'images' });
    // 82,783 + 40,504 images in chunks.
    expect(stage('prepare').invocations).toBe(Math.ceil((82_783 + 40_504) / stage('prepare').perInvocation));
    // 10 models (teacher + 3 students × 3 seeds) × ⌈214,354 / 2048⌉ val shards.
    expect(stage('evaluate').invocations).toBe(10 * Math.ceil(214_354 / 2048));
  });

  test('the largest state is under 256 KB and a successful run under 25,000 history events', () => {
    expect(p.stateBytes.estimate).toBeGreaterThan(0);
    expect(p.stateBytes.estimate!).toBeLessThan(AWS_LIMITS.stateDataBytes);
    expect(p.events.estimate!).toBeGreaterThan(10 * Math.ceil(214_354 / 2048) * 2); // at least entered + exited per eval item
    expect(p.events.estimate!).toBeLessThan(AWS_LIMITS.executionHistoryEvents);
    expect(p.costUsd).toBeGreaterThan(0);
  });

  test('planRun accepts it and records the placement for the state machine', () => {
    const spec = paperSpec();
    expect(planRun(spec, 'paper-vqa-v2', 's3://bucket/runs/paper-vqa-v2').placement).toEqual({ prepare: 'lambda', cacheTeacher: 'lambda', evaluate: 'batch' });
  });
});

describe('what does not fit is refused, naming the stage and the fix', () => {
  test('evaluation pinned to Lambda cannot finish in 900 s', () => {
    const spec = paperSpec();
    spec.compute.placement.evaluate = 'lambda';
    expect(() => planRun(spec, 'paper-vqa-v2', 's3://bucket/runs/paper-vqa-v2')).toThrow(PlacementError);
    expect(() => planRun(spec, 'paper-vqa-v2', 's3://bucket/runs/paper-vqa-v2')).toThrow(/evaluate: pinned to Lambda.*900 s limit: set compute\.placement\.evaluate to "batch"/);
  });

  test('a training job longer than half of compute.jobTimeoutMinutes', () => {
    const spec = paperSpec();
    spec.compute.jobTimeoutMinutes = 600;
    expect(plan(spec).problems.join('\n')).toMatch(/trainTeacher: .* raise compute\.jobTimeoutMinutes or lower train\.steps/);
  });

  test('tiny shards of a big dataset overflow the execution history', () => {
    const spec = paperSpec();
    spec.data.shardSize = 64;
    const p = plan(spec);
    expect(p.events.estimate!).toBeGreaterThan(AWS_LIMITS.executionHistoryEvents);
    expect(p.problems.join('\n')).toMatch(/execution history: .* raise data\.shardSize/);
  });

  test('a GPU instance type without a throughput', () => {
    const spec = paperSpec();
    spec.compute.instanceTypes = ['p5.48xlarge'];
    expect(plan(spec).problems.join('\n')).toMatch(/no throughput for GPU instance type p5\.48xlarge/);
  });
});

describe('placement follows the limits', () => {
  test('a tiny spec runs every stage on Lambda with the deployed limits', () => {
    const spec = parseJobSpec(tinySpec());
    expect(plan(spec).placement.stages.filter((s) => s.unit !== 'job').map((s) => s.placement)).toEqual(['lambda', 'lambda', 'lambda']);
  });

  test('with 10-second functions the model stages move to Batch and preparation stays on Lambda', () => {
    const spec = parseJobSpec(tinySpec());
    const limits = { ...DEPLOYED_LAMBDA_LIMITS, 'cache-teacher': { ...DEPLOYED_LAMBDA_LIMITS['cache-teacher'], timeoutSeconds: 10 }, evaluate: { ...DEPLOYED_LAMBDA_LIMITS.evaluate, timeoutSeconds: 10 } };
    const stages = plan(spec, limits).placement.stages;
    expect(stages.find((s) => s.stage === 'cacheTeacher')?.placement).toBe('batch');
    expect(stages.find((s) => s.stage === 'evaluate')?.placement).toBe('batch');
    expect(stages.find((s) => s.stage === 'prepare')?.placement).toBe('lambda');
  });

  test('a pin to Batch is kept even when Lambda would do', () => {
    const input: JobSpecInput = tinySpec({ compute: { placement: { cacheTeacher: 'batch' } } });
    expect(planRun(parseJobSpec(input), 'x', 'file:///tmp/runs/x').placement.cacheTeacher).toBe('batch');
  });

  test(`${PLAN_LIMITS_ENV} overrides the deployed limits, and bad JSON names the variable`, () => {
    expect(planningLambdaLimits({ [PLAN_LIMITS_ENV]: '{"evaluate":{"timeoutSeconds":60}}' }).evaluate).toEqual({ ...DEPLOYED_LAMBDA_LIMITS.evaluate, timeoutSeconds: 60 });
    expect(() => planningLambdaLimits({ [PLAN_LIMITS_ENV]: '{oops' })).toThrow(new RegExp(PLAN_LIMITS_ENV));
    expect(() => planningLambdaLimits({ [PLAN_LIMITS_ENV]: '{"validate":{}}' })).toThrow(/unknown function "validate"/);
  });
});

test("the planner's Lambda limits are the deployed handler specs", () => {
  const fromSpec = (name: PlacedFunction): LambdaLimits => {
    const h = HANDLER_SPECS[name];
    return { timeoutSeconds: (h.timeout as Duration).toSeconds(), memoryMb: h.memorySize ?? DEFAULT_MODEL_MEMORY_MB, ephemeralMb: h.ephemeralStorage?.toMebibytes() ?? 512 };
  };
  for (const name of Object.keys(DEPLOYED_LAMBDA_LIMITS) as PlacedFunction[]) expect(DEPLOYED_LAMBDA_LIMITS[name]).toEqual(fromSpec(name));
});

test('throughputs: model entries become FLOP/s with the cost module’s FLOP count', () => {
  const t = resolveThroughputs();
  const entry = t.cpuForwardFlops.entry as { examplesPerSecond: number; model: object };
  expect(t.cpuForwardFlops.value).toBeCloseTo(entry.examplesPerSecond * flopsPerExample(parseModelConfig(entry.model), 'vqa'), 0);
  const train = t.cpuTrainFlops.entry as { examplesPerSecond: number; model: object };
  expect(t.cpuTrainFlops.value).toBeCloseTo(3 * train.examplesPerSecond * flopsPerExample(parseModelConfig(train.model), 'vqa'), 0);
  expect(t.gpuFlops('g5.xlarge')?.entry.kind).toBe('estimate');
  expect(t.gpuFlops('p5.48xlarge')).toBeUndefined();
  for (const e of t.table.entries) expect(e.command.length).toBeGreaterThan(0);
});

test('the model Lambdas are planned at ONNX Runtime\'s forward rate when the table has one, else at wasm\'s', () => {
  const table = resolveThroughputs().table;
  expect(resolveThroughputs(table).cpuForwardFlops.entry).toMatchObject({ id: 'onnxruntime-forward', backend: 'onnxruntime', kind: 'measured' });
  const withoutOrt = { ...table, entries: table.entries.filter((e) => e.backend !== 'onnxruntime') };
  expect(resolveThroughputs(withoutOrt).cpuForwardFlops.entry).toMatchObject({ id: 'wasm-forward', backend: 'wasm' });
  expect(() => resolveThroughputs({ ...table, entries: withoutOrt.entries.filter((e) => e.id !== 'wasm-forward') })).toThrow(/no onnxruntime or wasm forward entry/);
});

describe("GPU stages are planned with the deployment's GPU instance types", () => {
  const saved = process.env[PLAN_GPU_TYPES_ENV];
  const setDeployment = (types: string | undefined) => {
    if (types === undefined) delete process.env[PLAN_GPU_TYPES_ENV];
    else process.env[PLAN_GPU_TYPES_ENV] = types;
  };
  beforeEach(() => setDeployment(undefined));
  afterAll(() => setDeployment(saved));
  const stage = (p: ReturnType<typeof planPlacement>, name: string) => p.stages.find((s) => s.stage === name)!;
  const t = resolveThroughputs();
  const t4 = t.gpuFlops('g4dn.xlarge')!;
  const a10g = t.gpuFlops('g5.xlarge')!;

  test('locally, with nothing set, the spec default (g4dn.xlarge, T4) as before', () => {
    const p = planPlacement(paperSpec());
    expect(p.gpu).toMatchObject({ instanceType: 'g4dn.xlarge', instanceTypes: ['g4dn.xlarge'], withoutThroughput: [] });
    expect(p.gpu.source).toMatch(/compute\.instanceTypes of the spec/);
    expect(stage(p, 'trainTeacher').rates).toEqual([t4.entry.id]);
    expect(p.problems).toEqual([]);
  });

  test(`${PLAN_GPU_TYPES_ENV} (the deployment) replaces the spec's types: on g5.xlarge training is planned at the A10G's rate`, () => {
    const onT4 = planPlacement(paperSpec());
    setDeployment('g5.xlarge');
    const onA10g = planPlacement(paperSpec());
    expect(onA10g.gpu).toMatchObject({ instanceType: 'g5.xlarge', instanceTypes: ['g5.xlarge'] });
    expect(onA10g.gpu.source).toMatch(new RegExp(PLAN_GPU_TYPES_ENV));
    for (const name of ['trainTeacher', 'trainStudents']) {
      expect(stage(onA10g, name).rates).toEqual([a10g.entry.id]);
      // Same FLOPs over the other GPU's rate, after the fixed job start-up.
      expect(stage(onA10g, name).worstSeconds - 180).toBeCloseTo(((stage(onT4, name).worstSeconds - 180) * t4.value) / a10g.value, 3);
    }
    expect(stage(onA10g, 'evaluate').rates).toContain(a10g.entry.id);
  });

  test('several types: the slowest with a throughput entry, whatever the order; its price', () => {
    for (const types of ['g5.xlarge,g4dn.xlarge', 'g4dn.xlarge, g5.xlarge']) {
      setDeployment(types);
      const p = planPlacement(paperSpec());
      expect(p.gpu.instanceType).toBe('g4dn.xlarge');
      expect(stage(p, 'trainTeacher').rates).toEqual([t4.entry.id]);
      const teacher = stage(p, 'trainTeacher');
      expect(teacher.costUsd).toBeCloseTo((teacher.worstSeconds * 0.526) / 3600, 6);
    }
    // The same rule for a spec's own list (local planning), which used to take the first.
    setDeployment(undefined);
    const spec = paperSpec();
    spec.compute.instanceTypes = ['g5.xlarge', 'g4dn.xlarge'];
    expect(planPlacement(spec).gpu.instanceType).toBe('g4dn.xlarge');
  });

  test('the default deployment (infra/context.ts) plans the paper-scale spec on g4dn.xlarge, and it fits', () => {
    setDeployment(CONTEXT_DEFAULTS.instanceTypes.join(','));
    const p = plan();
    expect(p.placement.gpu.instanceType).toBe('g4dn.xlarge');
    expect(p.problems).toEqual([]);
  });

  test('a type without a throughput entry is a problem of every GPU stage naming it and both fixes; the rest is planned with the known ones', () => {
    setDeployment('g5.xlarge,x9.xlarge');
    const p = planPlacement(paperSpec());
    expect(p.gpu).toMatchObject({ instanceType: 'g5.xlarge', withoutThroughput: ['x9.xlarge'] });
    const problems = p.problems.join('\n');
    for (const name of ['evaluate', 'trainTeacher', 'trainStudents']) {
      expect(problems).toMatch(new RegExp(`${name}: no throughput for GPU instance type x9\\.xlarge .*add an entry to contract/placement/throughputs\\.json or have the deployer change the instanceTypes CDK context`));
    }
    expect(problems).not.toMatch(/prepare:/); // preparation runs on Lambda, not on a GPU
    expect(Number.isFinite(stage(p, 'trainTeacher').worstSeconds)).toBe(true);
    // Through planRun (the Validate stage) the run is refused.
    expect(() => planRun(paperSpec(), 'paper-vqa-v2', 's3://bucket/runs/paper-vqa-v2')).toThrow(/x9\.xlarge/);
  });

  test('a training job over the time limit names the GPU it was planned on', () => {
    setDeployment('g5.xlarge,g4dn.xlarge');
    const spec = paperSpec();
    spec.compute.jobTimeoutMinutes = 600;
    expect(planPlacement(spec).problems.join('\n')).toMatch(/trainTeacher: a training job is estimated at \d+ h on g4dn\.xlarge \(the slowest of g5\.xlarge, g4dn\.xlarge\)/);
  });

  test('an explicit list (amad plan --instance-types) wins over the deployment variable', () => {
    setDeployment('g4dn.xlarge');
    const p = planPlacement(paperSpec(), { gpuInstanceTypes: { types: ['g5.xlarge'], source: '--instance-types', fix: 'change --instance-types' } });
    expect(p.gpu.instanceType).toBe('g5.xlarge');
  });

  test(`a malformed ${PLAN_GPU_TYPES_ENV} names the variable; an empty one is unset`, () => {
    expect(() => deploymentGpuInstanceTypes({ [PLAN_GPU_TYPES_ENV]: 'g5 xlarge' })).toThrow(new RegExp(`${PLAN_GPU_TYPES_ENV}: "g5 xlarge" is not an instance type`));
    expect(() => deploymentGpuInstanceTypes({ [PLAN_GPU_TYPES_ENV]: ' , ' })).toThrow(new RegExp(`${PLAN_GPU_TYPES_ENV} names no instance type`));
    expect(deploymentGpuInstanceTypes({ [PLAN_GPU_TYPES_ENV]: '' })).toBeUndefined();
    expect(deploymentGpuInstanceTypes({})).toBeUndefined();
    expect(deploymentGpuInstanceTypes({ [PLAN_GPU_TYPES_ENV]: ' g5.xlarge , p3.2xlarge ' })?.types).toEqual(['g5.xlarge', 'p3.2xlarge']);
  });

  test('every GPU family a deployment accepts (infra/batch/gpu-families.ts) has a throughput entry, so no deployment refuses every run', () => {
    for (const family of Object.keys(SUPPORTED_GPU_FAMILIES)) expect([family, t.gpuFlops(`${family}.xlarge`)?.entry.id]).toEqual([family, expect.any(String)]);
  });
});
