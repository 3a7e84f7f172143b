/**
 * How runs start and how people hear about them.
 *
 *   custom bus ── rule {source: amad-distill, detail-type: DistillationRequested} ──┐
 *   artifact bucket: Object Created jobs/*.json ── default bus ── rule ─────────────┴─► start-run
 *   start-run throws after Lambda's 2 retries ──► failed-requests queue (SQS, encrypted)
 *       ──► request-failed: runs/<runId>/failure.json + RunRequestFailed event ──► rule ──► topic
 *   state machine Notify / NotifyFailure states ──► SNS topic (KMS, TLS only) ──► e-mail (optional)
 *
 * Where a request can get lost, and what catches it:
 *   - EventBridge cannot deliver it to start-run (throttling, a missing permission): the rules
 *     retry, then park it in the dead-letter queue.
 *   - start-run is invoked asynchronously, so its own errors (a job file that is not JSON, a
 *     throttled StartExecution) are NOT delivery failures: Lambda retries twice and then hands
 *     the invocation record to the on-failure destination, the failed-requests queue, whose
 *     consumer records and notifies it. What the consumer cannot handle is redriven to the
 *     dead-letter queue. Both queues carry depth alarms (infra/monitoring).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DISTILLATION_REQUESTED, EVENT_SOURCE, RUN_REQUEST_FAILED } from '../../contract/events';
import { Violations, shown } from '../errors';
import { JOBS_PREFIX, type ArtifactBucket } from '../storage/artifact-bucket';

export interface RunTriggerProps {
  readonly artifacts: ArtifactBucket;
  /** The function that turns a request into a state machine execution. */
  readonly startRun: lambda.IFunction;
  /** The consumer of start-run's on-failure destination (lambdas/request-failed). */
  readonly requestFailed: lambda.Function;
  /**
   * Address subscribed to run succeeded/failed notifications (confirm the e-mail AWS sends).
   * @default - no subscription
   */
  readonly notificationEmail?: string;
  /**
   * How long EventBridge keeps retrying delivery to start-run before dead-lettering.
   * @default Duration.hours(2)
   */
  readonly maxEventAge?: Duration;
}

/** S3 object keys that start a run when uploaded. EventBridge `*` also spans "/". */
export const JOB_SPEC_KEY_WILDCARD = `${JOBS_PREFIX}*.json`;

export class RunTrigger extends Construct {
  readonly eventBus: events.EventBus;
  /** Rule on the custom bus for DistillationRequested events. */
  readonly requestRule: events.Rule;
  /** Rule on the default bus for job specs uploaded to the bucket. */
  readonly uploadRule: events.Rule;
  /** Rule forwarding RunRequestFailed events to the topic. */
  readonly requestFailedRule: events.Rule;
  readonly notifyTopic: sns.Topic;
  /** Customer-managed key of the topic (publishers need GenerateDataKey + Decrypt on it). */
  readonly notifyTopicKey: kms.Key;
  /** Requests that could not be delivered to start-run, or whose failure could not be recorded. */
  readonly deadLetterQueue: sqs.Queue;
  /** start-run's on-failure destination: requests it threw on after Lambda's retries. */
  readonly failedRequests: sqs.Queue;

  constructor(scope: Construct, id: string, props: RunTriggerProps) {
    super(scope, id);
    const maxEventAge = props.maxEventAge ?? Duration.hours(2);
    const v = new Violations('RunTrigger');
    if (props.notificationEmail !== undefined) {
      v.check(!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.notificationEmail), `notificationEmail must be an e-mail address (got ${shown(props.notificationEmail)})`);
    }
    if (!maxEventAge.isUnresolved()) {
      const s = maxEventAge.toSeconds({ integral: false });
      v.check(s < 60 || s > 86400, `maxEventAge must be from 1 minute to 24 hours (EventBridge limit) (got ${maxEventAge.toHumanString()})`);
    }
    v.throwIfAny();

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the EventBridge targets; a DLQ of a DLQ adds nothing.',
    });
    this.failedRequests = new sqs.Queue(this, 'FailedRequests', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // ≥ 6 × the consumer's timeout (AWS's advice for Lambda event sources).
      visibilityTimeout: Duration.minutes(3),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    // start-run runs asynchronously: its own errors are not delivery failures (those go to the
    // rules' DLQ). After 2 retries Lambda sends the invocation record here.
    props.startRun.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge,
      onFailure: new destinations.SqsDestination(this.failedRequests),
    });
    props.requestFailed.addEventSource(new eventSources.SqsEventSource(this.failedRequests, { batchSize: 10, reportBatchItemFailures: true }));

    const startRunTarget = new targets.LambdaFunction(props.startRun, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge,
    });

    this.eventBus = new events.EventBus(this, 'Bus', { description: 'amad-distill run requests' });
    this.requestRule = new events.Rule(this, 'RequestRule', {
      eventBus: this.eventBus,
      description: 'DistillationRequested → start-run',
      eventPattern: { source: [EVENT_SOURCE], detailType: [DISTILLATION_REQUESTED] },
      targets: [startRunTarget],
    });

    // S3 → EventBridge notifications always go to the account's default bus.
    this.uploadRule = new events.Rule(this, 'UploadRule', {
      description: `s3://<artifact bucket>/${JOB_SPEC_KEY_WILDCARD} uploaded → start-run`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.artifacts.bucket.bucketName] },
          object: { key: events.Match.wildcard(JOB_SPEC_KEY_WILDCARD) },
        },
      },
      targets: [startRunTarget],
    });

    const topicKey = (this.notifyTopicKey = new kms.Key(this, 'TopicKey', {
      description: 'amad-distill run notifications',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    }));
    this.notifyTopic = new sns.Topic(this, 'NotifyTopic', {
      displayName: 'amad-distill runs',
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (props.notificationEmail) {
      this.notifyTopic.addSubscription(new subscriptions.EmailSubscription(props.notificationEmail));
    }
    // CloudWatch alarms publish to the topic: an encrypted topic needs its key to let CloudWatch
    // encrypt (scoped to this account's alarms). The SnsTopic rule targets below grant
    // EventBridge the same themselves.
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAccountAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );

    // request-failed tells the submitter through the same topic as the runs.
    this.requestFailedRule = new events.Rule(this, 'RequestFailedRule', {
      eventBus: this.eventBus,
      description: 'RunRequestFailed (a request start-run could not start) → notification topic',
      eventPattern: { source: [EVENT_SOURCE], detailType: [RUN_REQUEST_FAILED] },
      targets: [new targets.SnsTopic(this.notifyTopic, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8 })],
    });
    this.eventBus.grantPutEventsTo(props.requestFailed);
    props.requestFailed.addEnvironment('EVENT_BUS_NAME', this.eventBus.eventBusName);
    props.requestFailed.addEnvironment('ARTIFACT_ROOT', `s3://${props.artifacts.bucket.bucketName}`);
  }

  /** Lets `grantee` send DistillationRequested events (e.g. a CI role running `amad submit`). */
  grantPutRequests(grantee: iam.IGrantable): iam.Grant {
    return this.eventBus.grantPutEventsTo(grantee);
  }
}
