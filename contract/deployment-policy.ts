/**
 * What a deployment lets a run read and spend, checked by the Validate stage before anything is
 * read or planned. The deployer decides it (CDK context on AWS); a job spec only asks.
 *
 * Reads: on a deployment every URI of the spec must be `s3://<artifact bucket>/(datasets|models|
 * runs)/…` or in a bucket the deployer listed. `file://` URIs and bare paths are refused there:
 * inside a Lambda they would name the function's own file system (/proc/self/environ holds the
 * role's session credentials). The local executor passes no policy and keeps local paths.
 *
 * Spend: a per-attempt job time limit above the deployer's cap is refused, and so are the
 * `compute.instanceTypes` / `compute.spot` fields, which only the deployment decides on AWS.
 */
import { ConfigError } from '../trainer/model/config';
import type { DataSource } from '../trainer/data/source';
import type { JobSpec } from './spec';

export interface DeploymentPolicy {
  /** The artifact bucket's name: specs may read its `datasets/`, `models/` and `runs/` prefixes. */
  readonly artifactBucket: string;
  /** Further buckets (names) the deployer granted read access to; any key in them. */
  readonly readableBuckets: readonly string[];
  /** Upper bound of `compute.jobTimeoutMinutes`. */
  readonly maxJobMinutes: number;
}

/** Key prefixes of the artifact bucket a spec may read from. */
export const READABLE_ARTIFACT_PREFIXES = ['datasets/', 'models/', 'runs/'] as const;

/**
 * String fields of `data` that are not paths. Every other string leaf of `data` is treated as a
 * URI: a new field is checked (fail closed) until it is listed here.
 */
const NON_URI_DATA_FIELDS = new Set(['format', 'task', 'imagePattern']);

export interface SpecUri {
  /** Dotted path of the field, as in spec errors (`data.questions.train`). */
  readonly path: string;
  readonly uri: string;
}

/** Every URI or path a spec asks the pipeline to read. */
export function specReadUris(spec: JobSpec): SpecUri[] {
  const out: SpecUri[] = [];
  if ('checkpoint' in spec.teacher) out.push({ path: 'teacher.checkpoint', uri: spec.teacher.checkpoint });
  return [...out, ...dataSourceUris(spec.data, 'data')];
}

/** Every URI or path of a data source, with its field path under `prefix`. */
export function dataSourceUris(source: DataSource, prefix: string): SpecUri[] {
  const out: SpecUri[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (typeof value === 'string') {
      if (!NON_URI_DATA_FIELDS.has(path[path.length - 1])) out.push({ path: [prefix, ...path].join('.'), uri: value });
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)]));
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(source, []);
  return out;
}

/**
 * For a data source given to prepare-data directly (not through a spec): its URIs must be
 * readable and `outUri` inside the artifact bucket's runs/. @throws ConfigError naming each field
 */
export function assertDirectPrepareAllowed(source: DataSource, outUri: string, policy: DeploymentPolicy): void {
  const issues: { path: string; message: string }[] = [];
  for (const { path, uri } of dataSourceUris(source, 'source')) {
    const problem = uriProblem(uri, policy);
    if (problem !== undefined) issues.push({ path, message: `${problem} (got ${JSON.stringify(uri)})` });
  }
  if (!outUri.startsWith(`s3://${policy.artifactBucket}/runs/`)) {
    issues.push({ path: 'outUri', message: `must be under s3://${policy.artifactBucket}/runs/ on AWS (got ${JSON.stringify(outUri)})` });
  }
  if (issues.length > 0) {
    throw new ConfigError('prepare-data event not allowed on this deployment:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
}

const allowedForms = (p: DeploymentPolicy) =>
  [
    ...READABLE_ARTIFACT_PREFIXES.map((prefix) => `s3://${p.artifactBucket}/${prefix}…`),
    ...p.readableBuckets.map((b) => `s3://${b}/…`),
  ].join(', ');

/** Why `uri` may not be read under `policy`, or undefined when it may. */
export function uriProblem(uri: string, policy: DeploymentPolicy): string | undefined {
  const fix = `use one of ${allowedForms(policy)} (upload the file there, or have the deployer list its bucket in the readableBuckets context)`;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return `a local path cannot be read on AWS: ${fix}`;
  if (scheme === 'file') return `a file:// URI cannot be read on AWS: ${fix}`;
  if (scheme !== 's3') return `the ${scheme}:// scheme is not supported: ${fix}`;
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(uri)!;
  const [, bucket, key = ''] = m;
  // S3 keeps "." and ".." segments literally, but they make a key read differently from how it
  // looks (and from how a prefix check reads it): refuse them, and empty segments.
  if (key !== '' && key.split('/').some((seg, i, all) => seg === '.' || seg === '..' || (seg === '' && i < all.length - 1))) {
    return `the key holds an empty, "." or ".." segment: write the plain key, ${fix}`;
  }
  if (policy.readableBuckets.includes(bucket)) return undefined;
  if (bucket === policy.artifactBucket) {
    if (READABLE_ARTIFACT_PREFIXES.some((prefix) => key.startsWith(prefix) && key.length > prefix.length)) return undefined;
    return `only the datasets/, models/ and runs/ prefixes of the artifact bucket may be read: ${fix}`;
  }
  return `bucket "${bucket}" is neither the artifact bucket nor one the deployer listed: ${fix}`;
}

/**
 * Checks a parsed spec (and the raw one, for fields that must not even be given) against the
 * deployment and returns it with the deployment's defaults: a spec that does not set
 * `compute.jobTimeoutMinutes` gets the smaller of the schema default and the cap.
 * @throws ConfigError listing every problem with its field path and its fix
 */
export function applyDeploymentPolicy(spec: JobSpec, rawSpec: unknown, policy: DeploymentPolicy): JobSpec {
  const issues: { path: string; message: string }[] = [];
  const rawCompute = (rawSpec as { compute?: unknown } | null)?.compute;
  const given = (field: string) => rawCompute !== null && typeof rawCompute === 'object' && field in rawCompute;
  if (!given('jobTimeoutMinutes')) {
    spec = { ...spec, compute: { ...spec.compute, jobTimeoutMinutes: Math.min(spec.compute.jobTimeoutMinutes, policy.maxJobMinutes) } };
  }
  for (const { path, uri } of specReadUris(spec)) {
    const problem = uriProblem(uri, policy);
    if (problem !== undefined) issues.push({ path, message: `${problem} (got ${JSON.stringify(uri)})` });
  }
  if (spec.compute.jobTimeoutMinutes > policy.maxJobMinutes) {
    issues.push({
      path: 'compute.jobTimeoutMinutes',
      message:
        `${spec.compute.jobTimeoutMinutes} exceeds this deployment's cap of ${policy.maxJobMinutes} minutes per job attempt: ` +
        `lower it (at most ${policy.maxJobMinutes}), or have the deployer raise the maxJobMinutes context`,
    });
  }
  const deployerOnly: Record<string, string> = {
    instanceTypes: 'instanceTypes context (and the GPU quota behind it)',
    spot: 'spot context',
  };
  for (const [field, context] of Object.entries(deployerOnly)) {
    if (given(field)) {
      issues.push({
        path: `compute.${field}`,
        message: `is decided by the deployment on AWS, not per run (the deployer's ${context}): remove compute.${field} from the spec`,
      });
    }
  }
  if (issues.length > 0) {
    throw new ConfigError(
      'job spec not allowed on this deployment:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
      issues,
    );
  }
  return spec;
}

/** Refuses an artifact root other than the deployment's bucket (a hand-started execution). */
export function assertArtifactRootAllowed(artifactRoot: string, policy: DeploymentPolicy): void {
  if (artifactRoot.replace(/\/+$/, '') !== `s3://${policy.artifactBucket}`) {
    throw new ConfigError(
      `artifactRoot ${JSON.stringify(artifactRoot)} is not this deployment's artifact bucket: start runs through ` +
        `start-run (amad submit, or a jobs/*.json upload), or pass artifactRoot "s3://${policy.artifactBucket}"`,
      [{ path: 'artifactRoot', message: 'not the artifact bucket' }],
    );
  }
}
