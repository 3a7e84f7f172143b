/**
 * The CPU side of the pipeline: a Fargate compute environment and job queue for the Lambda
 * stages the planner moves to Batch because their work does not fit a function (data
 * preparation chunks; contract/placement), and a job definition running the trainer image with
 * `--stage <state> --event <json>` (lambdas/stage-job.ts). Model stages placed on Batch use the
 * GPU queue (gpu-batch.ts) instead. It lives in the GPU network's isolated subnets, which have
 * the S3, ECR and Logs endpoints the container needs.
 *
 * Fargate, not EC2: the jobs are short, bursty and need no GPU or instance tuning, and Fargate
 * has no hosts to keep patched. On-demand by default and not retried: a stage job that crashes
 * would crash again, and its stage marker makes a re-run skip what it committed. (With `spot`,
 * a reclaimed job fails the run, which a resume then continues.)
 */
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { TRAINER_ACCESS, grantPrefixAccess } from '../access';
import { Violations, shown } from '../errors';
import type { ArtifactBucket } from '../storage/artifact-bucket';
import type { IsolatedNetwork } from './isolated-network';

export interface CpuBatchProps {
  readonly artifacts: ArtifactBucket;
  /** The network (isolated subnets + endpoints) the jobs run in. */
  readonly network: IsolatedNetwork;
  /** The image of the stage jobs: the trainer image (it holds the Lambda handlers too). */
  readonly image: ecs.ContainerImage;
  /**
   * vCPUs per job (a Fargate size: 0.25, 0.5, 1, 2, 4, 8 or 16).
   * @default 4
   */
  readonly cpu?: number;
  /**
   * Memory per job (must suit `cpu` on Fargate; 4 vCPU allows 8–30 GiB).
   * @default Size.gibibytes(8)
   */
  readonly memory?: Size;
  /**
   * Upper bound of vCPUs of the compute environment (also the cost ceiling).
   * @default 16
   */
  readonly maxvCpus?: number;
  /**
   * Fargate Spot (cheaper; a reclaimed job fails its stage and the run resumes) instead of on-demand.
   * @default false
   */
  readonly spot?: boolean;
  /**
   * Attempt timeout when the state machine gives none.
   * @default Duration.hours(12)
   */
  readonly jobTimeout?: Duration;
  /**
   * Retention of the stage-job log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

const FARGATE_CPUS = [0.25, 0.5, 1, 2, 4, 8, 16];

export class CpuBatch extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly computeEnvironment: batch.FargateComputeEnvironment;

  constructor(scope: Construct, id: string, props: CpuBatchProps) {
    super(scope, id);
    const cpu = props.cpu ?? 4;
    const memory = props.memory ?? Size.gibibytes(8);
    const maxvCpus = props.maxvCpus ?? 16;
    const spot = props.spot ?? false;
    const v = new Violations('CpuBatch');
    v.check(!FARGATE_CPUS.includes(cpu), `cpu must be a Fargate size (${FARGATE_CPUS.join(', ')}) (got ${shown(cpu)})`);
    v.check(!Number.isInteger(maxvCpus) || maxvCpus < cpu, `maxvCpus must be an integer ≥ cpu (${cpu}) (got ${shown(maxvCpus)})`);
    v.throwIfAny();

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.network.vpc,
      description: 'amad-distill CPU stage jobs: no inbound; outbound to the VPC endpoints',
      allowAllOutbound: true,
    });
    props.network.allowEndpointAccessFrom(securityGroup);
    this.computeEnvironment = new batch.FargateComputeEnvironment(this, 'Compute', {
      vpc: props.network.vpc,
      vpcSubnets: props.network.subnets,
      securityGroups: [securityGroup],
      spot,
      maxvCpus,
    });
    this.jobQueue = new batch.JobQueue(this, 'JobQueue', { priority: 1, computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }] });

    this.jobRole = new iam.Role(this, 'JobRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description: 'amad-distill CPU stage jobs' });
    grantPrefixAccess(props.artifacts, this.jobRole, TRAINER_ACCESS);
    const logGroup = new logs.LogGroup(this, 'StageLogs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const container = new batch.EcsFargateContainerDefinition(this, 'StageContainer', {
      image: props.image,
      cpu,
      memory,
      jobRole: this.jobRole,
      assignPublicIp: false,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'stage' }),
      environment: {
        AWS_REGION: Stack.of(this).region,
        ARTIFACT_ROOT: `s3://${props.artifacts.bucket.bucketName}`,
        // No GPU here: the stages that run on this queue do not need tfjs-node-gpu.
        AMAD_BACKEND: 'wasm',
        NODE_ENV: 'production',
      },
    });
    Validations.of(container.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (pulling the trainer image) has no resource-level permissions.',
    });
    this.jobDefinition = new batch.EcsJobDefinition(this, 'StageJob', {
      container,
      timeout: props.jobTimeout ?? Duration.hours(12),
      retryAttempts: 1,
      propagateTags: true,
    });
  }

  /** Lets `grantee` submit stage jobs to the CPU queue. */
  grantSubmitJob(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['batch:SubmitJob'], resourceArns: [this.jobQueue.jobQueueArn, this.jobDefinition.jobDefinitionArn] });
  }
}
