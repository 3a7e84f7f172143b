/**
 * docs/DEPLOY.md's raw EventBridge example is something a deployer pastes: its Detail must be a
 * DistillationRequested detail whose spec passes the job-spec schema (and this deployment's
 * default policy), so the example cannot drift from the schema again.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { applyDeploymentPolicy } from '../../contract/deployment-policy';
import { DISTILLATION_REQUESTED, DistillationRequestedDetailSchema, EVENT_SOURCE } from '../../contract/events';
import { parseJobSpec } from '../../contract/spec';
import { CONTEXT_DEFAULTS } from '../../infra/context';

const deployMd = readFileSync(path.join(__dirname, '..', '..', 'docs', 'DEPLOY.md'), 'utf8');

/** The JSON given to `aws events put-events --entries '…'` in each sh block. */
function putEventsEntries(markdown: string): unknown[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((b) => [...b.matchAll(/aws events put-events --entries '([\s\S]*?)'/g)].map((m) => JSON.parse(m[1]) as unknown));
}

test('DEPLOY.md has one put-events example', () => {
  expect(putEventsEntries(deployMd)).toHaveLength(1);
});

test('its Detail is a DistillationRequested detail with a valid job spec, allowed by a default deployment', () => {
  const [entries] = putEventsEntries(deployMd) as { Source: string; DetailType: string; Detail: string }[][];
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  expect(entry).toMatchObject({ Source: EVENT_SOURCE, DetailType: DISTILLATION_REQUESTED });
  const detail = DistillationRequestedDetailSchema.parse(JSON.parse(entry.Detail));
  // what start-run passes on as the spec
  const { resume: _resume, ...raw } = detail;
  const spec = parseJobSpec(raw, 'DEPLOY.md example');
  expect(spec.runId).toBe(detail.runId);
  const policy = { artifactBucket: 'artifacts', readableBuckets: [], maxJobMinutes: CONTEXT_DEFAULTS.maxJobMinutes };
  expect(() => applyDeploymentPolicy(spec, raw, policy)).not.toThrow();
});
