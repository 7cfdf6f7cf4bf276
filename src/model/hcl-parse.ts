import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { HCL_WORKER_IDLE_MS } from "../config/defaults.js";

/**
 * The worker's code, plain CommonJS so it needs no loader: it answers
 * `{ id, file, text }` with `{ id, body }` (hcl2json's JSON) or `{ id, error }`
 * (hcl2json's error text, which job-file.ts reads for diagnostics).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { parse } = require(workerData.module);
parentPort.on("message", async ({ id, file, text }) => {
  try {
    parentPort.postMessage({ id, body: await parse(file, text) });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
`;

interface Answer {
  id: number;
  body?: unknown;
  error?: string;
}

interface Waiting {
  resolve: (body: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/**
 * HashiCorp's HCL parser (@cdktf/hcl2json, Go compiled to WebAssembly) in a
 * worker thread. Loading it in the daemon's own thread would cost ~55 MB at
 * import and grow with every file parsed, for good (a WebAssembly memory
 * never shrinks), and each parse would block the event loop. The worker
 * starts at the first call and ends after `idleMs` without one, giving its
 * memory back; calls are answered in order.
 */
export class HclParser {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  /** @param idleMs how long the worker outlives its last answer, in ms */
  constructor(private readonly idleMs: number = HCL_WORKER_IDLE_MS) {}

  /**
   * hcl2json's `parse`: the file's body as JSON.
   * @throws Error with hcl2json's message (`parse config: [file:line,col-col: …]`) when the file does not parse, or when the worker died
   */
  parse(file: string, text: string): Promise<Record<string, unknown>> {
    const worker = this.start();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    // Referenced while a call waits (the process must live to see the answer), unreferenced when idle.
    worker.ref();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, file, text });
    });
  }

  /** Whether the worker thread is alive (it ends after `idleMs` without calls). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Ends the worker now (calls in flight reject). */
  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const w = this.worker;
    this.worker = undefined;
    for (const waiter of this.waiting.values()) waiter.reject(new Error("the HCL parser was closed"));
    this.waiting.clear();
    if (w) await w.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const module = createRequire(import.meta.url).resolve("@cdktf/hcl2json");
    // No execArgv: the worker's code is plain JavaScript and must not load the parent's loaders (tsx).
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module }, execArgv: [] });
    w.on("message", (a: Answer) => this.answer(a));
    w.on("error", (err) => this.fail(w, err));
    w.on("exit", (code) => this.fail(w, new Error(`the HCL parser's worker exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private answer(a: Answer): void {
    const waiter = this.waiting.get(a.id);
    this.waiting.delete(a.id);
    if (waiter) {
      if (a.error !== undefined) waiter.reject(new Error(a.error));
      else waiter.resolve((a.body ?? {}) as Record<string, unknown>);
    }
    if (this.waiting.size === 0 && this.worker) {
      // An idle parser must not keep the process alive.
      this.worker.unref();
      this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private fail(w: Worker, err: Error): void {
    // A worker ended on purpose (idle, close) is no longer current, and the calls waiting are another worker's.
    if (this.worker !== w) return;
    this.worker = undefined;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}

/** The process's HCL parser. */
export const hclParser = new HclParser();
