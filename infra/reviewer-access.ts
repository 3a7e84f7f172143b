/**
 * ReviewerAccess: a customer-managed IAM policy a team attaches to the people (or a group, or an
 * SSO permission set) who review results: read the run reports and the runs index, nothing else.
 *
 *   s3:GetObject   runs/<any run>/report/*, runs/index.html, runs/index.json
 *   s3:ListBucket  only under those prefixes (`amad report --download` lists a report folder)
 *   kms:Decrypt    through S3 only, when the bucket uses a customer-managed key
 *
 * Not included on purpose: data, models, checkpoints, caches, evaluation files, failure records
 * (a failed run's state and error are in the index), and any write. A reviewer opens a report
 * with `amad report <runId> --url`, which signs the URL with the reviewer's own credentials.
 */
import { CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { wildcardResourceFinding } from './nag';
import { RUNS_PREFIX, type ArtifactBucket } from './storage/artifact-bucket';

/** Object keys a reviewer may read. */
export const REVIEWER_READ_KEYS = [`${RUNS_PREFIX}*/report/*`, `${RUNS_PREFIX}index.html`, `${RUNS_PREFIX}index.json`];
/** `s3:prefix` values a reviewer may list. */
export const REVIEWER_LIST_PREFIXES = [`${RUNS_PREFIX}*/report/*`, `${RUNS_PREFIX}index.*`];

export interface ReviewerAccessProps {
  readonly artifacts: ArtifactBucket;
}

export class ReviewerAccess extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ReviewerAccessProps) {
    super(scope, id);
    const { bucket, encryptionKey } = props.artifacts;
    const statements = [
      new iam.PolicyStatement({ sid: 'ReadReportsAndRunsIndex', actions: ['s3:GetObject'], resources: REVIEWER_READ_KEYS.map((k) => bucket.arnForObjects(k)) }),
      new iam.PolicyStatement({
        sid: 'ListReportFolders',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': REVIEWER_LIST_PREFIXES } },
      }),
    ];
    if (encryptionKey) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'DecryptThroughS3',
          actions: ['kms:Decrypt'],
          resources: [encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'amad-distill reviewers: read run reports (runs/*/report/*) and the runs index (runs/index.*) only',
      statements,
    });
    for (const key of REVIEWER_READ_KEYS.filter((k) => k.includes('*'))) {
      Validations.of(this.policy).acknowledge({
        id: wildcardResourceFinding(this, bucket.arnForObjects(key)),
        reason: `Reviewers read every run's report folder (${key}); run ids exist only at run time.`,
      });
    }
    const output = new CfnOutput(this, 'PolicyArn', {
      value: this.policy.managedPolicyArn,
      description: 'Attach to reviewers: read runs/*/report/* and runs/index.* only (docs/DEPLOY.md)',
    });
    output.overrideLogicalId('ReviewerPolicyArn');
  }
}
