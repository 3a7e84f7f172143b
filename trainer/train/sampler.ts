/**
 * Which examples make up the batch of a given step: epoch-wise shuffling without replacement,
 * each epoch's order a permutation seeded by (seed, epoch). Being a pure function of the step,
 * it needs no state in a checkpoint and resumes exactly.
 */
import { mixSeeds, Prng } from '../data/prng';

export class StepSampler {
  private cachedEpoch = -1;
  private cachedOrder: Int32Array = new Int32Array(0);

  constructor(
    /** Examples in the split. */
    readonly numExamples: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (numExamples < 1) throw new Error(`StepSampler: the training split is empty (numExamples = ${numExamples})`);
    if (batchSize < 1) throw new Error(`StepSampler: batchSize must be ≥ 1, got ${batchSize}`);
  }

  /** Example indices of step `step` (0-based); batches wrap across epoch boundaries. */
  indices(step: number): number[] {
    const out: number[] = [];
    let pos = step * this.batchSize;
    while (out.length < this.batchSize) {
      const epoch = Math.floor(pos / this.numExamples);
      const order = this.order(epoch);
      out.push(order[pos % this.numExamples]);
      pos++;
    }
    return out;
  }

  private order(epoch: number): Int32Array {
    if (epoch !== this.cachedEpoch) {
      this.cachedOrder = Int32Array.from(new Prng(mixSeeds(this.seed, epoch)).shuffle(Array.from({ length: this.numExamples }, (_, i) => i)));
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }
}
