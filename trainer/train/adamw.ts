/**
 * AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient, applied
 * only to matrices (rank ≥ 2: projections, embeddings), not to biases or LayerNorm gains — the
 * split nanoGPT's configure_optimizers makes. Written here rather than using tf.train.adam
 * because tfjs has no decoupled decay, and because owning the moments makes the optimizer state
 * an ordinary list of named tensors for checkpoints (bit-identical resume).
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  /** @default 0.9 */
  readonly beta1?: number;
  /** @default 0.999 */
  readonly beta2?: number;
  /** @default 1e-8 */
  readonly epsilon?: number;
  /** Decoupled weight decay coefficient (multiplied by the step's lr). @default 0.01 */
  readonly weightDecay?: number;
}

export class AdamW {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private readonly decays: boolean[];
  /** Number of updates applied so far (Adam's bias correction uses it). */
  stepCount = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;

  constructor(
    readonly variables: readonly tf.Variable[],
    opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    // Moments are not trainable and must not clash with the model's variable names.
    // (tidy frees the zeros; variables survive tidy.)
    this.m = variables.map((w) => tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
    this.v = variables.map((w) => tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
    this.decays = variables.map((w) => w.rank >= 2);
  }

  /** Applies one update with learning rate `lr`; `grads[i]` belongs to `variables[i]`. */
  apply(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.variables.length) {
      throw new Error(`AdamW.apply: got ${grads.length} gradients for ${this.variables.length} variables`);
    }
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      for (let i = 0; i < this.variables.length; i++) {
        const w = this.variables[i];
        const g = grads[i];
        const m = this.m[i].mul(this.beta1).add(g.mul(1 - this.beta1));
        const v = this.v[i].mul(this.beta2).add(g.square().mul(1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        // w ← w − lr·(m̂ / (√v̂ + ε)) − lr·λ·w   (decay decoupled from the adaptive step)
        let update = m.div(bc1).div(v.div(bc2).sqrt().add(this.epsilon)).mul(lr);
        if (this.decays[i] && this.weightDecay > 0) update = update.add(w.mul(lr * this.weightDecay));
        w.assign(w.sub(update));
      }
    });
  }

  /** Moments as named tensors (names follow the variables' checkpoint names). */
  getState(names: readonly string[]): { name: string; tensor: tf.Tensor }[] {
    return this.variables.flatMap((_, i) => [
      { name: `adamw/m/${names[i]}`, tensor: this.m[i] as tf.Tensor },
      { name: `adamw/v/${names[i]}`, tensor: this.v[i] as tf.Tensor },
    ]);
  }

  /** Restores moments saved by `getState` and the step count. */
  setState(names: readonly string[], state: Record<string, tf.Tensor>, stepCount: number): void {
    names.forEach((n, i) => {
      for (const [kind, vars] of [['m', this.m], ['v', this.v]] as const) {
        const saved = state[`adamw/${kind}/${n}`];
        if (!saved) throw new Error(`checkpoint has no optimizer state "adamw/${kind}/${n}": it was written by another model or optimizer`);
        vars[i].assign(saved);
      }
    });
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (as torch.nn.utils.clip_grad_norm_).
 * Returns the clipped gradients (new tensors) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const normT = tf.tidy(() => tf.addN(grads.map((g) => g.square().sum())).sqrt());
  const norm = normT.dataSync()[0];
  normT.dispose();
  if (!(maxNorm > 0) || !Number.isFinite(norm) || norm <= maxNorm) return { grads: grads.map((g) => g.clone()), norm };
  const scale = maxNorm / (norm + 1e-6);
  return { grads: grads.map((g) => tf.tidy(() => g.mul(scale))), norm };
}
