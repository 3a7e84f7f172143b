/**
 * One NodejsFunction per pipeline handler (`lambdas/<name>/handler.ts`, export `handler`),
 * each with its own role, log group and least-privilege grants on the artifact prefixes it uses
 * (infra/access.ts).
 *
 * Bundling is local esbuild only: Docker bundling is never attempted (no Docker engine is
 * assumed anywhere). The handlers that run a model get ONNX Runtime (for the function's
 * architecture) and the tfjs wasm binaries beside their bundle (model-runtimes.ts).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HANDLER_ACCESS, grantPrefixAccess } from '../access';
import { ValidationError, Violations, shown } from '../errors';
import { findRepoRoot } from '../repo-root';
import type { ArtifactBucket } from '../storage/artifact-bucket';
import { HANDLER_NAMES, HANDLER_SPECS, type HandlerName } from './handler-specs';
import { modelRuntimeHooks, ONNX_RUNTIME_PACKAGE } from './model-runtimes';

/** Lambda memory limits (MB). */
const LAMBDA_MEMORY_MIN_FOR_MODEL = 3008;
const LAMBDA_MEMORY_MAX = 10240;

export interface PipelineFunctionsProps {
  /** Bucket holding job specs, datasets and runs. */
  readonly artifacts: ArtifactBucket;
  /**
   * Memory (MB) of the handlers that run the model (cache-teacher, evaluate); 3008–10240.
   * The wasm backend is single-threaded under Node and its heap is capped at 4 GB, so more
   * memory buys vCPUs it cannot use: 5120 MB covers the 4 GB heap plus the Node process.
   * @default 5120
   */
  readonly modelMemorySize?: number;
  /**
   * Retention of each function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Folder holding `<name>/handler.ts` for every handler.
   * @default - `lambdas/` at the repository root
   */
  readonly lambdasDir?: string;
  /**
   * Entry file per handler, replacing `<lambdasDir>/<name>/handler.ts` (tests point handlers that
   * are not written yet at a fixture).
   * @default - none
   */
  readonly entryOverrides?: Readonly<Partial<Record<HandlerName, string>>>;
  /**
   * `package-lock.json` that pins the bundled dependencies; its folder is the esbuild project root.
   * @default - package-lock.json at the repository root
   */
  readonly depsLockFilePath?: string;
  /**
   * CPU architecture of every function; the model handlers ship ONNX Runtime's binary for it.
   * Tests build x86_64 bundles to run them on an x86_64 machine.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
}

const DEFAULT_MODEL_MEMORY = 5120;

export class PipelineFunctions extends Construct {
  /** Every handler's function, by handler name. */
  readonly functions: Readonly<Record<HandlerName, nodejs.NodejsFunction>>;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    const modelMemorySize = props.modelMemorySize ?? DEFAULT_MODEL_MEMORY;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const repoRoot = findRepoRoot();
    const lambdasDir = path.resolve(props.lambdasDir ?? path.join(repoRoot, 'lambdas'));
    const depsLockFilePath = path.resolve(props.depsLockFilePath ?? path.join(repoRoot, 'package-lock.json'));

    const v = new Violations('PipelineFunctions');
    v.check(
      !Number.isInteger(modelMemorySize) || modelMemorySize < LAMBDA_MEMORY_MIN_FOR_MODEL || modelMemorySize > LAMBDA_MEMORY_MAX,
      `modelMemorySize must be an integer from ${LAMBDA_MEMORY_MIN_FOR_MODEL} to ${LAMBDA_MEMORY_MAX} MB (got ${shown(modelMemorySize)})`,
    );
    for (const name of Object.keys(props.entryOverrides ?? {})) {
      v.check(
        !(HANDLER_NAMES as readonly string[]).includes(name),
        `entryOverrides names unknown handler ${shown(name)}: handlers are ${HANDLER_NAMES.join(', ')}`,
      );
    }
    v.check(!existsSync(depsLockFilePath), `depsLockFilePath ${shown(depsLockFilePath)} does not exist`);
    v.throwIfAny();

    const entries = Object.fromEntries(
      HANDLER_NAMES.map((name) => [name, path.resolve(props.entryOverrides?.[name] ?? path.join(lambdasDir, name, 'handler.ts'))]),
    ) as Record<HandlerName, string>;
    const missing = HANDLER_NAMES.filter((name) => !existsSync(entries[name]));
    if (missing.length > 0) {
      throw new ValidationError(
        `PipelineFunctions: entry file missing for handler(s) ${missing.map((n) => `${n} (${entries[n]})`).join(', ')}: ` +
          `write lambdas/<name>/handler.ts exporting "handler", or pass entryOverrides`,
      );
    }

    const functions = {} as Record<HandlerName, nodejs.NodejsFunction>;
    for (const name of HANDLER_NAMES) {
      const spec = HANDLER_SPECS[name];
      const fn = this.renderFunction(name, {
        entry: entries[name],
        depsLockFilePath,
        memorySize: spec.memorySize ?? modelMemorySize,
        logRetention,
        architecture: props.architecture ?? lambda.Architecture.ARM_64,
      });
      grantPrefixAccess(props.artifacts, fn, HANDLER_ACCESS[name]);
      functions[name] = fn;
    }
    this.functions = functions;
  }

  /** The functions the state machine invokes (all but start-run, which starts the state machine). */
  get pipelineFunctions(): nodejs.NodejsFunction[] {
    return HANDLER_NAMES.filter((n) => n !== 'start-run').map((n) => this.functions[n]);
  }

  /** Lets `grantee` invoke every handler the state machine calls (unqualified ARNs only). */
  grantInvokePipeline(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: this.pipelineFunctions.map((fn) => fn.functionArn),
    });
  }

  private renderFunction(
    name: HandlerName,
    o: { entry: string; depsLockFilePath: string; memorySize: number; logRetention: logs.RetentionDays; architecture: lambda.Architecture },
  ): nodejs.NodejsFunction {
    const spec = HANDLER_SPECS[name];
    const id = pascalCase(name);
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: o.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy, whose
    // logs:* on "*" would reach every log group in the account.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `amad-distill ${name} handler`,
    });
    logGroup.grantWrite(role);

    const fn = new nodejs.NodejsFunction(this, id, {
      entry: o.entry,
      handler: 'handler',
      description: spec.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      // Graviton (the default): ~20 % cheaper per GB-second; the one native addon, ONNX Runtime,
      // ships its binary for this architecture (model-runtimes.ts).
      architecture: o.architecture,
      memorySize: o.memorySize,
      timeout: spec.timeout,
      ephemeralStorageSize: spec.ephemeralStorage,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      depsLockFilePath: o.depsLockFilePath,
      projectRoot: path.dirname(o.depsLockFilePath),
      environment: {
        POWERTOOLS_SERVICE_NAME: `amad-distill-${name}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        // The native tfjs packages are not in the bundle; skip straight to wasm. ONNX Runtime is
        // required, not tried: a bundle without its binary fails at cold start, never silently.
        ...(spec.runsModel ? { AMAD_BACKEND: 'wasm', AMAD_INFERENCE_RUNTIME: 'onnxruntime' } : {}),
      },
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.CJS,
        target: 'node22',
        minify: true,
        // Readable stack traces (file:line) without shipping the sources: the map shrinks ~4×
        // and with it the cold-start cost of --enable-source-maps.
        sourceMap: true,
        sourcesContent: false,
        // Native tfjs backends are optional requires inside try/catch (trainer/backend.ts):
        // leave them unresolved so the bundle falls through to wasm. onnxruntime-node is resolved
        // from the bundle's own node_modules (model-runtimes.ts). The AWS SDK is bundled so
        // the deployed code runs the versions the tests ran, not the runtime's copy.
        externalModules: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', ONNX_RUNTIME_PACKAGE],
        commandHooks: spec.runsModel ? modelRuntimeHooks(o.architecture) : undefined,
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions.',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the project runtime (package engines, the trainer container and the tested toolchain); a newer Lambda runtime is adopted after the suite runs on it.',
    });
    return fn;
  }
}

function pascalCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
