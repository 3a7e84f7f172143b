/**
 * Creation of the model's tf.Variables with deterministic, seeded initialisation and stable names.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../ops/dropout';

/** Std of the truncated-normal init of weight matrices, embeddings and positions (BERT/GPT-2). */
export const INIT_STD = 0.02;

export interface LinearParams {
  readonly w: tf.Variable<tf.Rank.R2>; // [in, out]
  readonly b: tf.Variable<tf.Rank.R1>; // [out]
}
export interface LayerNormParams {
  readonly gamma: tf.Variable<tf.Rank.R1>; // [D]
  readonly beta: tf.Variable<tf.Rank.R1>; // [D]
}

/** Creates variables named `<prefix>/<name>` and records them in creation order. */
export class ParamStore {
  private readonly entries: { name: string; tensor: tf.Variable }[] = [];

  constructor(
    private readonly prefix: string,
    private readonly seed: number,
  ) {}

  /** Variables in creation order, with names relative to the prefix. */
  get named(): readonly { name: string; tensor: tf.Variable }[] {
    return this.entries;
  }

  private add<R extends tf.Rank>(name: string, init: () => tf.Tensor): tf.Variable<R> {
    const value = init();
    const v = tf.variable(value, true, `${this.prefix}/${name}`) as tf.Variable<R>;
    value.dispose();
    this.entries.push({ name, tensor: v });
    return v;
  }

  /** Truncated normal(0, INIT_STD), seeded by the model seed and the variable's index. */
  normal<R extends tf.Rank>(name: string, shape: number[]): tf.Variable<R> {
    const seed = deriveSeed(this.seed, this.entries.length);
    return this.add<R>(name, () => tf.truncatedNormal(shape, 0, INIT_STD, 'float32', seed));
  }

  zeros<R extends tf.Rank>(name: string, shape: number[]): tf.Variable<R> {
    return this.add<R>(name, () => tf.zeros(shape));
  }

  ones<R extends tf.Rank>(name: string, shape: number[]): tf.Variable<R> {
    return this.add<R>(name, () => tf.ones(shape));
  }

  linear(name: string, inSize: number, outSize: number): LinearParams {
    return { w: this.normal(`${name}/w`, [inSize, outSize]), b: this.zeros(`${name}/b`, [outSize]) };
  }

  layerNorm(name: string, size: number): LayerNormParams {
    return { gamma: this.ones(`${name}/gamma`, [size]), beta: this.zeros(`${name}/beta`, [size]) };
  }
}
