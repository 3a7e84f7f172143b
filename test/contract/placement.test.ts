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
  DEPLOYED_LAMBDA_LIMITS,
  DEFAULT_MODEL_MEMORY_MB,
  PLACEMENT_MARGIN,
  planningLambdaLimits,
  planScale,
  PLAN_LIMITS_ENV,
  resolveThroughputs,
  type LambdaLimits,
  type PlacedFunction,
} from '../../contract/placement';
import { parseJobSpec, parseJobSpecText, type JobSpecInput } from '../../contract/spec';
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
