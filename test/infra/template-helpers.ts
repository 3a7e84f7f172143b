/** Reading synthesized CloudFormation back into plain values for assertions. */
import { Stack, type CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

type Json = unknown;

/** A readable, JSON-string-safe label for a CloudFormation reference (`Ref` / `Fn::GetAtt`). */
export function refLabel(expr: Json): string {
  const e = expr as Record<string, unknown>;
  if (typeof e === 'object' && e !== null) {
    if (typeof e.Ref === 'string') return `ref:${e.Ref}`;
    const getAtt = e['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `getatt:${getAtt.join('.')}`;
  }
  throw new Error(`not a Ref or Fn::GetAtt: ${JSON.stringify(expr)}`);
}

/** A DefinitionString as text: a plain string, or an Fn::Join whose parts are all strings. */
export function definitionText(definitionString: Json): string {
  if (typeof definitionString === 'string') return definitionString;
  const join = (definitionString as Record<string, unknown>)['Fn::Join'] as [string, Json[]] | undefined;
  if (!join) throw new Error(`unexpected DefinitionString ${JSON.stringify(definitionString).slice(0, 200)}`);
  const [sep, parts] = join;
  return parts
    .map((p) => {
      if (typeof p === 'string') return p;
      throw new Error(`DefinitionString embeds a CloudFormation reference ${JSON.stringify(p)}: expected substitutions only`);
    })
    .join(sep);
}

/** Replaces `${Name}` with `values[Name]`; throws on a placeholder without a value. */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    if (!(name in values)) throw new Error(`no value for placeholder \${${name}}`);
    return values[name];
  });
}

export interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: Json;
  Condition?: Json;
}

/** Every statement of every AWS::IAM::Policy, with the logical id of its policy. */
export function allPolicyStatements(template: Template): { policy: string; statement: PolicyStatementJson }[] {
  const out: { policy: string; statement: PolicyStatementJson }[] = [];
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    const doc = (res as { Properties: { PolicyDocument: { Statement: PolicyStatementJson[] } } }).Properties.PolicyDocument;
    for (const statement of doc.Statement) out.push({ policy: id, statement });
  }
  return out;
}

export const asArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/**
 * A resource ARN as text, with references as labels: `{"Fn::Join": ["", [{GetAtt Bucket.Arn}, "/runs/*"]]}`
 * → `getatt:Bucket.Arn/runs/*`.
 */
export function arnText(resource: Json): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as Record<string, unknown>)['Fn::Join'] as [string, Json[]] | undefined;
  if (join) return join[1].map((p) => (typeof p === 'string' ? p : arnText(p))).join(join[0]);
  return refLabel(resource);
}

/**
 * AWS Batch's evaluateOnExit semantics: the first entry whose every given condition matches
 * (glob `*` on the exit code, status reason and reason) decides; no match means RETRY.
 */
export function batchRetryDecision(
  evaluateOnExit: { Action: string; OnExitCode?: string; OnStatusReason?: string; OnReason?: string }[],
  failure: { exitCode?: number; statusReason?: string; reason?: string },
): string {
  const glob = (pattern: string, value: string | undefined) =>
    value !== undefined && new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$').test(value);
  for (const e of evaluateOnExit) {
    const ok =
      (e.OnExitCode === undefined || glob(e.OnExitCode, failure.exitCode === undefined ? undefined : String(failure.exitCode))) &&
      (e.OnStatusReason === undefined || glob(e.OnStatusReason, failure.statusReason)) &&
      (e.OnReason === undefined || glob(e.OnReason, failure.reason));
    if (ok) return e.Action.toUpperCase();
  }
  return 'RETRY';
}

/** Logical id of an L2 construct's CloudFormation resource. */
export function logicalIdOf(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}
