// The child-process mechanics under TerraformRunner, with small shell scripts
// in place of terraform: lines in order, interrupt at the deadline, kill of
// the whole process group after the grace period. Fast; no terraform needed.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runProcess, type ProcessSpec } from "../../src/actuators/terraform-process.js";
import { eventually } from "../helpers/eventually.js";

function sh(script: string, over: Partial<ProcessSpec> = {}): { lines: string[]; run: ReturnType<typeof runProcess> } {
  const lines: string[] = [];
  const run = runProcess({ binary: "/bin/sh", args: ["-c", script], env: process.env, timeoutMs: 10_000, graceMs: 5_000, onLine: (l) => lines.push(l), ...over });
  return { lines, run };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("every_stdout_line_arrives_in_order_even_without_a_final_newline", async (t) => {
  const { lines, run } = sh("printf '{\"a\":1}\\n{\"b\":2}\\nlast'; echo oops >&2; exit 3");
  const exit = await run;
  t.deepEqual(lines, ['{"a":1}', '{"b":2}', "last"]);
  t.like(exit, { code: 3, timedOut: false, killed: false, aborted: false });
  t.is(exit.stderrTail, "oops\n");
});

test("the_deadline_interrupts_and_a_process_that_stops_is_not_killed", async (t) => {
  const { run } = sh("trap 'echo interrupted; exit 130' INT; while :; do sleep 0.05; done", { timeoutMs: 300 });
  const exit = await run;
  t.like(exit, { code: 130, timedOut: true, killed: false });
  t.true(exit.durationMs < 5_000, `stopped at the interrupt (${exit.durationMs} ms)`);
});

test("a_process_ignoring_the_interrupt_is_killed_with_its_children_after_the_grace_period", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "steward-proc-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = path.join(dir, "child.pid");
  // The grandchild stands for a provider plugin: it must not outlive the kill.
  const { run } = sh(`trap '' INT; sleep 300 & echo $! > ${pidFile}; wait`, { timeoutMs: 300, graceMs: 300 });
  const exit = await run;
  t.like(exit, { timedOut: true, killed: true, exitSignal: "SIGKILL" });
  const child = Number(readFileSync(pidFile, "utf8").trim());
  await eventually(() => !alive(child), { timeoutMs: 5_000 });
  t.false(alive(child));
});

test("aborting_interrupts_like_the_deadline", async (t) => {
  const ac = new AbortController();
  // Abort once the script has set its trap and said so.
  const { run } = sh("trap 'exit 130' INT; echo ready; while :; do sleep 0.05; done", { signal: ac.signal, onLine: (l) => l === "ready" && ac.abort() });
  const exit = await run;
  t.like(exit, { code: 130, aborted: true, timedOut: false });
});

test("a_missing_binary_rejects_with_enoent", async (t) => {
  await t.throwsAsync(runProcess({ binary: "/nonexistent/terraform", args: [], env: process.env, timeoutMs: 1000, graceMs: 1000, onLine: () => undefined }), { code: "ENOENT" });
});
