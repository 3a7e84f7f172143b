/**
 * Buckets besides the artifact bucket that job specs may read (context `readableBuckets`): shared
 * datasets, teachers kept by another team. Read-only, whole bucket: the deployer lists a bucket
 * precisely to let runs read it. Validate refuses every other bucket (contract/deployment-policy.ts).
 *
 * Limit: a bucket encrypted with a customer-managed KMS key also needs kms:Decrypt on that key
 * for these roles; that key is not known here (docs/DEPLOY.md).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { wildcardResourceFinding } from '../nag';

/** `arn:<partition>:s3:::<bucket>` of a bucket named in context. */
export function bucketArnOf(scope: Construct, bucket: string): string {
  return Stack.of(scope).formatArn({ service: 's3', region: '', account: '', resource: bucket });
}

/** Lets `grantee` get any object of, and list, each bucket in `buckets`. */
export function grantReadListedBuckets(scope: Construct, grantee: iam.IGrantable, buckets: readonly string[]): void {
  if (buckets.length === 0) return;
  const arns = buckets.map((b) => bucketArnOf(scope, b));
  iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: arns.map((a) => `${a}/*`) });
  iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: arns });
  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) return;
  for (const arn of arns) {
    Validations.of(principal).acknowledge({
      id: wildcardResourceFinding(scope, `${arn}/*`),
      reason: 'Read-only access to a bucket the deployer listed in the readableBuckets context for specs to read from (datasets, teachers); object names are chosen by its owners.',
    });
  }
}
