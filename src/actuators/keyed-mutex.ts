/**
 * One holder at a time per key, in arrival order; different keys never wait
 * for each other. Used to run one Terraform command at a time per working
 * directory, since they share the state, its lock and `.terraform/`.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly holders = new Map<string, number>();

  /** Runs `fn` once every earlier holder of `key` has finished (whether it resolved or threw). */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    this.holders.set(key, (this.holders.get(key) ?? 0) + 1);
    try {
      await prev;
      return await fn();
    } finally {
      release();
      const left = (this.holders.get(key) ?? 1) - 1;
      if (left === 0) this.holders.delete(key);
      else this.holders.set(key, left);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Whether anyone holds or waits for `key`. */
  isBusy(key: string): boolean {
    return this.holders.has(key);
  }
}
