/**
 * The whole app as `cdk synth` builds it (cdk.json flags, cdk-nag AwsSolutions on), synthesized
 * once; every test reads the same template.
 */
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildDefinition, SUBSTITUTIONS } from '../../contract/state-machine';
import { DISTILLATION_REQUESTED, EVENT_SOURCE } from '../../contract/events';
import { HANDLER_ACCESS } from '../../infra/access';
import { HANDLER_NAMES, OUTSIDE_STATE_MACHINE } from '../../infra/functions/handler-specs';
import { buildPipelineApp } from '../../infra/pipeline-app';
import type { AmadDistillStack } from '../../infra/stack';
import { SCRATCH_TAG_KEY, SCRATCH_TAG_VALUE } from '../../contract/scratch-tag';
import { fixtureEntriesForMissingHandlers, testApp, removeTestOutdirs } from './helpers';
import {
  allPolicyStatements,
  arnText,
  asArray,
  batchRetryDecision,
  definitionText,
  fillPlaceholders,
  logicalIdOf,
  refLabel,
} from './template-helpers';

let app: App;
let stack: AmadDistillStack;
let template: Template;
let synthError: unknown;

const savedRegion = process.env.CDK_DEFAULT_REGION;

beforeAll(() => {
  // GIVEN the app as `cdk synth` runs it without credentials (region known, account not; ARNs
  // then hold a literal region, which cdk-nag acknowledgements must match), with cdk.json's
  // flags, an e-mail subscription and a cost center
  process.env.CDK_DEFAULT_REGION = 'eu-west-1';
  app = testApp({ notificationEmail: 'ml-team@example.com', costCenter: 'research-42' });
  stack = buildPipelineApp(app, { entryOverrides: fixtureEntriesForMissingHandlers() });
  // WHEN it is synthesized (cdk-nag runs as a validation plugin and throws on findings)
  try {
    app.synth();
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

describe('AmadDistillStack synthesis', () => {
  test('passes cdk-nag AwsSolutions with no unacknowledged findings', () => {
    // THEN
    expect(synthError).toBeUndefined();
  });

  test('every acknowledgement carries a reason', () => {
    const acks = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      // CDK itself acknowledges some of its own CloudFormation-Validate rules.
      .filter(([id]) => id.includes('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(0);
    for (const [id, reason] of acks) expect({ id, reasonLength: reason.length > 30 }).toEqual({ id, reasonLength: true });
  });
});

describe('artifact bucket', () => {
  const artifactBucket = () => {
    const id = logicalIdOf(stack.artifacts.bucket);
    return template.toJSON().Resources[id].Properties;
  };

  test('is encrypted, versioned, private, TLS-only and logged to the log bucket', () => {
    const props = artifactBucket();
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(refLabel(props.LoggingConfiguration.DestinationBucketName)).toBe(
      `ref:${logicalIdOf(stack.artifacts.accessLogBucket)}`,
    );
    expect(props.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
  });

  test('both buckets deny non-TLS requests in their bucket policy', () => {
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      const statements = (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  test('scratch objects expire by tag after the configured days; noncurrent versions expire too', () => {
    const rules = artifactBucket().LifecycleConfiguration.Rules as Record<string, unknown>[];
    expect(rules).toContainEqual(
      expect.objectContaining({
        Id: 'expire-run-scratch',
        Status: 'Enabled',
        ExpirationInDays: 14,
        TagFilters: [{ Key: SCRATCH_TAG_KEY, Value: SCRATCH_TAG_VALUE }],
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      }),
    );
  });

  test('is retained when the stack is deleted', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ VersioningConfiguration: { Status: 'Enabled' } }) });
    for (const b of Object.values(template.findResources('AWS::S3::Bucket'))) expect(b.DeletionPolicy).toBe('Retain');
  });
});

describe('IAM', () => {
  test('no S3 action is granted on Resource "*"', () => {
    const s3Statements = allPolicyStatements(template).filter(({ statement }) => asArray(statement.Action).some((a) => a.startsWith('s3:')));
    expect(s3Statements.length).toBeGreaterThan(0);
    for (const { policy, statement } of s3Statements) {
      for (const r of asArray(statement.Resource)) expect({ policy, resource: r }).not.toEqual({ policy, resource: '*' });
    }
  });

  test('object writes are confined to each stage\'s own run prefixes', () => {
    const bucketArn = `getatt:${logicalIdOf(stack.artifacts.bucket)}.Arn`;
    for (const name of HANDLER_NAMES) {
      const roleId = logicalIdOf(stack.functions.functions[name].role!);
      // the role's DefaultPolicy is attached through Roles: [{Ref: role}]
      const written = allPolicyStatements(template)
        .filter(({ statement }) => asArray(statement.Action).includes('s3:PutObject'))
        .filter(({ policy }) => JSON.stringify(template.toJSON().Resources[policy].Properties.Roles).includes(roleId))
        .flatMap(({ statement }) => asArray(statement.Resource).map(arnText))
        .sort();
      const runsIndex = HANDLER_ACCESS[name].writeRunsIndex ? ['runs/_index/*', 'runs/index.html', 'runs/index.json'].map((k) => `${bucketArn}/${k}`) : [];
      const expected = [...HANDLER_ACCESS[name].writeRun.map((p) => `${bucketArn}/runs/*/${p}`), ...runsIndex].sort();
      expect({ name, written }).toEqual({ name, written: expected });
    }
  });

  test('the state machine may invoke exactly the stage functions, not start-run or request-failed', () => {
    const invoke = allPolicyStatements(template).find(({ statement }) => asArray(statement.Action).includes('lambda:InvokeFunction'));
    const resources = asArray(invoke!.statement.Resource).map(refLabel).sort();
    const expected = HANDLER_NAMES.filter((n) => !OUTSIDE_STATE_MACHINE.includes(n))
      .map((n) => refLabel(stack.resolve(stack.functions.functions[n].functionArn)))
      .sort();
    expect(resources).toEqual(expected);
  });

  test('the state machine may manage the .sync rule, submit to the queue and publish notifications', () => {
    const statements = allPolicyStatements(template).map((s) => s.statement);
    const events = statements.find((s) => asArray(s.Action).includes('events:PutRule'))!;
    expect(asArray(events.Action).sort()).toEqual(['events:DescribeRule', 'events:PutRule', 'events:PutTargets']);
    expect(arnText(events.Resource)).toMatch(/^arn:aws:events:eu-west-1:ref:AWS::AccountId:rule\/StepFunctionsGetEventsForBatchJobsRule$/);
    const submit = statements.find((s) => asArray(s.Action).includes('batch:SubmitJob'))!;
    // The GPU queue (training, model stages on Batch) and the CPU queue (stage jobs the planner
    // moves off Lambda: contract/placement), each with its own job definition.
    expect(asArray(submit.Resource).map(refLabel).sort()).toEqual(
      [
        refLabel(stack.resolve(stack.gpuBatch.jobQueue.jobQueueArn)),
        refLabel(stack.resolve(stack.gpuBatch.jobDefinition.jobDefinitionArn)),
        refLabel(stack.resolve(stack.cpuBatch.jobQueue.jobQueueArn)),
        refLabel(stack.resolve(stack.cpuBatch.jobDefinition.jobDefinitionArn)),
      ].sort(),
    );
    const publish = statements.find((s) => asArray(s.Action).includes('sns:Publish'))!;
    expect(refLabel(publish.Resource)).toBe(refLabel(stack.resolve(stack.trigger.notifyTopic.topicArn)));
  });
});

describe('CPU batch', () => {
  test('one Fargate job definition running the trainer image as a stage job, not retried', () => {
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      PlatformCapabilities: ['FARGATE'],
      RetryStrategy: { Attempts: 1 },
      ContainerProperties: { NetworkConfiguration: { AssignPublicIp: 'DISABLED' }, ResourceRequirements: [{ Type: 'MEMORY', Value: '8192' }, { Type: 'VCPU', Value: '4' }] },
    });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: { Type: 'FARGATE' } });
  });
});

describe('GPU batch', () => {
  test('the trainer job asks for one GPU and retries only spot reclaims and exit 75', () => {
    // The GPU trainer job (the other job definition is the CPU queue's Fargate stage job).
    const jobDefs = Object.values(template.findResources('AWS::Batch::JobDefinition')).filter((d) => !(d as any).Properties.PlatformCapabilities?.includes('FARGATE'));
    expect(jobDefs).toHaveLength(1);
    const props = (jobDefs[0] as { Properties: Record<string, any> }).Properties;
    expect(props.ContainerProperties.ResourceRequirements).toContainEqual({ Type: 'GPU', Value: '1' });
    expect(props.RetryStrategy.Attempts).toBe(5);
    const decide = (f: Parameters<typeof batchRetryDecision>[1]) => batchRetryDecision(props.RetryStrategy.EvaluateOnExit, f);
    expect(decide({ statusReason: 'Host EC2 (instance i-0abc) terminated.' })).toBe('RETRY');
    expect(decide({ exitCode: 75, statusReason: 'Essential container in task exited' })).toBe('RETRY');
    expect(decide({ exitCode: 1, statusReason: 'Essential container in task exited' })).toBe('EXIT');
    expect(decide({ exitCode: 137, statusReason: 'Essential container in task exited', reason: 'OutOfMemoryError: Container killed due to memory usage' })).toBe('EXIT');
    expect(decide({ statusReason: 'Task failed to start', reason: 'CannotPullContainerError: pull access denied' })).toBe('EXIT');
  });

  test('spot environment first, on-demand behind it, both on the NVIDIA AL2023 image', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({
        Type: 'SPOT',
        AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
        InstanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
        Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }],
        Tags: { project: 'amad-distill', 'cost-center': 'research-42' },
      }),
    });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Type: 'EC2', Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }] }),
    });
    const [queue] = Object.values(template.findResources('AWS::Batch::JobQueue')) as { Properties: any }[];
    const order = queue.Properties.ComputeEnvironmentOrder.map((o: any) => [o.Order, refLabel(o.ComputeEnvironment)]);
    const [spot, onDemand] = stack.gpuBatch.computeEnvironments.map((ce) => refLabel(stack.resolve(ce.computeEnvironmentArn)));
    expect(order).toEqual([
      [1, spot],
      [2, onDemand],
    ]);
  });

  test('the VPC has no NAT or internet gateway, and the endpoints an isolated Batch host needs', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify((e as any).Properties.ServiceName));
    for (const s of ['.s3', '.ecr.api', '.ecr.dkr', '.logs', '.ecs"', '.ecs-agent', '.ecs-telemetry']) {
      expect(services.some((n) => n.includes(s))).toBe(true);
    }
  });
});

describe('state machine', () => {
  test('deploys buildDefinition() exactly, with every placeholder bound to the right resource', () => {
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    const deployedText = definitionText(sm.Properties.DefinitionString);
    const deployedValues = Object.fromEntries(
      Object.entries(sm.Properties.DefinitionSubstitutions as Record<string, unknown>).map(([k, v]) => [k, refLabel(v)]),
    );
    const fn = (n: (typeof HANDLER_NAMES)[number]) => refLabel(stack.resolve(stack.functions.functions[n].functionArn));
    const expectedValues: Record<(typeof SUBSTITUTIONS)[number], string> = {
      ValidateFunctionArn: fn('validate'),
      PrepareDataFunctionArn: fn('prepare-data'),
      PreparePlanFunctionArn: fn('prepare-plan'),
      PrepareVocabularyFunctionArn: fn('prepare-vocabulary'),
      PrepareChunkFunctionArn: fn('prepare-chunk'),
      CacheTeacherFunctionArn: fn('cache-teacher'),
      EvaluateFunctionArn: fn('evaluate'),
      MergeEvalFunctionArn: fn('merge-eval'),
      SelectCandidatesFunctionArn: fn('select-candidates'),
      ReportFunctionArn: fn('report'),
      FailureFunctionArn: fn('failure'),
      JobQueueArn: refLabel(stack.resolve(stack.gpuBatch.jobQueue.jobQueueArn)),
      TrainerJobDefinitionArn: refLabel(stack.resolve(stack.gpuBatch.jobDefinition.jobDefinitionArn)),
      NotifyTopicArn: refLabel(stack.resolve(stack.trigger.notifyTopic.topicArn)),
      CpuJobQueueArn: refLabel(stack.resolve(stack.cpuBatch.jobQueue.jobQueueArn)),
      StageCpuJobDefinitionArn: refLabel(stack.resolve(stack.cpuBatch.jobDefinition.jobDefinitionArn)),
    };
    expect(JSON.parse(fillPlaceholders(deployedText, deployedValues))).toEqual(
      JSON.parse(fillPlaceholders(JSON.stringify(buildDefinition()), expectedValues)),
    );
  });

  test('training runs as a .sync Batch integration on the deployed queue', () => {
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    const text = definitionText(sm.Properties.DefinitionString);
    expect(text).toContain('"arn:aws:states:::batch:submitJob.sync"');
    expect(text).toContain('"JobQueue":"${JobQueueArn}"');
  });

  test('logs every event to a retained-for-30-days log group and traces with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      TracingConfiguration: { Enabled: true },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: Match.stringLikeRegexp('^/aws/vendedlogs/states/'),
      RetentionInDays: 30,
    });
  });
});

describe('trigger', () => {
  test('the custom bus rule matches DistillationRequested from amad-distill and targets start-run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: Match.anyValue(),
      EventPattern: { source: [EVENT_SOURCE], 'detail-type': [DISTILLATION_REQUESTED] },
      Targets: [Match.objectLike({ Arn: stack.resolve(stack.functions.functions['start-run'].functionArn), DeadLetterConfig: Match.anyValue() })],
    });
  });

  test('a jobs/*.json upload to the artifact bucket also starts a run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [stack.resolve(stack.artifacts.bucket.bucketName)] }, object: { key: [{ wildcard: 'jobs/*.json' }] } },
      },
      Targets: [Match.objectLike({ Arn: stack.resolve(stack.functions.functions['start-run'].functionArn) })],
    });
  });

  test('the notification topic is KMS-encrypted, TLS-only and has the e-mail subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ml-team@example.com' });
  });

  test('start-run knows the state machine and may start it', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STATE_MACHINE_ARN: stack.resolve(stack.pipeline.stateMachine.stateMachineArn) }) },
    });
    const start = allPolicyStatements(template).find(({ statement }) => asArray(statement.Action).includes('states:StartExecution'));
    expect(start?.statement.Resource).toEqual(stack.resolve(stack.pipeline.stateMachine.stateMachineArn));
  });
});

describe('functions', () => {
  test('every handler runs on Node 22 with a log group of the configured retention', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => (f as any).Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME,
    ) as { Properties: any }[];
    expect(fns).toHaveLength(HANDLER_NAMES.length);
    for (const f of fns) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
      const lg = template.toJSON().Resources[f.Properties.LoggingConfig.LogGroup.Ref];
      expect(lg.Properties.RetentionInDays).toBe(30);
    }
  });

  test('the model handlers get 3008–10240 MB and 15 minutes', () => {
    // merge-eval too: it runs the serial latency pass over every architecture on both runtimes.
    for (const name of ['cache-teacher', 'evaluate', 'merge-eval'] as const) {
      const id = logicalIdOf(stack.functions.functions[name]);
      const props = template.toJSON().Resources[id].Properties;
      expect(props.MemorySize).toBeGreaterThanOrEqual(3008);
      expect(props.MemorySize).toBeLessThanOrEqual(10240);
      expect(props.Timeout).toBe(900);
    }
  });
});

describe('tags and outputs', () => {
  test('resources carry the cost allocation tags', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine', 'AWS::SNS::Topic', 'AWS::EC2::VPC']) {
      template.allResourcesProperties(type, {
        Tags: Match.arrayWith([
          { Key: 'cost-center', Value: 'research-42' },
          { Key: 'project', Value: 'amad-distill' },
        ]),
      });
    }
  });

  test('outputs name the bucket, bus, state machine and topic', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(outputs).toEqual(expect.arrayContaining(['ArtifactBucketName', 'EventBusName', 'StateMachineArn', 'NotifyTopicArn']));
  });
});

describe('reviewer access (issue 17)', () => {
  test('a managed policy reads runs/*/report/* and runs/index.* only, lists only there, and is a stack output', () => {
    const bucketArn = `getatt:${logicalIdOf(stack.artifacts.bucket)}.Arn`;
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as { Properties: { Description?: string; PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] } } }[];
    const reviewer = policies.filter((p) => p.Properties.Description?.startsWith('amad-distill reviewers'));
    expect(reviewer).toHaveLength(1);
    const statements = reviewer[0]!.Properties.PolicyDocument.Statement;
    // Only reads and listing: no write, no delete, no wildcard action.
    expect(statements.flatMap((s) => asArray(s.Action)).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const read = statements.find((s) => asArray(s.Action).includes('s3:GetObject'))!;
    expect(asArray(read.Resource as never).map(arnText).sort()).toEqual([`${bucketArn}/runs/*/report/*`, `${bucketArn}/runs/index.html`, `${bucketArn}/runs/index.json`]);
    const list = statements.find((s) => asArray(s.Action).includes('s3:ListBucket'))!;
    expect(arnText(list.Resource as never)).toBe(bucketArn);
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['runs/*/report/*', 'runs/index.*'] } });
    expect(template.toJSON().Outputs.ReviewerPolicyArn).toBeDefined();
  });
});
