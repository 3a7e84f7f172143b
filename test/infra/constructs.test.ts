/**
 * Construct-level behaviour and one test per validation rule. Each construct is built alone in a
 * fresh stack with bundling skipped, so these run in well under a second each.
 */
import { Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { GpuBatch, type GpuBatchProps } from '../../infra/batch/gpu-batch';
import { IsolatedNetwork } from '../../infra/batch/isolated-network';
import { HANDLER_NAMES, type HandlerName } from '../../infra/functions/handler-specs';
import { PipelineFunctions } from '../../infra/functions/pipeline-functions';
import { DistillationStateMachine, placeholdersOf } from '../../infra/orchestration/distillation-state-machine';
import { ArtifactBucket, ArtifactEncryption } from '../../infra/storage/artifact-bucket';
import { RunTrigger } from '../../infra/trigger/run-trigger';
import { FIXTURE_ENTRY, REPO_ROOT, testApp, removeTestOutdirs } from './helpers';
import { allPolicyStatements, arnText, asArray, logicalIdOf } from './template-helpers';

afterAll(removeTestOutdirs);

const ALL_FIXTURES = Object.fromEntries(HANDLER_NAMES.map((n) => [n, FIXTURE_ENTRY])) as Record<HandlerName, string>;
const IMAGE = ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:1.36');

/** A fresh stack in an app that skips bundling. */
function freshStack(): Stack {
  return new Stack(testApp(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function gpuBatchIn(stack: Stack, props: Partial<GpuBatchProps> = {}, id = 'Gpu'): GpuBatch {
  const artifacts = (stack.node.tryFindChild('Artifacts') as ArtifactBucket | undefined) ?? new ArtifactBucket(stack, 'Artifacts');
  return new GpuBatch(stack, id, { artifacts, image: IMAGE, ...props });
}

describe('ArtifactBucket', () => {
  test('KMS encryption creates a rotating key and grants it with the prefix grants', () => {
    // GIVEN
    const stack = freshStack();
    const artifacts = new ArtifactBucket(stack, 'Artifacts', { encryption: ArtifactEncryption.KMS });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    // WHEN
    artifacts.grantReadRuns(role);
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ BucketKeyEnabled: true, ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
    });
    const actions = allPolicyStatements(template).flatMap(({ statement }) => asArray(statement.Action));
    expect(actions).toEqual(expect.arrayContaining(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']));
  });

  test('grantWriteRun scopes each pattern under runs/<any id>/', () => {
    // GIVEN
    const stack = freshStack();
    const artifacts = new ArtifactBucket(stack, 'Artifacts');
    const role = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    // WHEN
    artifacts.grantWriteRun(role, 'cache/*', '_stages/cache-teacher/*');
    // THEN
    const write = allPolicyStatements(Template.fromStack(stack)).find(({ statement }) => asArray(statement.Action).includes('s3:PutObject'))!;
    expect(asArray(write.statement.Resource).map(arnText).map((a) => a.replace(/^getatt:\w+\.Arn/, '<bucket>')).sort()).toEqual([
      '<bucket>/runs/*/_stages/cache-teacher/*',
      '<bucket>/runs/*/cache/*',
    ]);
  });

  test('rejects an encryption it does not support', () => {
    expect(() => new ArtifactBucket(freshStack(), 'A', { encryption: 'dsse' as ArtifactEncryption })).toThrow(/encryption must be one of s3-managed, kms \(got "dsse"\)/);
  });

  test('rejects encryptionKey without KMS encryption, naming both props', () => {
    const stack = freshStack();
    const key = new kms.Key(stack, 'K');
    expect(() => new ArtifactBucket(stack, 'A', { encryptionKey: key })).toThrow(/encryptionKey is only used with encryption KMS, but encryption is "s3-managed"/);
  });

  test.each([
    ['scratchExpiration', { scratchExpiration: Duration.hours(36) }, /scratchExpiration must be a whole number of days, at least 1 \(got 1 day 12 hours\)/],
    ['noncurrentVersionExpiration', { noncurrentVersionExpiration: Duration.hours(2) }, /noncurrentVersionExpiration must be a whole number of days, at least 1 \(got 2 hours\)/],
    ['accessLogExpiration', { accessLogExpiration: Duration.minutes(30) }, /accessLogExpiration must be a whole number of days/],
  ])('rejects a %s that is not whole days', (_name, props, message) => {
    expect(() => new ArtifactBucket(freshStack(), 'A', props)).toThrow(message);
  });

  test('grantWriteRun rejects an empty pattern list and patterns that escape the run', () => {
    const stack = freshStack();
    const artifacts = new ArtifactBucket(stack, 'A');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => artifacts.grantWriteRun(role)).toThrow(/paths must name at least one key pattern/);
    expect(() => artifacts.grantWriteRun(role, '/data/*')).toThrow(/path must be a relative key pattern .* \(got "\/data\/\*"\)/);
    expect(() => artifacts.grantWriteRun(role, '../other/*')).toThrow(/\(got "\.\.\/other\/\*"\)/);
  });

  test('the access-log bucket is itself encrypted, private and TLS-only', () => {
    const stack = freshStack();
    const artifacts = new ArtifactBucket(stack, 'A');
    const id = logicalIdOf(artifacts.accessLogBucket);
    const template = Template.fromStack(stack).toJSON();
    const props = template.Resources[id].Properties;
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(props.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
    const policy = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === id) as any;
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });
});

describe('PipelineFunctions', () => {
  const build = (props: Partial<ConstructorParameters<typeof PipelineFunctions>[2]> = {}) => {
    const stack = freshStack();
    return new PipelineFunctions(stack, 'Fns', { artifacts: new ArtifactBucket(stack, 'A'), entryOverrides: ALL_FIXTURES, ...props });
  };

  test('model handlers get the model memory size, AMAD_BACKEND=wasm and AMAD_INFERENCE_RUNTIME=onnxruntime; others do not', () => {
    const fns = build();
    const template = Template.fromStack(fns.node.scope as Stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 5120,
      Environment: { Variables: Match.objectLike({ AMAD_BACKEND: 'wasm', AMAD_INFERENCE_RUNTIME: 'onnxruntime', POWERTOOLS_SERVICE_NAME: 'amad-distill-cache-teacher' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'amad-distill-validate', AMAD_BACKEND: Match.absent(), AMAD_INFERENCE_RUNTIME: Match.absent() }) },
    });
  });

  test.each([3007, 10241, 4096.5])('rejects modelMemorySize %p', (modelMemorySize) => {
    expect(() => build({ modelMemorySize })).toThrow(new RegExp(`modelMemorySize must be an integer from 3008 to 10240 MB \\(got ${modelMemorySize}\\)`));
  });

  test('rejects entryOverrides for an unknown handler', () => {
    expect(() => build({ entryOverrides: { ...ALL_FIXTURES, train: FIXTURE_ENTRY } as Record<string, string> })).toThrow(
      /entryOverrides names unknown handler "train": handlers are validate, prepare-data/,
    );
  });

  test('rejects a missing lock file', () => {
    expect(() => build({ depsLockFilePath: `${REPO_ROOT}/no-such-lock.json` })).toThrow(/depsLockFilePath ".*no-such-lock.json" does not exist/);
  });

  test('names every handler whose entry file is missing', () => {
    expect(() => build({ entryOverrides: { ...ALL_FIXTURES, report: '/nope/report.ts', failure: '/nope/failure.ts' } })).toThrow(
      /entry file missing for handler\(s\) report \(\/nope\/report.ts\), failure \(\/nope\/failure.ts\)/,
    );
  });
});

describe('IsolatedNetwork', () => {
  test.each([0, 7, 1.5])('rejects maxAzs %p', (maxAzs) => {
    expect(() => new IsolatedNetwork(freshStack(), 'N', { maxAzs })).toThrow(new RegExp(`maxAzs must be an integer from 1 to 6 \\(got ${maxAzs}\\)`));
  });
});

describe('GpuBatch', () => {
  test('spot: false leaves one on-demand environment in the queue', () => {
    const stack = freshStack();
    const gpu = gpuBatchIn(stack, { spot: false });
    expect(gpu.computeEnvironments).toHaveLength(1);
    Template.fromStack(stack).resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
    Template.fromStack(stack).hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'EC2' }) });
  });

  test('job sizes and the stop timeout reach the job definition and host config', () => {
    const stack = freshStack();
    gpuBatchIn(stack, { gpus: 2, cpu: 8, memory: Size.gibibytes(30), instanceTypes: ['g5.2xlarge'], stopTimeout: Duration.seconds(100) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: [{ Type: 'MEMORY', Value: '30720' }, { Type: 'VCPU', Value: '8' }, { Type: 'GPU', Value: '2' }],
      }),
    });
    const lt = JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]);
    expect(lt).toContain('ECS_CONTAINER_STOP_TIMEOUT=100s');
    expect(lt).toContain('ECS_ENABLE_SPOT_INSTANCE_DRAINING=true');
    expect(lt).toContain('"HttpTokens":"required"');
    expect(lt).toContain('"HttpPutResponseHopLimit":1');
  });

  const rules: [string, Partial<GpuBatchProps>, RegExp][] = [
    ['empty instanceTypes', { instanceTypes: [] }, /instanceTypes must name at least one instance type \(got \[\]\)/],
    ['a non-NVIDIA type', { instanceTypes: ['g4ad.xlarge'] }, /instanceTypes must be NVIDIA x86 GPU types .* \(got "g4ad.xlarge"\)/],
    ['a CPU type', { instanceTypes: ['m5.large'] }, /\(got "m5.large"\)/],
    ['maxvCpus 0', { maxvCpus: 0 }, /maxvCpus must be a positive integer \(got 0\)/],
    ['gpus 0', { gpus: 0 }, /gpus must be a positive integer: the trainer needs a GPU \(got 0\)/],
    ['cpu 0', { cpu: 0 }, /cpu must be a positive integer \(got 0\)/],
    ['retryAttempts 11', { retryAttempts: 11 }, /retryAttempts must be an integer from 1 to 10 \(Batch limit\) \(got 11\)/],
    ['cpu above maxvCpus', { cpu: 8, maxvCpus: 4 }, /cpu \(8\) exceeds maxvCpus \(4\)/],
    ['cpu above the largest instance', { cpu: 8, maxvCpus: 64, instanceTypes: ['g5.xlarge'] }, /cpu \(8\) exceeds the vCPUs of the largest of instanceTypes \(4\)/],
    ['spotAllocationStrategy without spot', { spot: false, spotAllocationStrategy: batch.AllocationStrategy.SPOT_CAPACITY_OPTIMIZED }, /spotAllocationStrategy is only used with spot: true, but spot is false/],
    ['stopTimeout above 600 s', { stopTimeout: Duration.minutes(11) }, /stopTimeout must be whole seconds from 1 to 600 \(got 11 minutes\)/],
  ];
  test.each(rules)('rejects %s', (_name, props, message) => {
    expect(() => gpuBatchIn(freshStack(), props)).toThrow(message);
  });
});

describe('DistillationStateMachine and RunTrigger', () => {
  let stack: Stack;
  let functions: PipelineFunctions;
  let gpuBatch: GpuBatch;
  let topic: sns.Topic;
  let artifacts: ArtifactBucket;

  beforeAll(() => {
    stack = freshStack();
    artifacts = new ArtifactBucket(stack, 'Artifacts');
    functions = new PipelineFunctions(stack, 'Fns', { artifacts, entryOverrides: ALL_FIXTURES });
    gpuBatch = gpuBatchIn(stack);
    topic = new sns.Topic(stack, 'Topic');
  });

  test('placeholdersOf lists each ${Name} once, sorted', () => {
    expect(placeholdersOf('{"a":"${B}","b":"${A}","c":"${B}","d":"$.path","e":"{x}"}')).toEqual(['A', 'B']);
  });

  test('passes only the placeholders the definition uses', () => {
    const sm = new DistillationStateMachine(stack, 'Partial', {
      definition: { StartAt: 'V', States: { V: { Type: 'Task', Resource: '${ValidateFunctionArn}', End: true } } },
      functions, gpuBatch, notifyTopic: topic,
    });
    expect(Object.keys(sm.substitutions)).toEqual(['ValidateFunctionArn']);
  });

  test('rejects a placeholder the stack cannot fill', () => {
    expect(
      () =>
        new DistillationStateMachine(stack, 'Unknown', {
          definition: { StartAt: 'V', States: { V: { Type: 'Task', Resource: '${TrainFunctionArn}', End: true } } },
          functions, gpuBatch, notifyTopic: topic,
        }),
    ).toThrow(/definition uses placeholder\(s\) \$\{TrainFunctionArn\} that the stack cannot fill/);
  });

  test('RunTrigger rejects a malformed notificationEmail', () => {
    expect(() => new RunTrigger(stack, 'BadMail', { artifacts, startRun: functions.functions['start-run'], notificationEmail: 'ml-team' })).toThrow(
      /notificationEmail must be an e-mail address \(got "ml-team"\)/,
    );
  });

  test('RunTrigger rejects a maxEventAge outside 1 minute – 24 hours', () => {
    expect(() => new RunTrigger(stack, 'BadAge', { artifacts, startRun: functions.functions['start-run'], maxEventAge: Duration.hours(25) })).toThrow(
      /maxEventAge must be from 1 minute to 24 hours \(EventBridge limit\) \(got 1 day 1 hour\)/,
    );
  });
});

