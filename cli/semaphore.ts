/** A counting semaphore: at most `limit` holders at once, FIFO. The limit may change while in use. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Semaphore limit must be an integer ≥ 1, got ${limit}`);
  }

  /** Changes the limit (e.g. once the run plan says how many jobs may run). */
  setLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Semaphore limit must be an integer ≥ 1, got ${limit}`);
    this.limit = limit;
    this.drain();
  }

  /** Runs `fn` while holding one permit. */
  async use<T>(fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.drain();
    });
    try {
      return await fn();
    } finally {
      this.active--;
      this.drain();
    }
  }

  /** Holders right now (for tests and the display). */
  get inUse(): number {
    return this.active;
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}
