/**
 * AmadDistillStack: the whole AWS side of the pipeline, wired from one construct per concern.
 *
 *   ArtifactBucket ◄── PipelineFunctions (Lambda stages, start-run)
 *        ▲          ◄── GpuBatch (VPC, spot + on-demand GPU environments, trainer job)
 *        │               DistillationStateMachine (contract/state-machine.ts, as is)
 *        └── RunTrigger (EventBridge bus + S3 upload rule → start-run; failed requests; SNS notifications)
 *   PipelineAlarms (executions, queues, Lambda errors/throttles, Batch job failures → SNS)
 */
import { CfnOutput, CfnResource, Duration, Stack, TagManager, Tags, type StackProps } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { PLAN_GPU_TYPES_ENV } from '../contract/placement/gpu-instance-types';
import { DEFAULT_MODEL_MEMORY_MB, PLAN_LIMITS_ENV } from '../contract/placement/limits';
import { buildDefinition } from '../contract/state-machine';
import { GpuBatch } from './batch/gpu-batch';
import { trainerImageFromRepo } from './batch/trainer-image';
import { CpuBatch } from './batch/cpu-batch';
import type { PipelineContext } from './context';
import type { HandlerName } from './functions/handler-specs';
import { PipelineFunctions } from './functions/pipeline-functions';
import { PipelineAlarms } from './monitoring/pipeline-alarms';
import { DistillationStateMachine } from './orchestration/distillation-state-machine';
import { ArtifactBucket } from './storage/artifact-bucket';
import { grantReadListedBuckets } from './storage/readable-buckets';
import { RunTrigger } from './trigger/run-trigger';
import { ReviewerAccess } from './reviewer-access';

/** Tag keys for cost allocation (activate them in Billing → Cost allocation tags). */
export const COST_TAG_PROJECT = 'project';
export const COST_TAG_COST_CENTER = 'cost-center';
export const PROJECT_NAME = 'amad-distill';

/** Resource types that accept Tags but that CDK may render as untagged raw CfnResources. */
const UNTAGGED_TAGGABLE_TYPES = new Set(['AWS::Lambda::Function', 'AWS::IAM::Role']);

export interface AmadDistillStackProps extends StackProps {
  /** Validated app configuration (infra/context.ts). */
  readonly config: PipelineContext;
  /**
   * Entry file per Lambda handler instead of `lambdas/<name>/handler.ts`.
   * @default - none
   */
  readonly entryOverrides?: Readonly<Partial<Record<HandlerName, string>>>;
  /**
   * The trainer image.
   * @default - the repository Dockerfile as an image asset
   */
  readonly trainerImage?: ecs.ContainerImage;
  /**
   * The state machine definition with `${...}` placeholders.
   * @default - `buildDefinition()` from contract/state-machine.ts
   */
  readonly definition?: Readonly<Record<string, unknown>>;
}

export class AmadDistillStack extends Stack {
  readonly artifacts: ArtifactBucket;
  readonly functions: PipelineFunctions;
  readonly gpuBatch: GpuBatch;
  /** Stage jobs the planner moves off Lambda (contract/placement): the CPU queue. */
  readonly cpuBatch: CpuBatch;
  readonly trigger: RunTrigger;
  readonly pipeline: DistillationStateMachine;
  readonly alarms: PipelineAlarms;

  constructor(scope: Construct, id: string, props: AmadDistillStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.retentionDays as logs.RetentionDays;

    this.artifacts = new ArtifactBucket(this, 'Artifacts', {
      scratchExpiration: Duration.days(config.scratchExpirationDays),
    });
    this.functions = new PipelineFunctions(this, 'Functions', {
      artifacts: this.artifacts,
      logRetention,
      entryOverrides: props.entryOverrides,
      modelMemorySize: config.modelMemoryMB,
    });
    // One image for both queues, on the deployer's digest-pinned bases (docs/DEPLOY.md).
    const trainerImage =
      props.trainerImage ?? trainerImageFromRepo(this, { cudaBaseImage: config.cudaBaseImage, nodeBaseImage: config.nodeBaseImage });
    this.gpuBatch = new GpuBatch(this, 'GpuBatch', {
      artifacts: this.artifacts,
      instanceTypes: config.instanceTypes,
      spot: config.spot,
      maxvCpus: config.maxVCpus,
      maxAzs: config.maxAzs,
      logRetention,
      image: trainerImage,
      jobTimeout: Duration.minutes(config.maxJobMinutes),
      retryAttempts: config.maxJobAttempts,
      runnableTimeout: Duration.minutes(config.runnableTimeoutMinutes),
      readableBuckets: config.readableBuckets,
    });
    this.cpuBatch = new CpuBatch(this, 'CpuBatch', {
      artifacts: this.artifacts,
      network: this.gpuBatch.network,
      image: trainerImage,
      logRetention,
    });
    const startRun = this.functions.functions['start-run'];
    this.trigger = new RunTrigger(this, 'Trigger', {
      artifacts: this.artifacts,
      startRun,
      requestFailed: this.functions.functions['request-failed'],
      notificationEmail: config.notificationEmail,
    });
    this.pipeline = new DistillationStateMachine(this, 'Pipeline', {
      definition: props.definition ?? buildDefinition(),
      functions: this.functions,
      gpuBatch: this.gpuBatch,
      cpuBatch: this.cpuBatch,
      notifyTopic: this.trigger.notifyTopic,
      notifyTopicKey: this.trigger.notifyTopicKey,
      logRetention,
    });
    this.pipeline.grantStartExecution(startRun);
    startRun.addEnvironment('STATE_MACHINE_ARN', this.pipeline.stateMachine.stateMachineArn);
    startRun.addEnvironment('ARTIFACT_ROOT', `s3://${this.artifacts.bucket.bucketName}`);
    this.applyDeploymentPolicy(config);
    this.alarms = new PipelineAlarms(this, 'Alarms', {
      topic: this.trigger.notifyTopic,
      stateMachine: this.pipeline.stateMachine,
      queues: { DeadLetters: this.trigger.deadLetterQueue, FailedRequests: this.trigger.failedRequests },
      functions: this.functions.functions,
      jobQueues: [this.gpuBatch.jobQueue, this.cpuBatch.jobQueue],
      runnableTimeout: this.gpuBatch.runnableTimeout,
    });

    new ReviewerAccess(this, 'Reviewers', { artifacts: this.artifacts });
    this.applyCostTags(config.costCenter);
    this.renderOutputs();
  }

  /**
   * What specs may read and spend (contract/deployment-policy.ts): Validate learns it from its
   * environment; the stages that read spec URIs may read the listed buckets.
   */
  private applyDeploymentPolicy(config: PipelineContext): void {
    const fns = this.functions.functions;
    // Validate's placement planner must plan with the memory the model functions really have.
    if (config.modelMemoryMB !== DEFAULT_MODEL_MEMORY_MB) {
      fns.validate.addEnvironment(
        PLAN_LIMITS_ENV,
        JSON.stringify({ 'cache-teacher': { memoryMb: config.modelMemoryMB }, evaluate: { memoryMb: config.modelMemoryMB } }),
      );
    }
    // ... and with the GPU types of the compute environments (specs may not name them on AWS).
    fns.validate.addEnvironment(PLAN_GPU_TYPES_ENV, config.instanceTypes.join(','));
    // Validate checks specs; prepare-data checks the data sources it is given directly.
    for (const fn of [fns.validate, fns['prepare-data']]) {
      fn.addEnvironment('ARTIFACT_BUCKET', this.artifacts.bucket.bucketName);
      fn.addEnvironment('READABLE_BUCKETS', config.readableBuckets.join(','));
      fn.addEnvironment('MAX_JOB_MINUTES', String(config.maxJobMinutes));
    }
    for (const name of ['prepare-data', 'cache-teacher', 'evaluate', 'report'] as const) {
      grantReadListedBuckets(this, fns[name], config.readableBuckets);
    }
    // Data preparation placed on the CPU queue reads the same datasets.
    grantReadListedBuckets(this, this.cpuBatch.jobRole, config.readableBuckets);
  }

  private applyCostTags(costCenter: string): void {
    const tags = { [COST_TAG_PROJECT]: PROJECT_NAME, [COST_TAG_COST_CENTER]: costCenter };
    for (const [key, value] of Object.entries(tags)) Tags.of(this).add(key, value);
    // Tags on a compute environment resource do not reach the GPU instances Batch launches,
    // which are most of the bill: ComputeResources.Tags does.
    for (const ce of this.gpuBatch.computeEnvironments) {
      (ce.node.defaultChild as batch.CfnComputeEnvironment).addPropertyOverride('ComputeResources.Tags', tags);
    }
    // CDK's own custom-resource providers (e.g. the VPC default-security-group restrictor) are
    // plain CfnResources that Tags.of() skips.
    const tagList = Object.entries(tags)
      .sort(([a], [b]) => a.localeCompare(b)) // the order Tags.of() renders
      .map(([Key, Value]) => ({ Key, Value }));
    for (const c of this.node.findAll()) {
      if (c instanceof CfnResource && !TagManager.isTaggable(c) && UNTAGGED_TAGGABLE_TYPES.has(c.cfnResourceType)) {
        c.addPropertyOverride('Tags', tagList);
      }
    }
  }

  private renderOutputs(): void {
    new CfnOutput(this, 'ArtifactBucketName', { value: this.artifacts.bucket.bucketName, description: 'Artifacts: jobs/, datasets/, runs/<id>/' });
    new CfnOutput(this, 'EventBusName', { value: this.trigger.eventBus.eventBusName, description: 'Bus for DistillationRequested events' });
    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotifyTopicArn', { value: this.trigger.notifyTopic.topicArn });
    new CfnOutput(this, 'JobQueueArn', { value: this.gpuBatch.jobQueue.jobQueueArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.trigger.deadLetterQueue.queueUrl, description: 'Run requests that could not be delivered' });
    new CfnOutput(this, 'FailedRequestsQueueUrl', { value: this.trigger.failedRequests.queueUrl, description: 'Run requests start-run failed on (consumed by request-failed)' });
  }
}
