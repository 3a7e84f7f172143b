/**
 * A VPC with no route to the internet: private isolated subnets only, an S3 gateway endpoint
 * and the interface endpoints a GPU Batch host and its container need.
 *
 * Trade-off (docs/DEPLOY.md, "Cost"): no NAT gateway means no egress path for anything
 * unforeseen (the container cannot reach a public registry or the internet at run time) and
 * no NAT data-processing charge on multi-GB checkpoints; in exchange each interface endpoint
 * costs per hour per AZ (6 endpoints × 2 AZs ≈ 12 endpoint-hours per hour). S3, where almost
 * all bytes go, uses the free gateway endpoint.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Violations, shown } from '../errors';

/**
 * Interface endpoints without which an isolated Batch host cannot work:
 * ECR api + dkr (image manifest and auth; layers come from S3 via the gateway), CloudWatch
 * Logs (awslogs driver), ECS, ECS agent and ECS telemetry (container instance registration,
 * task state, metrics).
 */
const INTERFACE_ENDPOINTS: ReadonlyArray<[string, ec2.InterfaceVpcEndpointAwsService]> = [
  ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
  ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
  ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
  ['Ecs', ec2.InterfaceVpcEndpointAwsService.ECS],
  ['EcsAgent', ec2.InterfaceVpcEndpointAwsService.ECS_AGENT],
  ['EcsTelemetry', ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY],
];

export interface IsolatedNetworkProps {
  /**
   * Availability zones to spread subnets over. More AZs widen the spot capacity pool; each
   * extra AZ adds one hour of every interface endpoint per hour.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * Retention of the VPC flow log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** The subnets compute runs in. */
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** Shared by every interface endpoint; admits HTTPS only from peers given to `allowEndpointAccessFrom`. */
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** The S3 gateway endpoint (policy: `limitS3EndpointTo`). */
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: IsolatedNetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;
    const v = new Violations('IsolatedNetwork');
    v.check(!Number.isInteger(maxAzs) || maxAzs < 1 || maxAzs > 6, `maxAzs must be an integer from 1 to 6 (got ${shown(maxAzs)})`);
    v.throwIfAny();

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'compute', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      flowLogs: {
        all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    });
    // (Same construct id as the Vpc's `gatewayEndpoints` would give it.)
    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'amad-distill VPC interface endpoints: HTTPS from the GPU hosts only',
      allowAllOutbound: false,
    });
    for (const [endpointId, service] of INTERFACE_ENDPOINTS) {
      // open: false: no "443 from the VPC CIDR" rule; access is granted per security group.
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    }
  }

  /**
   * Replaces the S3 endpoint's default "anything" policy: requests through it may only reach
   * `bucketArns` (the artifact bucket and the deployer's listed buckets: object reads and writes,
   * listing) and ECR's layer bucket (image layers, read). A compromised container can then not
   * copy data out to a bucket of its own through the endpoint, whatever credentials it holds.
   * IAM still decides what each role may do inside these buckets.
   */
  limitS3EndpointTo(bucketArns: readonly string[]): void {
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PipelineBuckets',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload', 's3:DeleteObject', 's3:ListBucket'],
        resources: bucketArns.flatMap((arn) => [arn, `${arn}/*`]),
      }),
    );
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EcrImageLayers',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [ecrLayerBucketObjects(this)],
      }),
    );
  }

  /** Lets `peer` (the GPU hosts' security group) reach every interface endpoint over HTTPS. */
  allowEndpointAccessFrom(peer: ec2.IConnectable): void {
    this.endpointSecurityGroup.connections.allowFrom(peer, ec2.Port.tcp(443), 'HTTPS to VPC endpoints');
  }
}

/** Objects of the regional bucket ECR serves image layers from (AWS documents its name). */
export function ecrLayerBucketObjects(scope: Construct): string {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:s3:::prod-${stack.region}-starport-layer-bucket/*`;
}
