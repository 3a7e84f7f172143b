/**
 * One row per Lambda handler: how big it is and how long it may run. Sizes come from what
 * each stage does (see docs/DESIGN.md, "The pipeline"); the model handlers are sized by the
 * `PipelineFunctions` `modelMemorySize` prop instead.
 */
import { Duration, Size } from 'aws-cdk-lib';

export const HANDLER_NAMES = [
  'validate',
  'prepare-data',
  'prepare-plan',
  'prepare-vocabulary',
  'prepare-chunk',
  'cache-teacher',
  'evaluate',
  'merge-eval',
  'select-candidates',
  'report',
  'failure',
  'start-run',
  'request-failed',
] as const;

export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Handlers the state machine does not invoke: they start runs or report requests that failed to. */
export const OUTSIDE_STATE_MACHINE: readonly HandlerName[] = ['start-run', 'request-failed'];

export interface HandlerSpec {
  readonly description: string;
  /** MB; undefined = the `modelMemorySize` prop (handlers that run the tfjs model). */
  readonly memorySize?: number;
  readonly timeout: Duration;
  /** /tmp size; the Lambda default is 512 MiB. */
  readonly ephemeralStorage?: Size;
  /**
   * Runs a model (ONNX Runtime, TensorFlow.js wasm as the fallback): onnxruntime-node with the
   * binary of the function's architecture ships in the bundle's node_modules and the tfjs .wasm
   * binaries next to the bundle (infra/functions/model-runtimes.ts).
   */
  readonly runsModel: boolean;
}

export const HANDLER_SPECS: Readonly<Record<HandlerName, HandlerSpec>> = {
  validate: {
    description: 'Validates a job spec and writes the normalised runs/<id>/spec.json',
    memorySize: 512,
    timeout: Duration.minutes(1),
    runsModel: false,
  },
  'prepare-data': {
    description: 'Merges the prepared chunks into the manifest of a run (or prepares a small dataset whole)',
    // Image decoding + tokenising a split in memory; 3008 MB ≈ 1.7 vCPU.
    memorySize: 3008,
    timeout: Duration.minutes(15),
    ephemeralStorage: Size.gibibytes(4),
    runsModel: false,
  },
  'prepare-plan': {
    description: 'Lists a data source (large JSON streamed) and cuts it into chunks of whole images',
    // Holds the texts of every example (not pixels, not the JSON files): O(examples).
    memorySize: 3008,
    timeout: Duration.minutes(15),
    runsModel: false,
  },
  'prepare-vocabulary': {
    description: 'Builds the tokenizer and VQA answer classes from the training chunks',
    memorySize: 3008,
    timeout: Duration.minutes(15),
    runsModel: false,
  },
  'prepare-chunk': {
    description: 'Decodes one chunk of images and writes its image and example shards',
    // A chunk holds at most chunkShards × shardSize records and their images (twice, while the
    // image shard is encoded). Same limits as prepare-data: the placement planner sizes chunks by them.
    memorySize: 3008,
    timeout: Duration.minutes(15),
    ephemeralStorage: Size.gibibytes(4),
    runsModel: false,
  },
  'cache-teacher': {
    description: "Caches the teacher's selected attention maps and logits for one shard",
    timeout: Duration.minutes(15),
    ephemeralStorage: Size.gibibytes(2),
    runsModel: true,
  },
  evaluate: {
    description: 'Evaluates one model on one test shard',
    timeout: Duration.minutes(15),
    ephemeralStorage: Size.gibibytes(2),
    runsModel: true,
  },
  'merge-eval': {
    description: 'Merges per-shard evaluation parts into eval/<model>.json and measures latency once per architecture',
    // Sized like the model handlers: the latency pass runs every distinct architecture serially
    // on both runtimes, and a fractional vCPU (1024 MB ≈ 0.6) would time CPU throttling.
    timeout: Duration.minutes(15),
    runsModel: true,
  },
  'select-candidates': {
    description: 'Scores candidate students on the validation split and chooses one per student (selection/selection.json)',
    memorySize: 1024,
    timeout: Duration.minutes(5),
    runsModel: false,
  },
  report: {
    description: 'Writes the HTML report and metrics.json of a run',
    memorySize: 2048,
    timeout: Duration.minutes(5),
    // It loads the models to draw their attention maps (trainer/stages/report.ts).
    runsModel: true,
  },
  failure: {
    description: 'Records failure.json (what failed, which stages were kept) for a failed run',
    memorySize: 512,
    timeout: Duration.minutes(1),
    runsModel: false,
  },
  'start-run': {
    description: 'Starts a state machine execution for a DistillationRequested event or a jobs/*.json upload',
    memorySize: 256,
    timeout: Duration.seconds(30),
    runsModel: false,
  },
  'request-failed': {
    description: "Records and notifies run requests that start-run could not start (its on-failure destination's consumer)",
    memorySize: 256,
    timeout: Duration.seconds(30),
    runsModel: false,
  },
};
