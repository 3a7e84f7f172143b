/**
 * Alarms and failure notifications, all to the run notification topic:
 *
 *   CloudWatch alarms (≥ 1 in a 5-minute period; missing data = OK)
 *     - state machine executions failed / timed out / aborted
 *     - every queue given (dead-letter queue, start-run's failed-requests queue): messages visible
 *     - every Lambda function: errors, throttles
 *   EventBridge rules on the default bus (Batch job state changes of the pipeline's job queues)
 *     - a job cancelled after waiting RUNNABLE longer than the queue's limit (no spot capacity,
 *       no GPU quota, or a job no environment can place)
 *     - any other failed job (attempts used up, application error, timeout, cancelled execution)
 *
 * Batch publishes no CloudWatch metric for failed or stuck jobs, hence the rules; their message
 * names the job and Batch's status reason.
 */
import { Duration } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Batch's status reason of a job cancelled by a `jobStateTimeLimitActions` entry. */
export const RUNNABLE_LIMIT_STATUS_PREFIX = 'Canceled by JobStateTimeLimit action';

export interface PipelineAlarmsProps {
  /** Where alarms and notifications go. */
  readonly topic: sns.ITopic;
  readonly stateMachine: sfn.IStateMachine;
  /** Queues whose every message is a lost or failed request, by a name for the alarm. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** Functions to watch for errors and throttles, by name. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The Batch job queues (GPU, CPU) whose failed jobs are notified. */
  readonly jobQueues: readonly batch.IJobQueue[];
  /** The queue's RUNNABLE limit, for the message. */
  readonly runnableTimeout: Duration;
  /**
   * Also send OK notifications when an alarm clears.
   * @default true
   */
  readonly notifyOnOk?: boolean;
}

const PERIOD = Duration.minutes(5);

export class PipelineAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly batchJobFailedRule: events.Rule;
  readonly batchJobStuckRule: events.Rule;

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    const action = new actions.SnsAction(props.topic);
    const notifyOnOk = props.notifyOnOk ?? true;
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `amad-distill: ${description}`,
      });
      a.addAlarmAction(action);
      if (notifyOnOk) a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    const sm = props.stateMachine;
    alarm('ExecutionsFailed', sm.metricFailed({ period: PERIOD, statistic: 'Sum' }), 'a run failed (see runs/<runId>/failure.json)');
    alarm('ExecutionsTimedOut', sm.metricTimedOut({ period: PERIOD, statistic: 'Sum' }), 'a run timed out');
    alarm('ExecutionsAborted', sm.metricAborted({ period: PERIOD, statistic: 'Sum' }), 'a run was aborted (stopped by hand)');

    for (const [name, queue] of Object.entries(props.queues)) {
      alarm(
        `${name}Depth`,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        `${name}: messages waiting (run requests that were not started or not recorded); inspect and redrive them`,
      );
    }

    for (const [name, fn] of Object.entries(props.functions)) {
      const id = name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
      alarm(`${id}Errors`, fn.metricErrors({ period: PERIOD, statistic: 'Sum' }), `Lambda ${name}: invocation errors`);
      alarm(`${id}Throttles`, fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }), `Lambda ${name}: throttled invocations`);
    }

    const jobEvent = (statusReason: unknown) => ({
      source: ['aws.batch'],
      detailType: ['Batch Job State Change'],
      detail: { status: ['FAILED'], jobQueue: props.jobQueues.map((q) => q.jobQueueArn), statusReason },
    });
    const jobName = events.EventField.fromPath('$.detail.jobName');
    const jobId = events.EventField.fromPath('$.detail.jobId');
    const reason = events.EventField.fromPath('$.detail.statusReason');
    const minutes = props.runnableTimeout.toMinutes();
    this.batchJobStuckRule = new events.Rule(this, 'BatchJobStuckRule', {
      description: 'A trainer job cancelled after waiting RUNNABLE past the queue limit → notification topic',
      eventPattern: jobEvent([{ prefix: RUNNABLE_LIMIT_STATUS_PREFIX }]),
      targets: [
        new targets.SnsTopic(props.topic, {
          message: events.RuleTargetInput.fromText(
            `amad-distill: Batch job ${jobName} (${jobId}) waited RUNNABLE for more than ${minutes} minutes and was cancelled: ${reason}. ` +
              'Usual causes: no spot capacity for the instance types, no GPU vCPU quota (Service Quotas → EC2 → G and VT instances), or instance types too small for the job.',
          ),
        }),
      ],
    });
    this.batchJobFailedRule = new events.Rule(this, 'BatchJobFailedRule', {
      description: 'A trainer job failed (not a RUNNABLE cancellation) → notification topic',
      eventPattern: jobEvent([{ 'anything-but': { prefix: RUNNABLE_LIMIT_STATUS_PREFIX } }]),
      targets: [
        new targets.SnsTopic(props.topic, {
          message: events.RuleTargetInput.fromText(`amad-distill: Batch job ${jobName} (${jobId}) failed: ${reason}`),
        }),
      ],
    });
  }
}
