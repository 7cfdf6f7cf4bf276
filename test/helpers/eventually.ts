/**
 * Retries `check` until it stops throwing (or returns a truthy value), or
 * `timeoutMs` passes; then rethrows the last failure. Use instead of sleeps.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = new Error("eventually: never ran");
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== false && v !== undefined && v !== null) return v;
      last = new Error(`eventually: check returned ${String(v)}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw last;
}
