/**
 * The artifact store of every run: one versioned, encrypted, TLS-only, private S3 bucket, plus
 * its own server-access-log bucket. Access is handed out per key prefix (`grant*`), never as
 * `bucket/*`.
 *
 * Layout (contract/storage URIs `s3://<bucket>/…`):
 *   jobs/<name>.json            job specs dropped here start a run (RunTrigger)
 *   datasets/…                  raw inputs (VQA v2 / COCO / Multi30K layouts) uploaded by users
 *   models/…                    trained teachers uploaded by users (a spec's teacher.checkpoint)
 *   runs/<id>/…                 everything a run writes; `…/checkpoints/` and `…/cache/` are
 *                               scratch and expire (see contract/scratch-tag.ts for why by tag)
 *   runs/index.html|json        the runs index, rebuilt from runs/_index/<id>.json rows
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Violations, shown } from '../errors';
import { wildcardResourceFinding } from '../nag';
import { SCRATCH_TAG_KEY, SCRATCH_TAG_VALUE } from '../../contract/scratch-tag';

export const JOBS_PREFIX = 'jobs/';
export const DATASETS_PREFIX = 'datasets/';
export const MODELS_PREFIX = 'models/';
export const RUNS_PREFIX = 'runs/';
/** Keys of the runs index (trainer/stages/runs-index.ts): rows, page, JSON. */
export const RUNS_INDEX_KEYS = [`${RUNS_PREFIX}_index/*`, `${RUNS_PREFIX}index.html`, `${RUNS_PREFIX}index.json`];

/** Server-side encryption of the artifact bucket. */
export enum ArtifactEncryption {
  /** SSE-S3 (AES-256, no key to manage, no KMS request cost). */
  S3_MANAGED = 's3-managed',
  /** SSE-KMS with a customer-managed key (given as `encryptionKey`, or created with rotation). */
  KMS = 'kms',
}

export interface ArtifactBucketProps {
  /**
   * Server-side encryption.
   * @default ArtifactEncryption.S3_MANAGED
   */
  readonly encryption?: ArtifactEncryption;
  /**
   * Customer-managed key; only with `encryption: ArtifactEncryption.KMS`.
   * @default - a new key with yearly rotation when `encryption` is KMS
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Age after which scratch objects (`runs/<id>/…/checkpoints/`, `…/cache/`) expire. Whole days,
   * at least 1 (S3 lifecycle granularity).
   * @default Duration.days(14)
   */
  readonly scratchExpiration?: Duration;
  /**
   * Age after which superseded (noncurrent) object versions are deleted; whole days, at least 1.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Age after which server access log objects expire; whole days, at least 1.
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
  /**
   * What `cdk destroy` does with both buckets. RETAIN keeps run results and audit logs.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

const DEFAULT_SCRATCH_EXPIRATION = Duration.days(14);
const DEFAULT_NONCURRENT_EXPIRATION = Duration.days(30);
const DEFAULT_ACCESS_LOG_EXPIRATION = Duration.days(365);
/** Failed multipart uploads (an interrupted checkpoint upload) would otherwise be billed forever. */
const ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7);

const READ_ACTIONS = ['s3:GetObject'];
/**
 * PutObjectTagging: an upload that sets `x-amz-tagging` (scratch objects) needs it.
 * DeleteObject: checkpoint rotation and `Storage.delete`.
 */
const WRITE_ACTIONS = ['s3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload', 's3:DeleteObject'];

export class ArtifactBucket extends Construct {
  /** The artifact bucket. */
  readonly bucket: s3.Bucket;
  /** The bucket receiving the artifact bucket's server access logs. */
  readonly accessLogBucket: s3.Bucket;
  /** The KMS key, when `encryption` is KMS. */
  readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ArtifactBucketProps = {}) {
    super(scope, id);
    const encryption = props.encryption ?? ArtifactEncryption.S3_MANAGED;
    const scratchExpiration = props.scratchExpiration ?? DEFAULT_SCRATCH_EXPIRATION;
    const noncurrentExpiration = props.noncurrentVersionExpiration ?? DEFAULT_NONCURRENT_EXPIRATION;
    const accessLogExpiration = props.accessLogExpiration ?? DEFAULT_ACCESS_LOG_EXPIRATION;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    validateProps(props, encryption, { scratchExpiration, noncurrentExpiration, accessLogExpiration });

    // Access-log target buckets must use SSE-S3 (S3 log delivery cannot use SSE-KMS keys).
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: accessLogExpiration,
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy,
    });

    if (encryption === ArtifactEncryption.KMS) {
      this.encryptionKey =
        props.encryptionKey ??
        new kms.Key(this, 'Key', {
          description: 'amad-distill artifact bucket',
          enableKeyRotation: true,
          removalPolicy,
        });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...renderEncryption(this.encryptionKey),
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: renderLifecycleRules(scratchExpiration, noncurrentExpiration),
      removalPolicy,
    });
    // Object Created events (jobs/*.json starts a run, RunTrigger) go to EventBridge. Set on the
    // CloudFormation resource itself: the L2 `eventBridgeEnabled` deploys a custom-resource
    // Lambda for the same switch.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
  }

  /** Read every run's artifacts (`runs/*`). */
  grantReadRuns(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, READ_ACTIONS, [`${RUNS_PREFIX}*`], 'decrypt');
  }

  /**
   * Write (put, tag, delete) keys of every run that match `paths`, each relative to
   * `runs/<id>/` and possibly holding `*`: `grantWriteRun(fn, 'data/*', '_stages/prepare-data/*')`
   * grants `runs/*\/data/*` and `runs/*\/_stages/prepare-data/*`. The run id is a wildcard
   * because runs are created after deploy.
   */
  grantWriteRun(grantee: iam.IGrantable, ...paths: string[]): iam.Grant {
    const v = new Violations('ArtifactBucket.grantWriteRun');
    v.check(paths.length === 0, 'paths must name at least one key pattern under runs/<id>/ (got none)');
    for (const p of paths) {
      v.check(
        !/^[A-Za-z0-9_.*-]+(\/[A-Za-z0-9_.*-]+)*$/.test(p) || p.split('/').includes('..'),
        `path must be a relative key pattern like "data/*" (no leading "/", no "..", no empty segment) (got ${shown(p)})`,
      );
    }
    v.throwIfAny();
    return this.grant(grantee, WRITE_ACTIONS, paths.map((p) => `${RUNS_PREFIX}*/${p}`), 'encrypt-decrypt');
  }

  /** Write the runs index: each run's row (`runs/_index/*`) and the index itself (`runs/index.html`, `runs/index.json`). */
  grantWriteRunsIndex(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, WRITE_ACTIONS, RUNS_INDEX_KEYS, 'encrypt-decrypt');
  }

  /** Read job specs (`jobs/*`). */
  grantReadJobs(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, READ_ACTIONS, [`${JOBS_PREFIX}*`], 'decrypt');
  }

  /** Read uploaded raw datasets (`datasets/*`). */
  grantReadDatasets(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, READ_ACTIONS, [`${DATASETS_PREFIX}*`], 'decrypt');
  }

  /** Read uploaded teacher checkpoints (`models/*`). */
  grantReadModels(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, READ_ACTIONS, [`${MODELS_PREFIX}*`], 'decrypt');
  }

  /** Upload job specs (`jobs/*`), e.g. for a CI user that submits runs. */
  grantSubmitJobs(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, ['s3:PutObject'], [`${JOBS_PREFIX}*`], 'encrypt-decrypt');
  }

  /** The S3 URI of a key, `s3://<bucket>/<key>` (tokens resolve at deploy). */
  uriOf(key: string): string {
    return `s3://${this.bucket.bucketName}/${key.replace(/^\/+/, '')}`;
  }

  /**
   * Every grant goes through here: object actions on the given key patterns, `s3:ListBucket` on
   * the bucket, and the KMS permissions the object actions need when the bucket uses a key.
   *
   * ListBucket is bucket-wide on purpose: without it S3 answers HeadObject/GetObject on a
   * missing key with 403 instead of 404, and the stages' "does the `_SUCCESS` marker exist?"
   * checks would fail instead of answering no. A `s3:prefix` condition does not help there
   * (HeadObject carries no prefix), and listing reveals key names only, never content.
   */
  private grant(
    grantee: iam.IGrantable,
    objectActions: string[],
    keyPatterns: string[],
    kmsAccess: 'decrypt' | 'encrypt-decrypt',
  ): iam.Grant {
    const objects = iam.Grant.addToPrincipal({
      grantee,
      actions: objectActions,
      resourceArns: keyPatterns.map((p) => this.bucket.arnForObjects(p)),
    });
    const listing = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
    });
    this.acknowledgePrefixWildcards(grantee, keyPatterns);
    let grant = objects.combine(listing);
    if (this.encryptionKey) {
      grant = grant.combine(
        kmsAccess === 'decrypt'
          ? this.encryptionKey.grantDecrypt(grantee)
          : this.encryptionKey.grantEncryptDecrypt(grantee),
      );
    }
    return grant;
  }

  /**
   * cdk-nag flags every `*` in a resource. Here each one is a key prefix (`runs/*\/data/*`):
   * run ids and file names only exist at run time, and the prefix is the narrowest scope there is.
   */
  private acknowledgePrefixWildcards(grantee: iam.IGrantable, keyPatterns: string[]): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    for (const pattern of keyPatterns) {
      Validations.of(principal).acknowledge({
        id: wildcardResourceFinding(this, this.bucket.arnForObjects(pattern)),
        reason: `Object access limited to the key prefix ${pattern} of the artifact bucket; run ids and object names exist only at run time (infra/access.ts).`,
      });
    }
  }
}

function validateProps(
  props: ArtifactBucketProps,
  encryption: ArtifactEncryption,
  durations: Record<'scratchExpiration' | 'noncurrentExpiration' | 'accessLogExpiration', Duration>,
): void {
  const v = new Violations('ArtifactBucket');
  v.check(
    !Object.values(ArtifactEncryption).includes(encryption),
    `encryption must be one of ${Object.values(ArtifactEncryption).join(', ')} (got ${shown(encryption)})`,
  );
  v.check(
    props.encryptionKey !== undefined && encryption !== ArtifactEncryption.KMS,
    `encryptionKey is only used with encryption KMS, but encryption is ${shown(encryption)}: drop encryptionKey or set encryption: ArtifactEncryption.KMS`,
  );
  const propNames = {
    scratchExpiration: 'scratchExpiration',
    noncurrentExpiration: 'noncurrentVersionExpiration',
    accessLogExpiration: 'accessLogExpiration',
  } as const;
  for (const [key, d] of Object.entries(durations) as [keyof typeof propNames, Duration][]) {
    if (d.isUnresolved()) continue;
    const days = d.toHours({ integral: false }) / 24;
    v.check(
      !Number.isInteger(days) || days < 1,
      `${propNames[key]} must be a whole number of days, at least 1 (got ${d.toHumanString()})`,
    );
  }
  v.throwIfAny();
}

function renderEncryption(key: kms.IKey | undefined): Pick<s3.BucketProps, 'encryption' | 'encryptionKey' | 'bucketKeyEnabled'> {
  if (!key) return { encryption: s3.BucketEncryption.S3_MANAGED };
  // Bucket keys cut KMS request costs by ~99 % for the many small shard/checkpoint objects.
  return { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true };
}

function renderLifecycleRules(scratchExpiration: Duration, noncurrentExpiration: Duration): s3.LifecycleRule[] {
  return [
    {
      id: 'expire-run-scratch',
      tagFilters: { [SCRATCH_TAG_KEY]: SCRATCH_TAG_VALUE },
      expiration: scratchExpiration,
      // A superseded checkpoint is worthless: drop it the next day.
      noncurrentVersionExpiration: Duration.days(1),
    },
    {
      id: 'expire-noncurrent-versions',
      noncurrentVersionExpiration: noncurrentExpiration,
      abortIncompleteMultipartUploadAfter: ABORT_INCOMPLETE_UPLOADS_AFTER,
      expiredObjectDeleteMarker: true,
    },
  ];
}
