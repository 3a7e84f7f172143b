/**
 * Input checks for the distillation losses, in the tfjs habit (`util.assert(cond, () => msg)`):
 * the message is built lazily, only when the check fails, and names the function, the argument,
 * what was expected and what arrived.
 */

/** Thrown for malformed loss inputs (wrong ranks, mismatched shapes, bad options). */
export class DistillInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DistillInputError';
  }
}

/** Throws DistillInputError with `message()` when `condition` is false. */
export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new DistillInputError(message());
}

/** `[2,4,5,5]` — shapes in messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
