/**
 * The stack as a company account needs it (issue 13): no lost run requests, reads limited to the
 * artifact bucket and the listed buckets, spend capped by the deployer, alarms on the topic, a
 * first deploy that fits a new account. Synthesized as `cdk synth` does (cdk-nag on), with a
 * listed bucket and non-default caps so that each value is seen to arrive.
 */
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { RUN_REQUEST_FAILED } from '../../contract/events';
import { PLAN_GPU_TYPES_ENV } from '../../contract/placement/gpu-instance-types';
import { PLAN_LIMITS_ENV } from '../../contract/placement/limits';
import { HANDLER_NAMES, HANDLER_SPECS } from '../../infra/functions/handler-specs';
import { RUNNABLE_LIMIT_STATUS_PREFIX } from '../../infra/monitoring/pipeline-alarms';
import { buildPipelineApp } from '../../infra/pipeline-app';
import type { AmadDistillStack } from '../../infra/stack';
import { fixtureEntriesForMissingHandlers, removeTestOutdirs, testApp } from './helpers';
import { arnText, asArray, definitionText, logicalIdOf } from './template-helpers';
import { ecrLayerBucketObjects } from '../../infra/batch/isolated-network';
import { bucketArnOf } from '../../infra/storage/readable-buckets';

const savedRegion = process.env.CDK_DEFAULT_REGION;
let stack: AmadDistillStack;
let template: Template;
let synthError: unknown;

function synth(context: Record<string, unknown>): { app: App; stack: AmadDistillStack } {
  const app = testApp(context);
  return { app, stack: buildPipelineApp(app, { entryOverrides: fixtureEntriesForMissingHandlers() }) };
}

beforeAll(() => {
  process.env.CDK_DEFAULT_REGION = 'eu-west-1';
  const built = synth({ readableBuckets: 'shared-datasets', maxJobMinutes: 600, maxJobAttempts: 3, runnableTimeoutMinutes: 90 });
  stack = built.stack;
  try {
    built.app.synth();
  } catch (e) {
    synthError = e;
  }
  if (!synthError) template = Template.fromStack(stack);
});
afterAll(() => {
  removeTestOutdirs();
  if (savedRegion === undefined) delete process.env.CDK_DEFAULT_REGION;
  else process.env.CDK_DEFAULT_REGION = savedRegion;
});

const ref = (construct: Parameters<typeof logicalIdOf>[0]) => ({ Ref: logicalIdOf(construct) });
const arnOf = (construct: Parameters<typeof logicalIdOf>[0]) => ({ 'Fn::GetAtt': [logicalIdOf(construct), 'Arn'] });
const topicRef = () => ref(stack.trigger.notifyTopic);
const resourcesOf = (type: string) => Object.values(template.findResources(type)) as { Properties: Record<string, unknown> }[];

test('still passes cdk-nag with the listed bucket and the caps', () => {
  expect(synthError).toBeUndefined();
});

describe('1. no run request is lost', () => {
  test("start-run's failures go, after 2 retries, to an encrypted queue that redrives to the dead-letter queue", () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.functions.functions['start-run']),
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: arnOf(stack.trigger.failedRequests) } },
    });
    const queue = template.toJSON().Resources[logicalIdOf(stack.trigger.failedRequests)].Properties;
    expect(queue).toMatchObject({ SqsManagedSseEnabled: true, RedrivePolicy: { deadLetterTargetArn: arnOf(stack.trigger.deadLetterQueue), maxReceiveCount: 5 } });
  });

  test('every asynchronously invoked function (an EventBridge rule target) has an on-failure destination', () => {
    const fnIds = new Set(HANDLER_NAMES.map((n) => logicalIdOf(stack.functions.functions[n])));
    const asyncFnIds = new Set(
      resourcesOf('AWS::Events::Rule')
        .flatMap((r) => (r.Properties.Targets as { Arn: { 'Fn::GetAtt'?: string[] } }[]) ?? [])
        .map((t) => t.Arn['Fn::GetAtt']?.[0])
        .filter((id): id is string => id !== undefined && fnIds.has(id)),
    );
    expect([...asyncFnIds]).toEqual([logicalIdOf(stack.functions.functions['start-run'])]);
    const withDestination = new Set(
      resourcesOf('AWS::Lambda::EventInvokeConfig')
        .filter((c) => (c.Properties.DestinationConfig as { OnFailure?: unknown } | undefined)?.OnFailure !== undefined)
        .map((c) => (c.Properties.FunctionName as { Ref: string }).Ref),
    );
    for (const id of asyncFnIds) expect({ id, destination: withDestination.has(id) }).toEqual({ id, destination: true });
  });

  test('request-failed reads the queue (partial batch failures) and its notification reaches the topic', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(stack.trigger.failedRequests),
      FunctionName: ref(stack.functions.functions['request-failed']),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(stack.trigger.eventBus),
      EventPattern: { source: ['amad-distill'], 'detail-type': [RUN_REQUEST_FAILED] },
      Targets: [Match.objectLike({ Arn: topicRef() })],
    });
  });

  test('both queues alarm on depth to the topic', () => {
    for (const queue of [stack.trigger.failedRequests, stack.trigger.deadLetterQueue]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(queue), 'QueueName'] } }],
        Threshold: 1,
        AlarmActions: [topicRef()],
      });
    }
  });

  test('the topic key lets EventBridge and CloudWatch publish', () => {
    const policy = template.toJSON().Resources[logicalIdOf(stack.trigger.notifyTopicKey)].Properties.KeyPolicy;
    const services = (policy.Statement as { Principal: { Service?: string | string[] }; Action: string | string[] }[])
      .filter((st) => asArray(st.Action).includes('kms:GenerateDataKey*') && asArray(st.Action).includes('kms:Decrypt'))
      .flatMap((st) => asArray(st.Principal.Service ?? []));
    expect(services).toEqual(expect.arrayContaining(['events.amazonaws.com', 'cloudwatch.amazonaws.com']));
  });
});

describe('2. reads only from the artifact bucket and the listed buckets', () => {
  test('the S3 gateway endpoint admits the artifact bucket, the listed bucket and the ECR layer bucket only', () => {
    const endpoint = resourcesOf('AWS::EC2::VPCEndpoint').find((e) => e.Properties.VpcEndpointType === 'Gateway')!;
    const doc = endpoint.Properties.PolicyDocument as { Statement: { Resource: unknown; Principal: unknown; Action: string | string[] }[] };
    const resources = doc.Statement.flatMap((s) => asArray(s.Resource).map(arnText)).sort();
    const bucket = `getatt:${logicalIdOf(stack.artifacts.bucket)}.Arn`;
    const ecrLayers = arnText(stack.resolve(ecrLayerBucketObjects(stack)));
    expect(ecrLayers).toMatch(/:s3:::prod-(eu-west-1|ref:AWS::Region)-starport-layer-bucket\/\*$/);
    expect(resources).toEqual([bucket, `${bucket}/*`, arnText(stack.resolve(bucketArnOf(stack, 'shared-datasets'))), `${arnText(stack.resolve(bucketArnOf(stack, 'shared-datasets')))}/*`, ecrLayers].sort());
    expect(doc.Statement.flatMap((s) => asArray(s.Action))).not.toContain('s3:*');
  });

  test('Validate knows the bucket, the listed buckets and the cap; the listed bucket is granted read-only to the stages that read spec URIs', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      Description: HANDLER_SPECS.validate.description,
      Environment: { Variables: Match.objectLike({ ARTIFACT_BUCKET: ref(stack.artifacts.bucket), READABLE_BUCKETS: 'shared-datasets', MAX_JOB_MINUTES: '600' }) },
    });
    const policiesWithListed = resourcesOf('AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties).includes('shared-datasets'));
    const roles = policiesWithListed.flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).sort();
    const expected = [
      ...(['prepare-data', 'cache-teacher', 'evaluate', 'report'] as const).map((n) => logicalIdOf(stack.functions.functions[n].role as iam.Role)),
      logicalIdOf(stack.gpuBatch.jobRole),
      // data preparation placed on the CPU queue
      logicalIdOf(stack.cpuBatch.jobRole),
    ].sort();
    expect(roles).toEqual(expected);
    for (const p of policiesWithListed) {
      const actions = (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement.filter((s) =>
        JSON.stringify(s.Resource).includes('shared-datasets'),
      ).flatMap((s) => s.Action);
      expect(actions.sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    }
  });
});

describe('3. spend is capped by the deployer', () => {
  test('the job definition times out at maxJobMinutes and makes maxJobAttempts attempts', () => {
    template.hasResourceProperties('AWS::Batch::JobDefinition', { Timeout: { AttemptDurationSeconds: 600 * 60 }, RetryStrategy: Match.objectLike({ Attempts: 3 }) });
  });

  test('a job RUNNABLE without capacity for runnableTimeoutMinutes is cancelled, for every reason Batch offers', () => {
    const [queue] = resourcesOf('AWS::Batch::JobQueue');
    expect(queue.Properties.JobStateTimeLimitActions).toEqual(
      ['CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE', 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT'].map((Reason) => ({
        Action: 'CANCEL',
        MaxTimeSeconds: 90 * 60,
        Reason,
        State: 'RUNNABLE',
      })),
    );
  });

  test('every Map of the deployed definition has a concurrency cap; Lambda fan-out is at most 32 at once', () => {
    const [sm] = resourcesOf('AWS::StepFunctions::StateMachine');
    const definition = JSON.parse(definitionText(sm.Properties.DefinitionString)) as { States: Record<string, Record<string, unknown>> };
    const maps: { name: string; cap: number | string; lambdaFanout: number }[] = [];
    const walk = (states: Record<string, Record<string, unknown>>, outer: number) => {
      for (const [name, s] of Object.entries(states)) {
        if (s.Type !== 'Map') continue;
        const cap = (s.MaxConcurrency as number | undefined) ?? (s.MaxConcurrencyPath as string | undefined) ?? 0;
        maps.push({ name, cap, lambdaFanout: typeof cap === 'number' ? outer * cap : Infinity });
        walk((s.ItemProcessor as { States: Record<string, Record<string, unknown>> }).States, typeof cap === 'number' ? outer * cap : outer);
      }
    };
    walk(definition.States, 1);
    // (every Map the definition has, present and future, is checked below)
    expect(maps.map((m) => m.name)).toEqual(expect.arrayContaining(['CacheTeacher', 'Evaluate', 'EvaluateModel', 'TrainStudents']));
    for (const m of maps) expect({ map: m.name, capped: m.cap !== 0 }).toEqual({ map: m.name, capped: true });
    expect(Math.max(...maps.filter((m) => m.name !== 'TrainStudents').map((m) => m.lambdaFanout))).toBeLessThanOrEqual(32);
  });
});

describe("3b. Validate's planner plans with the deployment's GPU types", () => {
  const validateEnv = (st: AmadDistillStack, t: Template) =>
    (t.toJSON().Resources[logicalIdOf(st.functions.functions.validate)].Properties.Environment.Variables as Record<string, unknown>)[PLAN_GPU_TYPES_ENV];
  const environmentTypes = (st: AmadDistillStack, t: Template) =>
    st.gpuBatch.computeEnvironments.map((ce) => (t.toJSON().Resources[logicalIdOf(ce)].Properties.ComputeResources as { InstanceTypes: string[] }).InstanceTypes);

  test('the default context: g5.xlarge,g4dn.xlarge, the types of both GPU compute environments', () => {
    expect(validateEnv(stack, template)).toBe('g5.xlarge,g4dn.xlarge');
    for (const types of environmentTypes(stack, template)) expect(types).toEqual(['g5.xlarge', 'g4dn.xlarge']);
  });

  test('the instanceTypes context arrives in the variable; the other functions do not plan', () => {
    const { stack: st } = synth({ instanceTypes: 'p3.2xlarge, g5.2xlarge' });
    const t = Template.fromStack(st);
    expect(validateEnv(st, t)).toBe('p3.2xlarge,g5.2xlarge');
    for (const types of environmentTypes(st, t)) expect(types).toEqual(['p3.2xlarge', 'g5.2xlarge']);
    const withVariable = Object.values(t.findResources('AWS::Lambda::Function')).filter(
      (f) => (f as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables?.[PLAN_GPU_TYPES_ENV] !== undefined,
    );
    expect(withVariable).toHaveLength(1);
  });
});

describe('4. alarms to the notification topic', () => {
  test('executions failed, timed out and aborted', () => {
    for (const MetricName of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName,
        Dimensions: [{ Name: 'StateMachineArn', Value: ref(stack.pipeline.stateMachine) }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef()],
      });
    }
  });

  test('errors and throttles of every Lambda function', () => {
    for (const name of HANDLER_NAMES) {
      for (const MetricName of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName,
          Dimensions: [{ Name: 'FunctionName', Value: ref(stack.functions.functions[name]) }],
          AlarmActions: [topicRef()],
        });
      }
    }
  });

  test('failed Batch jobs of the queue, and jobs cancelled after waiting RUNNABLE, each with its own message', () => {
    const queueArn = stack.resolve(stack.gpuBatch.jobQueue.jobQueueArn);
    const cpuQueueArn = stack.resolve(stack.cpuBatch.jobQueue.jobQueueArn);
    const rule = (statusReason: unknown) =>
      resourcesOf('AWS::Events::Rule').find((r) => JSON.stringify((r.Properties.EventPattern as { detail?: unknown }).detail) === JSON.stringify({ status: ['FAILED'], jobQueue: [queueArn, cpuQueueArn], statusReason }));
    const stuck = rule([{ prefix: RUNNABLE_LIMIT_STATUS_PREFIX }]);
    const failed = rule([{ 'anything-but': { prefix: RUNNABLE_LIMIT_STATUS_PREFIX } }]);
    for (const r of [stuck, failed]) {
      expect(r?.Properties.EventPattern).toMatchObject({ source: ['aws.batch'], 'detail-type': ['Batch Job State Change'] });
      expect(r?.Properties.Targets).toEqual([expect.objectContaining({ Arn: topicRef() })]);
    }
    expect(JSON.stringify(stuck!.Properties.Targets)).toContain('waited RUNNABLE for more than 90 minutes');
  });
});

describe('5. a first deploy fits a new account', () => {
  test('the model Lambdas default to 3008 MB; the modelMemoryMB context raises them', () => {
    const memoryOf = (s: AmadDistillStack, t: Template, name: 'cache-teacher' | 'evaluate') =>
      t.toJSON().Resources[logicalIdOf(s.functions.functions[name])].Properties.MemorySize as number;
    const defaults = synth({});
    const raised = synth({ modelMemoryMB: '5120' });
    for (const name of ['cache-teacher', 'evaluate'] as const) {
      expect(memoryOf(defaults.stack, Template.fromStack(defaults.stack), name)).toBe(3008);
      expect(memoryOf(raised.stack, Template.fromStack(raised.stack), name)).toBe(5120);
    }
    // Validate's placement planner plans with the memory the functions really have
    const validateEnv = (st: AmadDistillStack) =>
      (Template.fromStack(st).toJSON().Resources[logicalIdOf(st.functions.functions.validate)].Properties.Environment.Variables as Record<string, unknown>)[PLAN_LIMITS_ENV];
    expect(validateEnv(defaults.stack)).toBeUndefined();
    expect(JSON.parse(validateEnv(raised.stack) as string)).toEqual({ 'cache-teacher': { memoryMb: 5120 }, evaluate: { memoryMb: 5120 } });
    const all = resourcesOf('AWS::Lambda::Function').map((f) => f.Properties.MemorySize as number);
    expect(Math.max(...all)).toBeLessThanOrEqual(3008);
  });

  test('both GPU compute environments use the launch template at its latest version number', () => {
    const lt = logicalIdOf(stack.gpuBatch.node.findChild('HostTemplate') as never);
    const gpuEnvironments = stack.gpuBatch.computeEnvironments.map((ce) => template.toJSON().Resources[logicalIdOf(ce)] as { Properties: Record<string, unknown> });
    expect(gpuEnvironments).toHaveLength(2);
    for (const ce of gpuEnvironments) {
      expect((ce.Properties.ComputeResources as { LaunchTemplate: unknown }).LaunchTemplate).toEqual({
        LaunchTemplateId: { Ref: lt },
        Version: { 'Fn::GetAtt': [lt, 'LatestVersionNumber'] },
      });
    }
  });
});

describe('8. read scope per stage', () => {
  /** Object patterns (relative to the bucket) a role may s3:GetObject in the artifact bucket. */
  const readsOf = (role: iam.IRole) => {
    const bucket = `getatt:${logicalIdOf(stack.artifacts.bucket)}.Arn/`;
    const id = logicalIdOf(role as iam.Role);
    return resourcesOf('AWS::IAM::Policy')
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === id))
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement)
      .filter((st) => asArray(st.Action).includes('s3:GetObject'))
      .flatMap((st) => asArray(st.Resource).map(arnText))
      .filter((a) => a.startsWith(bucket))
      .map((a) => a.slice(bucket.length))
      .sort();
  };
  const fnRole = (name: (typeof HANDLER_NAMES)[number]) => stack.functions.functions[name].role!;

  test('no role reads every run (runs/*) any more', () => {
    for (const name of HANDLER_NAMES) expect({ name, reads: readsOf(fnRole(name)) }).toEqual({ name, reads: expect.not.arrayContaining(['runs/*']) });
    expect(readsOf(stack.gpuBatch.jobRole)).not.toContain('runs/*');
  });

  test('each stage reads the parts of a run it uses', () => {
    const runsIndex = ['runs/_index/*', 'runs/index.html', 'runs/index.json'];
    expect(readsOf(fnRole('validate'))).toEqual(['runs/*/_stages/validate/*', 'runs/*/spec.json', ...runsIndex]);
    // what the runs index row needs; the kept stages are listed, not read
    expect(readsOf(fnRole('failure'))).toEqual(['runs/*/_stages/validate/*', 'runs/*/failure.json', 'runs/*/spec.json', ...runsIndex]);
    expect(readsOf(fnRole('start-run'))).toEqual(['jobs/*']);
    expect(readsOf(fnRole('merge-eval'))).toEqual(['runs/*/_stages/evaluate/*', 'runs/*/_stages/merge-eval/*', 'runs/*/eval/*', 'runs/*/spec.json']);
    // models/: an ONNX teacher's sidecar and tokenizer fix what preparation builds (issue 16)
    expect(readsOf(fnRole('prepare-data'))).toEqual(['datasets/*', 'models/*', 'runs/*/_stages/prepare-data/*', 'runs/*/data/*', 'runs/*/spec.json']);
    expect(readsOf(fnRole('prepare-chunk'))).toEqual(['datasets/*', 'runs/*/data/*']);
    // the report may load a teacher checkpoint from models/ (it renders attention maps)
    expect(readsOf(fnRole('report'))).toEqual(expect.arrayContaining(['models/*', 'runs/*/models/*', 'runs/*/eval/*']));
    expect(readsOf(stack.gpuBatch.jobRole)).not.toContain('runs/*/eval/*');
  });

  test('the Batch job roles can do what the stages placed on them do (lambdas/stage-job.ts)', () => {
    const writesOf = (role: iam.IRole) => {
      const bucket = `getatt:${logicalIdOf(stack.artifacts.bucket)}.Arn/`;
      const id = logicalIdOf(role as iam.Role);
      return resourcesOf('AWS::IAM::Policy')
        .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === id))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement)
        .filter((st) => asArray(st.Action).includes('s3:PutObject'))
        .flatMap((st) => asArray(st.Resource).map(arnText))
        .map((a) => a.slice(bucket.length));
    };
    // GPU queue: training, and cache-teacher / evaluate shards placed on it
    expect(writesOf(stack.gpuBatch.jobRole)).toEqual(expect.arrayContaining(['runs/*/models/*', 'runs/*/cache/*', 'runs/*/eval/parts/*', 'runs/*/_stages/evaluate/*']));
    expect(readsOf(stack.gpuBatch.jobRole)).toEqual(expect.arrayContaining(['runs/*/eval/parts/*', 'runs/*/_stages/cache-teacher/*']));
    // CPU queue: data preparation placed on it
    expect(writesOf(stack.cpuBatch.jobRole)).toEqual(expect.arrayContaining(['runs/*/data/*', 'runs/*/_stages/prepare-data/*']));
    expect(readsOf(stack.cpuBatch.jobRole)).toEqual(expect.arrayContaining(['datasets/*', 'runs/*/spec.json']));
  });
});
