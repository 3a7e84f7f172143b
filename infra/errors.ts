/**
 * Errors raised while building the CDK app. Each message names the prop (or context key), the
 * rule it broke and the value received, so a failed `cdk synth` says what to change.
 */

/** A construct prop or a context value broke a rule. */
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/**
 * Collects rule violations so that a constructor reports all of them at once
 * (the `errors: string[]` habit of aws-cdk-lib's `validateBucketName`).
 */
export class Violations {
  private readonly messages: string[] = [];

  constructor(private readonly owner: string) {}

  /** Records `message` when `broken` is true. */
  check(broken: boolean, message: string): void {
    if (broken) this.messages.push(message);
  }

  /** Throws one ValidationError listing every recorded violation; no-op when there are none. */
  throwIfAny(): void {
    if (this.messages.length === 0) return;
    throw new ValidationError(`${this.owner}: ${this.messages.join('; ')}`);
  }
}

/** `JSON.stringify` for error messages: shows strings quoted and arrays as arrays. */
export function shown(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
