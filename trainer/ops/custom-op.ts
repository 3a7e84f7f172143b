/**
 * Typed wrapper over `tf.customGrad`: tf types every argument as `Tensor | GradSaveFunc`;
 * here the forward receives its tensor inputs as an array and `save` separately.
 */
import * as tf from '@tensorflow/tfjs';

export interface CustomOpResult {
  value: tf.Tensor;
  /** One gradient per input, in input order. */
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/** Builds an op with a hand-written gradient. Inputs that need gradients (variables too) must be passed as arguments, not captured. */
export function customOp(forward: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => CustomOpResult): (...inputs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return forward(args.slice(0, -1) as tf.Tensor[], save);
  });
  return (...inputs: tf.Tensor[]) => op(...inputs);
}
