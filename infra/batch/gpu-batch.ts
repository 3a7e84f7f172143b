/**
 * The GPU side of the pipeline: a spot compute environment with an on-demand one behind it in
 * one job queue, and the trainer's job definition (one GPU, the repo's Dockerfile image).
 *
 * Retry policy (the trainer's contract, trainer/main.ts):
 *   - spot reclaimed ("Host EC2*")          → RETRY: the next attempt resumes from the checkpoint
 *   - exit code 75 ("interrupted, resume me", written after SIGTERM + checkpoint) → RETRY
 *   - anything else (application errors, bad specs, OOM) → EXIT: retrying cannot help
 * A job stopped by TerminateJob (a cancelled execution) or its attempt timeout is not retried by
 * Batch, whatever its exit code.
 *
 * Queue order caveat: Batch moves on to the second (on-demand) environment only when the first
 * cannot place the job within its `maxvCpus`, not when spot capacity is merely unavailable; a
 * long spot drought leaves jobs RUNNABLE. Set `spot: false` to run on demand only.
 */
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { TRAINER_ACCESS, grantPrefixAccess } from '../access';
import { Violations, shown } from '../errors';
import { findRepoRoot } from '../repo-root';
import type { ArtifactBucket } from '../storage/artifact-bucket';
import { IsolatedNetwork } from './isolated-network';

/** The trainer's "checkpointed after SIGTERM, run me again" exit code (EX_TEMPFAIL). */
export const RESUME_EXIT_CODE = 75;

/**
 * x86-64 instance families with NVIDIA GPUs: the image is CUDA 11.2 on amd64 and uses
 * the ECS_AL2023_NVIDIA AMI. Excludes g4ad (AMD GPU) and g5g (Arm).
 */
export const NVIDIA_X86_FAMILIES: readonly string[] = ['g4dn', 'g5', 'g6', 'g6e', 'gr6', 'p3', 'p3dn', 'p4d', 'p4de', 'p5', 'p5e', 'p5en'];

/** vCPUs of an instance size in the GPU families (xlarge = 4, 2xlarge = 8, …). */
function vCpusOfSize(size: string): number | undefined {
  if (size === 'xlarge') return 4;
  const m = /^(\d+)xlarge$/.exec(size);
  return m ? Number(m[1]) * 4 : undefined;
}

export interface GpuBatchProps {
  /** Artifact bucket; the job role gets the trainer's prefixes (infra/access.ts). */
  readonly artifacts: ArtifactBucket;
  /**
   * Instance types (e.g. "g5.xlarge"); NVIDIA x86 families only.
   * @default ['g5.xlarge', 'g4dn.xlarge']
   */
  readonly instanceTypes?: readonly string[];
  /**
   * Spot first with an on-demand environment behind it; false = on demand only.
   * @default true
   */
  readonly spot?: boolean;
  /**
   * How Batch picks spot capacity.
   * @default batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
   */
  readonly spotAllocationStrategy?: batch.AllocationStrategy;
  /**
   * Upper bound of vCPUs per compute environment (also the cost ceiling).
   * @default 8
   */
  readonly maxvCpus?: number;
  /**
   * GPUs per trainer job.
   * @default 1
   */
  readonly gpus?: number;
  /**
   * vCPUs per trainer job.
   * @default 4
   */
  readonly cpu?: number;
  /**
   * Memory per trainer job. An xlarge GPU instance has 16 GiB, of which the ECS agent and OS keep
   * roughly 1 GiB.
   * @default Size.gibibytes(14)
   */
  readonly memory?: Size;
  /**
   * Attempt timeout of a trainer job.
   * @default Duration.hours(12)
   */
  readonly jobTimeout?: Duration;
  /**
   * Attempts per job (1–10), counting the first; only spot reclaims and exit 75 use them.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Seconds between SIGTERM and SIGKILL when a job is stopped (ECS agent `ECS_CONTAINER_STOP_TIMEOUT`):
   * the window for the trainer's last checkpoint.
   * @default Duration.seconds(90)
   */
  readonly stopTimeout?: Duration;
  /**
   * The trainer image.
   * @default - the repository's Dockerfile (staged at synth, built by `cdk deploy`)
   */
  readonly image?: ecs.ContainerImage;
  /**
   * Availability zones of the isolated VPC.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * Retention of the trainer and flow log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

const DEFAULTS = {
  instanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
  spot: true,
  maxvCpus: 8,
  gpus: 1,
  cpu: 4,
  memory: Size.gibibytes(14),
  jobTimeout: Duration.hours(12),
  retryAttempts: 5,
  stopTimeout: Duration.seconds(90),
} as const;

export class GpuBatch extends Construct {
  readonly network: IsolatedNetwork;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  /** The role the trainer container runs as. */
  readonly jobRole: iam.Role;
  /** Compute environments in queue order (spot first when enabled). */
  readonly computeEnvironments: readonly batch.ManagedEc2EcsComputeEnvironment[];

  constructor(scope: Construct, id: string, props: GpuBatchProps) {
    super(scope, id);
    const instanceTypes = props.instanceTypes ?? DEFAULTS.instanceTypes;
    const spot = props.spot ?? DEFAULTS.spot;
    const maxvCpus = props.maxvCpus ?? DEFAULTS.maxvCpus;
    const gpus = props.gpus ?? DEFAULTS.gpus;
    const cpu = props.cpu ?? DEFAULTS.cpu;
    const memory = props.memory ?? DEFAULTS.memory;
    const jobTimeout = props.jobTimeout ?? DEFAULTS.jobTimeout;
    const retryAttempts = props.retryAttempts ?? DEFAULTS.retryAttempts;
    const stopTimeout = props.stopTimeout ?? DEFAULTS.stopTimeout;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    validateProps({ instanceTypes, spot, maxvCpus, gpus, cpu, retryAttempts, stopTimeout, spotAllocationStrategy: props.spotAllocationStrategy });

    this.network = new IsolatedNetwork(this, 'Network', { maxAzs: props.maxAzs, flowLogRetention: logRetention });
    const launchTemplate = this.renderLaunchTemplate(stopTimeout);
    const securityGroup = new ec2.SecurityGroup(this, 'ComputeSecurityGroup', {
      vpc: this.network.vpc,
      description: 'amad-distill GPU hosts: no inbound; outbound to the VPC endpoints',
      allowAllOutbound: true,
    });
    this.network.allowEndpointAccessFrom(securityGroup);

    const shared = { instanceTypes, maxvCpus, launchTemplate, securityGroup };
    const environments: batch.ManagedEc2EcsComputeEnvironment[] = [];
    if (spot) {
      environments.push(
        this.renderComputeEnvironment('Spot', {
          ...shared,
          spot: true,
          allocationStrategy: props.spotAllocationStrategy ?? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
        }),
      );
    }
    environments.push(
      this.renderComputeEnvironment('OnDemand', {
        ...shared,
        spot: false,
        allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      }),
    );
    this.computeEnvironments = environments;

    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      priority: 1,
      computeEnvironments: environments.map((computeEnvironment, i) => ({ computeEnvironment, order: i + 1 })),
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'amad-distill trainer container',
    });
    grantPrefixAccess(props.artifacts, this.jobRole, TRAINER_ACCESS);

    this.jobDefinition = this.renderJobDefinition({
      image: props.image ?? trainerImageFromRepo(),
      artifactRoot: `s3://${props.artifacts.bucket.bucketName}`,
      ...{ gpus, cpu, memory, jobTimeout, retryAttempts, logRetention },
    });
  }

  /** Lets `grantee` submit trainer jobs to the queue (and stop them). */
  grantSubmitJob(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const submit = iam.Grant.addToPrincipal({
      grantee,
      actions: ['batch:SubmitJob'],
      resourceArns: [this.jobQueue.jobQueueArn, this.jobDefinition.jobDefinitionArn],
    });
    const terminate = iam.Grant.addToPrincipal({
      grantee,
      actions: ['batch:TerminateJob'],
      // Job ids exist only at run time.
      resourceArns: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })],
    });
    const describe = iam.Grant.addToPrincipal({
      grantee,
      actions: ['batch:DescribeJobs'],
      // DescribeJobs supports no resource-level permissions.
      resourceArns: ['*'],
    });
    return submit.combine(terminate).combine(describe);
  }

  private renderLaunchTemplate(stopTimeout: Duration): ec2.LaunchTemplate {
    // Batch merges this with its own user data; it must be MIME multi-part.
    const script = ec2.UserData.forLinux();
    script.addCommands(
      // Mark the host DRAINING on a spot interruption notice so no new job lands on it.
      'echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config',
      // SIGTERM → SIGKILL window of a stopped job: time for the trainer's last checkpoint.
      `echo ECS_CONTAINER_STOP_TIMEOUT=${stopTimeout.toSeconds()}s >> /etc/ecs/ecs.config`,
    );
    const userData = new ec2.MultipartUserData();
    userData.addUserDataPart(script, ec2.MultipartBody.SHELL_SCRIPT, true);
    return new ec2.LaunchTemplate(this, 'HostTemplate', {
      userData,
      // IMDSv2 with a hop limit of 1 (set explicitly: AL2023 AMIs default to 2): containers on the
      // bridge network cannot reach the instance metadata service, hence not the instance role.
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          // The CUDA runtime image with libtensorflow is ~5 GB; checkpoints stage locally.
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });
  }

  private renderComputeEnvironment(
    id: string,
    o: {
      instanceTypes: readonly string[];
      maxvCpus: number;
      launchTemplate: ec2.ILaunchTemplate;
      securityGroup: ec2.ISecurityGroup;
      spot: boolean;
      allocationStrategy: batch.AllocationStrategy;
    },
  ): batch.ManagedEc2EcsComputeEnvironment {
    const ce = new batch.ManagedEc2EcsComputeEnvironment(this, `${id}Compute`, {
      vpc: this.network.vpc,
      vpcSubnets: this.network.subnets,
      securityGroups: [o.securityGroup],
      instanceTypes: o.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      spot: o.spot,
      allocationStrategy: o.allocationStrategy,
      minvCpus: 0,
      maxvCpus: o.maxvCpus,
      launchTemplate: o.launchTemplate,
      updateToLatestImageVersion: true,
    });
    if (ce.instanceRole) {
      Validations.of(ce).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
        reason:
          'The ECS container-instance policy maintained by AWS for the ECS agent on Batch hosts; a hand-written copy would drift from what the agent needs.',
      });
    }
    return ce;
  }

  private renderJobDefinition(o: {
    image: ecs.ContainerImage;
    gpus: number;
    cpu: number;
    memory: Size;
    jobTimeout: Duration;
    retryAttempts: number;
    logRetention: logs.RetentionDays;
    artifactRoot: string;
  }): batch.EcsJobDefinition {
    const logGroup = new logs.LogGroup(this, 'TrainerLogs', { retention: o.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const container = new batch.EcsEc2ContainerDefinition(this, 'TrainerContainer', {
        image: o.image,
        gpu: o.gpus,
        cpu: o.cpu,
        memory: o.memory,
        jobRole: this.jobRole,
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'trainer' }),
        environment: {
          // The SDK in the container has no instance metadata to learn the region from.
          AWS_REGION: Stack.of(this).region,
          ARTIFACT_ROOT: o.artifactRoot,
          AMAD_BACKEND: 'node-gpu',
          NODE_ENV: 'production',
        },
      });
    Validations.of(container.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (pulling the trainer image) has no resource-level permissions.',
    });
    return new batch.EcsJobDefinition(this, 'TrainerJob', {
      container,
      timeout: o.jobTimeout,
      retryAttempts: o.retryAttempts,
      retryStrategies: renderRetryStrategies(),
      propagateTags: true,
    });
  }
}

/** Order matters: Batch applies the first strategy whose conditions all match. */
export function renderRetryStrategies(): batch.RetryStrategy[] {
  return [
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: String(RESUME_EXIT_CODE) })),
    // Without a catch-all, Batch retries every unmatched failure.
    batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onStatusReason: '*' })),
  ];
}

/** The repository Dockerfile as an image asset: staged by `cdk synth`, built only by `cdk deploy`. */
export function trainerImageFromRepo(): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(findRepoRoot(), { file: 'Dockerfile', platform: Platform.LINUX_AMD64 });
}

function validateProps(p: {
  instanceTypes: readonly string[];
  spot: boolean;
  maxvCpus: number;
  gpus: number;
  cpu: number;
  retryAttempts: number;
  stopTimeout: Duration;
  spotAllocationStrategy?: batch.AllocationStrategy;
}): void {
  const v = new Violations('GpuBatch');
  v.check(p.instanceTypes.length === 0, 'instanceTypes must name at least one instance type (got [])');
  let largestVCpus = 0;
  for (const t of p.instanceTypes) {
    const [family, size = ''] = t.split('.');
    const known = NVIDIA_X86_FAMILIES.includes(family) && vCpusOfSize(size) !== undefined;
    v.check(!known, `instanceTypes must be NVIDIA x86 GPU types (${NVIDIA_X86_FAMILIES.join(', ')}) of size xlarge or <n>xlarge (got ${shown(t)})`);
    largestVCpus = Math.max(largestVCpus, vCpusOfSize(size) ?? 0);
  }
  v.check(!Number.isInteger(p.maxvCpus) || p.maxvCpus < 1, `maxvCpus must be a positive integer (got ${shown(p.maxvCpus)})`);
  v.check(!Number.isInteger(p.gpus) || p.gpus < 1, `gpus must be a positive integer: the trainer needs a GPU (got ${shown(p.gpus)})`);
  v.check(!Number.isInteger(p.cpu) || p.cpu < 1, `cpu must be a positive integer (got ${shown(p.cpu)})`);
  v.check(
    !Number.isInteger(p.retryAttempts) || p.retryAttempts < 1 || p.retryAttempts > 10,
    `retryAttempts must be an integer from 1 to 10 (Batch limit) (got ${shown(p.retryAttempts)})`,
  );
  // Conflicts between props: a job that fits nowhere stays RUNNABLE forever, silently.
  v.check(p.cpu > p.maxvCpus, `cpu (${p.cpu}) exceeds maxvCpus (${p.maxvCpus}): no trainer job could ever be placed`);
  v.check(
    largestVCpus > 0 && p.cpu > largestVCpus,
    `cpu (${p.cpu}) exceeds the vCPUs of the largest of instanceTypes (${largestVCpus}): no trainer job could ever be placed`,
  );
  v.check(
    p.spotAllocationStrategy !== undefined && !p.spot,
    `spotAllocationStrategy is only used with spot: true, but spot is false: drop spotAllocationStrategy or enable spot`,
  );
  const stopSeconds = p.stopTimeout.toSeconds({ integral: false });
  v.check(
    !Number.isInteger(stopSeconds) || stopSeconds < 1 || stopSeconds > 600,
    `stopTimeout must be whole seconds from 1 to 600 (got ${p.stopTimeout.toHumanString()})`,
  );
  v.throwIfAny();
}
