// The real `prometheus` binary (Debian's package) on a free loopback port,
// with a given config and a temp TSDB, for end-to-end tests.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { PROMETHEUS_BIN, assertInstalled, freePort } from "./fixture.js";

/** A running Prometheus. */
export interface PrometheusProcess {
  url: string;
  /** The temp dir holding the config, the files it names, and the TSDB. */
  dir: string;
  /** What the process printed so far (for failure messages). */
  output(): string;
  /** `GET /api/v1/query`: the result vector, or throws with Prometheus's error. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Writes `config(dir)` as prometheus.yml in a temp dir (so the config can
 * name files there), starts Prometheus on a free 127.0.0.1 port and waits
 * for /-/ready. Fails with a clear message when the package is missing.
 */
export async function startPrometheus(config: (dir: string) => Promise<Record<string, unknown>>): Promise<PrometheusProcess> {
  assertInstalled(PROMETHEUS_BIN, "prometheus");
  const dir = await mkdtemp(path.join(tmpdir(), "steward-prometheus-"));
  const file = path.join(dir, "prometheus.yml");
  await writeFile(file, stringify(await config(dir)));
  const port = await freePort();
  const child = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${file}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`prometheus exited with ${child.exitCode} before it was ready:\n${output}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    output: () => output,
    stop,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
      if (body.status !== "success") throw new Error(`query ${expr}: ${body.error ?? res.status}`);
      if (body.data?.resultType !== "vector") throw new Error(`query ${expr}: a ${body.data?.resultType} instead of a vector`);
      return body.data.result as { metric: Record<string, string>; value: [number, string] }[];
    },
  };
}
