/**
 * cdk-nag (3.x) AwsSolutions checks: every finding fails `cdk synth`, unless acknowledged on the
 * construct it concerns with `Validations.of(construct).acknowledge({ id, reason })` (the reasons
 * live next to the constructs).
 */
import { Stack, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/**
 * The id of cdk-nag's "wildcard in resource" finding for `arn`, flattened exactly the way
 * cdk-nag flattens it (`<Bucket.Arn>/runs/*`, or literal region/account when the stack has a
 * concrete environment), so one acknowledgement works in every environment.
 */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}]`;
}
