/**
 * The training loop, explicit and in a straight line (nanoGPT's train.py):
 *   lr → (validate, checkpoint) → loss + gradients → NaN/Inf check → clip → AdamW step → log.
 * It knows nothing of tasks or distillation: the caller supplies the loss closure, the batches
 * and the validation. It serves teacher training and student distillation alike.
 */
import * as tf from '@tensorflow/tfjs';
import { storageFor } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import type { Batch } from '../data/batch';
import { AdamW, clipByGlobalNorm } from './adamw';
import { loadLatestCheckpoint, saveCheckpoint } from './checkpoint';
import { getLr } from './schedule';

/** A trainable tensor with its stable checkpoint name. */
export interface NamedVariable {
  readonly name: string;
  readonly tensor: tf.Variable;
}

/** What one step's loss closure returns: the total to minimise and its parts for the log. */
export interface LossParts {
  readonly total: tf.Scalar;
  readonly parts: Record<string, tf.Scalar>;
}

export interface TrainLoopOptions {
  /** Every trainable tensor, in a stable order, with its checkpoint name. */
  readonly params: readonly NamedVariable[];
  /** Number of optimizer steps of the whole run. */
  readonly steps: number;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  readonly clipNorm: number;
  /** Seed of the run: with the step it determines data order and dropout masks. */
  readonly seed: number;
  /** The batch of a step (a pure function of the step, so resume replays the same data). */
  readonly batchForStep: (step: number) => Batch | Promise<Batch>;
  /** Loss of one batch; called inside the gradient tape. `step` seeds dropout. */
  readonly loss: (batch: Batch, step: number) => LossParts;
  /** Validation: called every `evalEvery` steps and at the end; `score` is higher-is-better. */
  readonly validate?: (step: number) => Promise<{ score: number; metrics: Record<string, number> }>;
  /** @default 0 (only at the end) */
  readonly evalEvery?: number;
  /** Checkpoint folder URI; no checkpoints when absent. */
  readonly checkpointDir?: string;
  /** @default 0 (only at the end and on interruption) */
  readonly checkpointEvery?: number;
  /** Resume from the latest checkpoint in checkpointDir when there is one. @default true */
  readonly resume?: boolean;
  /** Identifies what is trained; a checkpoint with another fingerprint is refused. */
  readonly fingerprint: string;
  /** URI of train-log.jsonl (rewritten at every checkpoint/validation and at the end). */
  readonly logUri?: string;
  /** Extra fields for the log line of a step (e.g. AMAD alignment weights), called after the update. */
  readonly extraLog?: (step: number) => Record<string, unknown> | undefined;
  /** Progress callback (terminal bar, structured logs). */
  readonly onStep?: (info: StepInfo) => void;
  /** Polled between steps; when true the loop checkpoints and throws TrainingInterrupted (SIGTERM). */
  readonly shouldStop?: () => boolean;
}

export interface StepInfo {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly parts: Record<string, number>;
  readonly lr: number;
  readonly msPerStep: number;
  readonly val?: Record<string, number>;
}

export interface TrainResult {
  readonly steps: number;
  readonly resumedFrom: number;
  readonly finalLoss: number;
  readonly bestVal: number | null;
  readonly finalVal?: Record<string, number>;
  readonly log: readonly Record<string, unknown>[];
}

/** The loss or a gradient became NaN/Inf: training stopped before applying the update. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly parts: Record<string, number>,
  ) {
    super(
      `non-finite loss at step ${step} (${Object.entries(parts)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}); the weights of the last checkpoint are kept. Lower the learning rate or raise clipNorm/warmupSteps, then resume`,
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Training stopped on request (SIGTERM) after writing a checkpoint; resume continues it. */
export class TrainingInterrupted extends Error {
  constructor(readonly step: number) {
    super(`training interrupted at step ${step}; a checkpoint was written, re-run to resume`);
    this.name = 'TrainingInterrupted';
  }
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainResult> {
  const names = o.params.map((p) => p.name);
  const variables = o.params.map((p) => p.tensor);
  const optimizer = new AdamW(variables, { weightDecay: o.weightDecay });
  const schedule = { lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps };
  const log: Record<string, unknown>[] = [];
  let startStep = 0;
  let bestVal: number | null = null;

  try {
    if (o.checkpointDir && (o.resume ?? true)) {
      const ckpt = await loadLatestCheckpoint(o.checkpointDir);
      if (ckpt) {
        try {
          if (ckpt.meta.fingerprint !== o.fingerprint) {
            throw new Error(
              `checkpoint in ${o.checkpointDir} was written for another run (fingerprint ${ckpt.meta.fingerprint.slice(0, 80)}…); use a new output folder or delete the checkpoints`,
            );
          }
          o.params.forEach((p) => {
            const t = ckpt.tensors[p.name];
            if (!t) throw new Error(`checkpoint in ${o.checkpointDir} has no tensor "${p.name}"`);
            p.tensor.assign(t);
          });
          optimizer.setState(names, ckpt.tensors, ckpt.meta.optimizerSteps);
          startStep = ckpt.meta.step;
          bestVal = ckpt.meta.bestVal;
          log.push(...(await readLog(o.logUri, startStep)));
        } finally {
          Object.values(ckpt.tensors).forEach((t) => t.dispose());
        }
      }
    }

    const checkpoint = async (step: number) => {
      if (!o.checkpointDir) return;
      await saveCheckpoint(
        o.checkpointDir,
        { step, seed: o.seed, optimizerSteps: optimizer.stepCount, bestVal, fingerprint: o.fingerprint, savedAt: new Date().toISOString() },
        [...o.params.map((p) => ({ name: p.name, tensor: p.tensor as tf.Tensor })), ...optimizer.getState(names)],
      );
      await writeLog(o.logUri, log);
    };

    let finalLoss = NaN;
    let finalVal: Record<string, number> | undefined;
    for (let step = startStep; step < o.steps; step++) {
      if (o.shouldStop?.()) {
        await checkpoint(step);
        throw new TrainingInterrupted(step);
      }
      const t0 = performance.now();
      const lr = getLr(step, schedule);
      const batch = await o.batchForStep(step);

      // Loss and gradients; the parts are kept out of the tape's tidy so they can be logged.
      let parts: Record<string, tf.Scalar> = {};
      const { value, grads } = tf.variableGrads(() => {
        const out = o.loss(batch, step);
        parts = Object.fromEntries(Object.entries(out.parts).map(([k, v]) => [k, tf.keep(v)]));
        return out.total;
      }, variables);
      const loss = (await value.data())[0];
      const partValues = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
      value.dispose();
      Object.values(parts).forEach((t) => t.dispose());
      const gradList = variables.map((v) => grads[v.name]);
      const { grads: clipped, norm } = clipByGlobalNorm(gradList, o.clipNorm);
      Object.values(grads).forEach((g) => g.dispose());
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        clipped.forEach((g) => g.dispose());
        throw new NonFiniteLossError(step, { loss, ...partValues, gradNorm: norm });
      }
      optimizer.apply(clipped, lr);
      clipped.forEach((g) => g.dispose());
      finalLoss = loss;

      const done = step + 1;
      const msPerStep = performance.now() - t0;
      const line: Record<string, unknown> = { step: done, loss, ...prefixKeys('loss.', partValues), lr, gradNorm: norm, msPerStep: Math.round(msPerStep * 10) / 10 };
      const extra = o.extraLog?.(done);
      if (extra) Object.assign(line, extra);
      const isLast = done === o.steps;
      let val: Record<string, number> | undefined;
      if (o.validate && ((o.evalEvery && done % o.evalEvery === 0) || isLast)) {
        const r = await o.validate(done);
        val = r.metrics;
        line.val = r.metrics;
        if (bestVal === null || r.score > bestVal) bestVal = r.score;
        if (isLast) finalVal = r.metrics;
      }
      log.push(line);
      o.onStep?.({ step: done, steps: o.steps, loss, parts: partValues, lr, msPerStep, val });
      if (isLast || (o.checkpointEvery && done % o.checkpointEvery === 0)) await checkpoint(done);
      else if (val) await writeLog(o.logUri, log);
    }
    if (startStep >= o.steps) await writeLog(o.logUri, log);
    return { steps: o.steps, resumedFrom: startStep, finalLoss, bestVal, finalVal, log };
  } finally {
    optimizer.dispose();
  }
}

function prefixKeys(prefix: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [prefix + k, v]));
}

async function writeLog(uri: string | undefined, lines: readonly Record<string, unknown>[]): Promise<void> {
  if (!uri) return;
  await storageFor(uri).put(uri, lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
}

/** Log lines of an earlier attempt up to the resumed step (later ones are replayed). */
async function readLog(uri: string | undefined, upToStep: number): Promise<Record<string, unknown>[]> {
  if (!uri || !(await storageFor(uri).exists(uri))) return [];
  const text = (await storageFor(uri).get(uri)).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l, i) => parseJson(l, `${uri} line ${i + 1}`) as Record<string, unknown>)
    .filter((l) => typeof l.step === 'number' && l.step <= upToStep);
}

