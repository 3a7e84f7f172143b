/**
 * Validate on a deployment (the stack sets ARTIFACT_BUCKET, READABLE_BUCKETS, MAX_JOB_MINUTES):
 * every URI outside the artifact bucket's datasets/models/runs prefixes and the listed buckets is
 * refused before anything is read, and so are job time limits above the cap and the
 * deployer-only compute fields (prepare-data applies the read rule to a source given directly).
 * Locally (no ARTIFACT_BUCKET) local paths stay allowed.
 */
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { specReadUris } from '../../contract/deployment-policy';
import { PLAN_GPU_TYPES_ENV } from '../../contract/placement';
import { parseJobSpec, type JobSpecInput } from '../../contract/spec';
import { handler as prepareData } from '../../lambdas/prepare-data/handler';
import { handler as validate } from '../../lambdas/validate/handler';
import { ConfigError } from '../../trainer/model/config';
import { tinySpec } from '../cli/fixtures/tiny-spec';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const s3 = mockClient(S3Client);
const saved = { ...process.env };
const BUCKET = 'amad-artifacts-123';
const ROOT = `s3://${BUCKET}`;

/** An in-memory bucket behind the mocked client. */
let objects: Map<string, Buffer>;
const notFound = () => Object.assign(new Error('not found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  s3.reset();
  objects = new Map();
  s3.on(GetObjectCommand).callsFake(({ Key }: { Key: string }) => {
    const b = objects.get(Key);
    if (!b) throw new NoSuchKey({ message: 'no such key', $metadata: {} });
    return { Body: Readable.from([b]), ContentLength: b.length };
  });
  s3.on(HeadObjectCommand).callsFake(({ Key }: { Key: string }) => {
    const b = objects.get(Key);
    if (!b) throw notFound();
    return { ContentLength: b.length };
  });
  s3.on(PutObjectCommand).callsFake(({ Key, Body }: { Key: string; Body: Buffer | string }) => {
    objects.set(Key, Buffer.from(Body));
    return {};
  });
  process.env.AWS_REGION = 'eu-west-1';
  process.env.ARTIFACT_BUCKET = BUCKET;
  process.env.READABLE_BUCKETS = 'shared-datasets, team-models';
  process.env.MAX_JOB_MINUTES = '600';
});
afterAll(() => {
  process.env = saved;
});

const withCheckpoint = (checkpoint: string): JobSpecInput => tinySpec({ teacher: { checkpoint } });
const vqaData = (questionsTrain: string) => ({
  format: 'vqa-v2' as const,
  questions: { train: questionsTrain, val: `${ROOT}/datasets/q-val.json` },
  annotations: { train: `${ROOT}/datasets/a-train.json`, val: `${ROOT}/datasets/a-val.json` },
  images: { train: 's3://shared-datasets/coco/train2014', val: 's3://shared-datasets/coco/val2014' },
});

async function refusal(spec: JobSpecInput, artifactRoot = ROOT): Promise<ConfigError> {
  try {
    await validate({ runId: 'r1', artifactRoot, spec });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('validate accepted the spec');
}

describe('validate on a deployment: reads', () => {
  test.each<[string, string]>([
    ['/proc/self/environ (a bare path)', '/proc/self/environ'],
    ['a relative path', 'models/teacher'],
    ['a file:// URI', 'file:///etc/passwd'],
    ["another account's bucket", 's3://someone-elses-bucket/models/teacher'],
    ['the jobs/ prefix of the artifact bucket', `${ROOT}/jobs/other.json`],
    ['the artifact bucket root', `${ROOT}/`],
    ['a bare prefix without a key', `${ROOT}/models/`],
    ['a ".." segment', `${ROOT}/models/../jobs/x.json`],
    ['an https:// URL', 'https://example.com/teacher'],
  ])('refuses teacher.checkpoint as %s, naming the field and the fix, and reads nothing', async (_what, uri) => {
    const e = await refusal(withCheckpoint(uri));
    expect(e.issues).toEqual([{ path: 'teacher.checkpoint', message: expect.stringContaining(`(got ${JSON.stringify(uri)})`) }]);
    expect(e.message).toContain('teacher.checkpoint:');
    // the fix: the forms that are allowed, and how to get there
    expect(e.message).toContain(`${ROOT}/models/…`);
    expect(e.message).toContain('s3://team-models/…');
    expect(e.message).toMatch(/upload the file there, or have the deployer list its bucket in the readableBuckets context/);
    expect(s3.calls()).toHaveLength(0);
  });

  test('refuses a data URI deep in a dataset layout with its own path', async () => {
    const e = await refusal(tinySpec({ data: vqaData('file:///proc/self/environ') }));
    expect(e.issues.map((i) => i.path)).toEqual(['data.questions.train']);
    expect(e.issues[0].message).toMatch(/^a file:\/\/ URI cannot be read on AWS: use one of /);
  });

  test('accepts the artifact bucket prefixes and the listed buckets', async () => {
    const plan = await validate({ runId: 'r1', artifactRoot: ROOT, spec: { ...withCheckpoint('s3://team-models/teacher-v3'), data: vqaData(`${ROOT}/datasets/q-train.json`) } });
    expect(plan.teacher.modelUri).toBe('s3://team-models/teacher-v3');
    await expect(validate({ runId: 'r2', artifactRoot: ROOT, spec: withCheckpoint(`${ROOT}/runs/earlier/models/teacher`) })).resolves.toBeDefined();
  });

  test('refuses an artifact root other than the artifact bucket (a hand-started execution)', async () => {
    await expect(validate({ runId: 'r1', artifactRoot: 'file:///tmp/x', spec: tinySpec() })).rejects.toThrow(
      /artifactRoot "file:\/\/\/tmp\/x" is not this deployment's artifact bucket: .* pass artifactRoot "s3:\/\/amad-artifacts-123"/,
    );
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('validate on a deployment: spend caps', () => {
  test('refuses a job time limit above the cap, naming the cap and both fixes', async () => {
    const e = await refusal(tinySpec({ compute: { jobTimeoutMinutes: 10_000_000 } }));
    expect(e.issues).toEqual([
      {
        path: 'compute.jobTimeoutMinutes',
        message: "10000000 exceeds this deployment's cap of 600 minutes per job attempt: lower it (at most 600), or have the deployer raise the maxJobMinutes context",
      },
    ]);
  });

  test('the cap itself passes; a spec without a limit gets the smaller of the default (1440) and the cap', async () => {
    await expect(validate({ runId: 'r1', artifactRoot: ROOT, spec: tinySpec({ compute: { jobTimeoutMinutes: 600 } }) })).resolves.toMatchObject({ jobTimeoutSeconds: 36_000 });
    await expect(validate({ runId: 'r2', artifactRoot: ROOT, spec: tinySpec() })).resolves.toMatchObject({ jobTimeoutSeconds: 36_000 });
    expect(JSON.parse(objects.get('runs/r2/spec.json')!.toString()).compute.jobTimeoutMinutes).toBe(600);
    process.env.MAX_JOB_MINUTES = '2880';
    await expect(validate({ runId: 'r3', artifactRoot: ROOT, spec: tinySpec() })).resolves.toMatchObject({ jobTimeoutSeconds: 1440 * 60 });
  });

  test.each(['instanceTypes', 'spot'])('refuses compute.%s: the deployment decides it', async (field) => {
    const value = field === 'spot' ? false : ['p5.48xlarge'];
    const e = await refusal(tinySpec({ compute: { jobTimeoutMinutes: 60, [field]: value } }));
    expect(e.issues).toEqual([{ path: `compute.${field}`, message: expect.stringMatching(new RegExp(`decided by the deployment on AWS.*: remove compute\\.${field} from the spec$`)) }]);
  });

  test(`plans with the deployment's GPU types (${PLAN_GPU_TYPES_ENV}): a listed type without a throughput entry refuses the run`, async () => {
    process.env[PLAN_GPU_TYPES_ENV] = 'g5.xlarge,g4dn.xlarge';
    try {
      await expect(validate({ runId: 'r1', artifactRoot: ROOT, spec: tinySpec({ compute: { jobTimeoutMinutes: 60 } }) })).resolves.toMatchObject({ runId: 'r1' });
      process.env[PLAN_GPU_TYPES_ENV] = 'g5.xlarge,x9.xlarge';
      // Another run id: r1's plan is committed and a resumed run keeps it.
      const e = await validate({ runId: 'r2', artifactRoot: ROOT, spec: tinySpec({ compute: { jobTimeoutMinutes: 60 } }) }).then(
        () => new Error('validate accepted the spec'),
        (err: Error) => err,
      );
      expect(e.message).toMatch(/trainTeacher: no throughput for GPU instance type x9\.xlarge .*have the deployer change the instanceTypes CDK context/);
    } finally {
      delete process.env[PLAN_GPU_TYPES_ENV];
    }
  });

  test('reports every problem at once', async () => {
    const e = await refusal({ ...withCheckpoint('/etc/passwd'), compute: { jobTimeoutMinutes: 601, spot: true } });
    expect(e.issues.map((i) => i.path)).toEqual(['teacher.checkpoint', 'compute.jobTimeoutMinutes', 'compute.spot']);
  });
});

describe('validate locally (no deployment policy)', () => {
  test('keeps local paths and the compute fields', async () => {
    delete process.env.ARTIFACT_BUCKET;
    delete process.env.MAX_JOB_MINUTES;
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-validate-local-'));
    try {
      const plan = await validate({ runId: 'r1', artifactRoot: root, spec: { ...withCheckpoint('/some/local/teacher'), compute: { jobTimeoutMinutes: 100_000, spot: false } } });
      expect(plan.teacher.modelUri).toBe('file:///some/local/teacher');
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('specReadUris', () => {
  test('lists every path field of each data layout and the teacher checkpoint, and no other string', () => {
    const spec = parseJobSpec({
      ...withCheckpoint('s3://b/models/t'),
      data: {
        format: 'multi30k',
        train: { source: 'a', target: 'b', imageList: 'c' },
        val: { source: 'd', target: 'e', imageList: 'f' },
        images: 'g',
        tokenizer: { wordpieceVocab: 'h' },
      },
    });
    expect(specReadUris(spec)).toEqual([
      { path: 'teacher.checkpoint', uri: 's3://b/models/t' },
      { path: 'data.train.source', uri: 'a' },
      { path: 'data.train.target', uri: 'b' },
      { path: 'data.train.imageList', uri: 'c' },
      { path: 'data.val.source', uri: 'd' },
      { path: 'data.val.target', uri: 'e' },
      { path: 'data.val.imageList', uri: 'f' },
      { path: 'data.images', uri: 'g' },
      { path: 'data.tokenizer.wordpieceVocab', uri: 'h' },
    ]);
    const vqa = parseJobSpec(tinySpec({ data: vqaData('q') }));
    expect(specReadUris(vqa).map((u) => u.path)).not.toContain('data.imagePattern');
  });
});

describe('prepare-data given a data source directly (no spec, no Validate)', () => {
  test('on a deployment: the same read rule for the source, and the output inside runs/', async () => {
    const event = { runId: 'r1', source: vqaData('file:///proc/self/environ'), outUri: 's3://elsewhere/out' };
    const e = await prepareData(event).then(
      () => null,
      (err: unknown) => err as ConfigError,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.issues).toEqual([
      { path: 'source.questions.train', message: expect.stringMatching(/^a file:\/\/ URI cannot be read on AWS: .*\(got "file:\/\/\/proc\/self\/environ"\)$/) },
      { path: 'outUri', message: 'must be under s3://amad-artifacts-123/runs/ on AWS (got "s3://elsewhere/out")' },
    ]);
    expect(s3.calls()).toHaveLength(0);
  });
});
