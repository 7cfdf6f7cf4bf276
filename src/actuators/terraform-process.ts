import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** How one `terraform` child process is run. */
export interface ProcessSpec {
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Real ms until the process is interrupted (SIGINT). */
  timeoutMs: number;
  /** Real ms after the interrupt until it is killed (SIGKILL), when it has not exited by then. */
  graceMs: number;
  /** Aborting interrupts the process the same way a timeout does. */
  signal?: AbortSignal;
  /** Called with each stdout line, in order, as it arrives. */
  onLine(line: string): void;
}

/** How the process ended. */
export interface ProcessExit {
  /** Exit status; null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if any (`SIGKILL` after an ignored interrupt). */
  exitSignal: NodeJS.Signals | null;
  /** The deadline passed and the process was interrupted. */
  timedOut: boolean;
  /** The caller's signal aborted it. */
  aborted: boolean;
  /** It did not exit within the grace period after the interrupt and was killed. */
  killed: boolean;
  /** The last few KiB of stderr (Terraform writes flag errors there, before `-json` applies). */
  stderrTail: string;
  durationMs: number;
}

/** How much of stderr is kept for error messages. */
const STDERR_TAIL_BYTES = 8 * 1024;

/**
 * Runs one process and streams its stdout by line. At the deadline (or on
 * abort) it sends SIGINT, which Terraform treats as Ctrl-C: it asks the
 * provider to stop, cancels the in-flight API calls, writes what it applied
 * to the state and releases the state lock. Only if that takes longer than
 * `graceMs` does SIGKILL follow; a local state lock (fcntl) dies with the
 * process, a remote one may then need `terraform force-unlock`.
 *
 * The child gets its own process group, and both signals go to the group, as
 * a terminal's Ctrl-C would: the provider plugins (which ignore SIGINT, and
 * are stopped by Terraform over RPC) must not outlive a SIGKILL.
 * @throws the spawn error when the binary cannot be started (ENOENT: not found)
 */
export function runProcess(spec: ProcessSpec): Promise<ProcessExit> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(spec.binary, spec.args, { env: spec.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stderr = "";
    let timedOut = false;
    let aborted = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const interrupt = (): void => {
      if (killTimer) return;
      signalGroup("SIGINT");
      killTimer = setTimeout(() => {
        killed = true;
        signalGroup("SIGKILL");
      }, spec.graceMs);
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      interrupt();
    }, spec.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      interrupt();
    };
    if (spec.signal?.aborted) onAbort();
    else spec.signal?.addEventListener("abort", onAbort, { once: true });

    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on("line", (l) => spec.onLine(l));
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });

    const cleanup = (): void => {
      clearTimeout(deadline);
      if (killTimer) clearTimeout(killTimer);
      spec.signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (err) => {
      cleanup();
      reject(err);
    });
    // 'close' (not 'exit') fires after stdout is drained, so every line has been seen.
    child.on("close", (code, exitSignal) => {
      cleanup();
      resolve({ code, exitSignal, timedOut, aborted, killed, stderrTail: stderr, durationMs: Math.round(performance.now() - started) });
    });
  });
}
