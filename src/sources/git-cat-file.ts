import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { TransientError } from "../reconciler/core/outcome.js";

/** One object as `git cat-file --batch` answers it. */
export interface GitObject {
  /** The object's ID (hex), whatever name it was asked by. */
  oid: string;
  /** `blob`, `tree`, `commit` or `tag`. */
  type: string;
  content: Buffer;
}

type CatFileProcess = ChildProcessByStdio<Writable, Readable, null>;

/**
 * A long-lived `git cat-file --batch` in one repository: objects read by
 * name (an object ID, `<commit>:<path>`, `<commit>^{tree}`) without starting
 * a process per read, which for a daemon of a few hundred MB costs tens of
 * ms of blocked event loop each. Objects fetched after it started are found
 * (git looks for new packs when an object is not found).
 *
 * Reads are served one batch at a time, in order. The process starts on the
 * first read and again after a failure; it never keeps Node running, and it
 * ends when its stdin closes (Steward exits) or on `close()`.
 */
export class GitCatFile {
  private child: CatFileProcess | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param cwd the repository (a bare mirror)
   * @param timeoutMs a batch not answered in full by then fails (and the process is restarted)
   * @param endpoint names the repository in errors
   */
  constructor(
    private readonly cwd: string,
    private readonly timeoutMs: number,
    private readonly endpoint: string,
  ) {}

  /**
   * The objects named, in order; `undefined` for a name git cannot resolve
   * (missing, ambiguous).
   * @throws TransientError when git cannot be run or does not answer in time
   */
  read(names: readonly string[]): Promise<Array<GitObject | undefined>> {
    const next = this.queue.then(() => this.batch(names));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the process (a later read starts another). */
  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }

  private start(): CatFileProcess {
    const child = spawn("git", ["cat-file", "--batch"], { cwd: this.cwd, stdio: ["pipe", "pipe", "ignore"] });
    // Idle, it must not keep the process alive; a read in progress is held by its timeout timer.
    child.unref();
    (child.stdout as Readable & { unref?: () => void }).unref?.();
    (child.stdin as Writable & { unref?: () => void }).unref?.();
    const forget = (): void => {
      if (this.child === child) this.child = undefined;
    };
    child.once("exit", forget);
    child.once("error", forget);
    child.stdin.on("error", forget);
    return child;
  }

  private batch(names: readonly string[]): Promise<Array<GitObject | undefined>> {
    if (names.length === 0) return Promise.resolve([]);
    const child = (this.child ??= this.start());
    return new Promise((resolve, reject) => {
      const out: Array<GitObject | undefined> = [];
      const parser = new BatchParser(names.length, out);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.off("exit", onExit);
        child.off("error", onError);
        if (!err) return resolve(out);
        // Its output is out of step with the requests now: a new process serves the next read.
        child.kill();
        if (this.child === child) this.child = undefined;
        reject(new TransientError(`git cat-file failed: ${err.message}`, { endpoint: this.endpoint }, undefined, { cause: err }));
      };
      const onData = (chunk: Buffer): void => {
        if (parser.push(chunk)) finish();
      };
      const onExit = (code: number | null): void => finish(new Error(`exited (code ${code}) after ${out.length} of ${names.length} objects`));
      const onError = (err: Error): void => finish(err);
      const timer = setTimeout(() => finish(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      child.stdout.on("data", onData);
      child.once("exit", onExit);
      child.once("error", onError);
      child.stdin.write(`${names.join("\n")}\n`);
    });
  }
}

/** Splits `--batch` output, `<oid> <type> <size>` LF `<content>` LF per object (or `<name> missing` LF), as it arrives. */
class BatchParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before parsing can make progress (a large object arrives in many chunks). */
  private need = 1;

  constructor(
    private readonly count: number,
    private readonly out: Array<GitObject | undefined>,
  ) {}

  /** Takes a chunk; true once every object was read. */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need) return false;
    const buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    let pos = 0;
    this.need = 1;
    while (this.out.length < this.count) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) {
        this.need = buf.length - pos + 1;
        break;
      }
      const [oid = "", type = "", size = ""] = buf.toString("latin1", pos, nl).split(" ");
      if (size === "") {
        // `<name> missing` or `<name> ambiguous`: no content follows.
        this.out.push(undefined);
        pos = nl + 1;
        continue;
      }
      const end = nl + 1 + Number(size);
      if (buf.length < end + 1) {
        this.need = end + 1 - pos;
        break;
      }
      // Copied: a slice would keep the whole chunk alive for as long as the file is held.
      this.out.push({ oid, type, content: Buffer.from(buf.subarray(nl + 1, end)) });
      pos = end + 1;
    }
    const rest = buf.subarray(pos);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return this.out.length === this.count;
  }
}
