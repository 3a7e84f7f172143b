/**
 * Deploys THE pipeline definition (contract/state-machine.ts `buildDefinition()`) unchanged:
 * the JSON goes in as a string and its `${...}` placeholders are filled by CloudFormation
 * through `DefinitionSubstitutions`, so the deployed ASL is byte-for-byte what the local
 * executor runs, with ARNs in place of the placeholders.
 *
 * A string definition gives CDK nothing to infer permissions from, so the role gets exactly
 * what the definition's Task types need: lambda:InvokeFunction on the stage functions,
 * Batch submit/describe/terminate plus the managed EventBridge rule of `.sync`, sns:Publish.
 */
import { Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { GpuBatch } from '../batch/gpu-batch';
import type { CpuBatch } from '../batch/cpu-batch';
import { ValidationError, shown } from '../errors';
import { wildcardResourceFinding } from '../nag';
import type { PipelineFunctions } from '../functions/pipeline-functions';
import type { HandlerName } from '../functions/handler-specs';

/** Which handler fills each `<Name>FunctionArn` placeholder. */
export const FUNCTION_PLACEHOLDERS: Readonly<Record<string, HandlerName>> = {
  ValidateFunctionArn: 'validate',
  PrepareDataFunctionArn: 'prepare-data',
  PreparePlanFunctionArn: 'prepare-plan',
  PrepareVocabularyFunctionArn: 'prepare-vocabulary',
  PrepareChunkFunctionArn: 'prepare-chunk',
  CacheTeacherFunctionArn: 'cache-teacher',
  EvaluateFunctionArn: 'evaluate',
  MergeEvalFunctionArn: 'merge-eval',
  SelectCandidatesFunctionArn: 'select-candidates',
  ReportFunctionArn: 'report',
  FailureFunctionArn: 'failure',
};

/** `${Name}` placeholders of an ASL JSON text (DefinitionSubstitutions syntax). */
export function placeholdersOf(definitionJson: string): string[] {
  return [...new Set([...definitionJson.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))].sort();
}

export interface DistillationStateMachineProps {
  /** The ASL definition with `${...}` placeholders, as `buildDefinition()` returns it. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly functions: PipelineFunctions;
  readonly gpuBatch: GpuBatch;
  /**
   * The CPU queue of stage jobs placed off Lambda (CpuJobQueueArn, StageCpuJobDefinitionArn).
   * @default - none: a definition that uses those placeholders is refused
   */
  readonly cpuBatch?: CpuBatch;
  /** Topic the definition's Notify states publish to. */
  readonly notifyTopic: sns.ITopic;
  /**
   * The topic's KMS key, when it is encrypted with a customer-managed key.
   * @default - the topic is not encrypted with a customer-managed key
   */
  readonly notifyTopicKey?: kms.IKey;
  /**
   * Retention of the execution log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

export class DistillationStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** The definition as deployed, before substitution. */
  readonly definitionJson: string;
  /** Placeholder → value (tokens) passed as DefinitionSubstitutions. */
  readonly substitutions: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: DistillationStateMachineProps) {
    super(scope, id);
    this.definitionJson = JSON.stringify(props.definition);
    const available: Record<string, string> = {
      ...Object.fromEntries(
        Object.entries(FUNCTION_PLACEHOLDERS).map(([key, name]) => [key, props.functions.functions[name].functionArn]),
      ),
      JobQueueArn: props.gpuBatch.jobQueue.jobQueueArn,
      TrainerJobDefinitionArn: props.gpuBatch.jobDefinition.jobDefinitionArn,
      NotifyTopicArn: props.notifyTopic.topicArn,
      ...(props.cpuBatch
        ? { CpuJobQueueArn: props.cpuBatch.jobQueue.jobQueueArn, StageCpuJobDefinitionArn: props.cpuBatch.jobDefinition.jobDefinitionArn }
        : {}),
    };
    const used = placeholdersOf(this.definitionJson);
    const unknown = used.filter((p) => !(p in available));
    if (unknown.length > 0) {
      throw new ValidationError(
        `DistillationStateMachine: definition uses placeholder(s) ${unknown.map((p) => '${' + p + '}').join(', ')} that the stack ` +
          `cannot fill; known placeholders are ${Object.keys(available).join(', ')} (got ${shown(unknown)})`,
      );
    }
    // Pass only the placeholders the definition uses: an unused substitution is a deploy error.
    this.substitutions = Object.fromEntries(used.map((p) => [p, available[p]]));

    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      // The /aws/vendedlogs/ prefix keeps the log group's resource policy from growing per group.
      logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200 })}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromString(this.definitionJson),
      definitionSubstitutions: this.substitutions,
      stateMachineType: sfn.StateMachineType.STANDARD,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });

    const role = this.stateMachine;
    props.functions.grantInvokePipeline(role);
    props.gpuBatch.grantSubmitJob(role);
    props.cpuBatch?.grantSubmitJob(role);
    // `.sync` for Batch watches the job through this Step Functions-managed rule.
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resourceArns: [Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForBatchJobsRule' })],
    });
    // Explicit rather than Topic.grantPublish, which adds the wildcard action kms:GenerateDataKey*.
    iam.Grant.addToPrincipal({ grantee: role, actions: ['sns:Publish'], resourceArns: [props.notifyTopic.topicArn] });
    props.notifyTopicKey?.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');

    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Actions without resource-level permissions: batch:DescribeJobs (.sync polling), X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling*, and the CloudWatch Logs delivery APIs Step Functions uses for execution logging.',
      },
      {
        id: wildcardResourceFinding(this, Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' })),
        reason: 'batch:TerminateJob (stopping a training job when an execution is cancelled): job ids exist only at run time.',
      },
    );
  }

  /** Lets `grantee` start executions (the start-run function). */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }
}
