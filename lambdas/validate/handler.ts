/**
 * Validate: parses the submitted job spec (every problem reported with its path), writes the
 * normalised spec to `runs/<runId>/spec.json` and returns the run plan the state machine follows.
 * Re-submitting the same run id with the same spec resumes it; with a different spec it is
 * refused (the kept outputs were made from the old one).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { applyDeploymentPolicy, assertArtifactRootAllowed, uriProblem } from '../../contract/deployment-policy';
import { runLayout, runStageOnce, runUriFor, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { parseJson } from '../../contract/parse-json';
import { planRun } from '../../contract/plan';
import { parseJobSpec } from '../../contract/spec';
import { storageFor, StorageNotFoundError } from '../../contract/storage';
import { ConfigError } from '../../trainer/model/config';
import { checkOnnxTeacherOfSpec } from '../../trainer/onnx/check-spec';
import { recordRunInIndex } from '../../trainer/stages/runs-index';
import { deploymentPolicyFromEnv } from '../deployment-env';
import { ValidateEventSchema, type ValidateResult } from './schema';

const logger = new Logger({ serviceName: 'amad-validate' });

/** A run id re-used with a different spec. */
export class SpecConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecConflict';
  }
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

export async function handler(event: unknown, context?: Context): Promise<ValidateResult> {
  if (context) logger.addContext(context);
  const { runId, artifactRoot, spec: inlineSpec, specUri } = parseEvent(ValidateEventSchema, event, 'Validate event');
  const policy = deploymentPolicyFromEnv();
  // Before anything is read: on a deployment the spec may only name what the run may read (its
  // own URI included), and spend what the deployer allows.
  if (policy) {
    assertArtifactRootAllowed(artifactRoot, policy);
    const problem = specUri === undefined ? undefined : uriProblem(specUri, policy);
    if (problem) throw new ConfigError(`invalid Validate event:
  - specUri: ${problem}`, [{ path: 'specUri', message: problem }]);
  }
  const rawSpec = specUri ? parseJson(await storageFor(specUri).get(specUri), specUri) : inlineSpec;
  let spec = parseJobSpec(rawSpec, specUri ?? 'job spec');
  if (policy) spec = applyDeploymentPolicy(spec, rawSpec, policy);
  if (spec.runId !== undefined && spec.runId !== runId) {
    throw new ConfigError(`spec.runId "${spec.runId}" differs from the run id "${runId}" of the request: remove spec.runId or make them equal`, [
      { path: 'runId', message: 'differs from the request' },
    ]);
  }
  // A teacher given as ONNX is checked against its sidecar and the students before anything runs.
  const teacherCheck = await checkOnnxTeacherOfSpec(spec);
  if (teacherCheck?.deferred) logger.warn('ONNX teacher model checks deferred', { reason: teacherCheck.deferred });
  const runUri = runUriFor(artifactRoot, runId);
  const layout = runLayout(runUri);
  const specText = JSON.stringify({ ...spec, runId }, null, 2) + '\n';
  await refuseConflictingSpec(layout.spec, specText, runId);

  const { result, skipped } = await runStageOnce(runUri, Stage.validate, async () => {
    await storageFor(layout.spec).put(layout.spec, specText);
    return { outputs: [layout.spec], result: planRun({ ...spec, runId }, runId, runUri) };
  });
  logger.info('Run validated', { runId, runUri, skipped, students: result.studentJobs.length });
  // The runs index lists the run as running (a resumed run again) until it reports or fails.
  await recordRunInIndex(runUri, 'running').catch((err: unknown) => logger.warn('Could not update the runs index', { runId, error: (err as Error).message }));
  return result;
}

async function refuseConflictingSpec(specUri: string, specText: string, runId: string): Promise<void> {
  let existing: Buffer;
  try {
    existing = await storageFor(specUri).get(specUri);
  } catch (e) {
    if (e instanceof StorageNotFoundError) return;
    throw e;
  }
  if (sha256(existing) !== sha256(specText)) {
    throw new SpecConflictError(
      `run "${runId}" already exists (${specUri}) with a different spec: submit with a new runId, or the same spec to resume`,
    );
  }
}
