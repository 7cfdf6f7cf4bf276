import test from "ava";
import {
  buildVerifyJob,
  httpObservation,
  nextPrometheusObservation,
  verifyJobId,
  verifyObservation,
  type BatchAllocState,
} from "../../../src/reconciler/promotion/gate-observations.js";

const T = Date.UTC(2026, 0, 1);
const D = `sha256:${"0123456789ab".repeat(5)}abcd`;

test("http: a status is an answer, an error is kept as said", (t) => {
  t.deepEqual(httpObservation({ status: 503 }, T), { kind: "http", at: T, status: 503 });
  t.deepEqual(httpObservation({ error: "GET /health: ECONNREFUSED" }, T), { kind: "http", at: T, error: "GET /health: ECONNREFUSED" });
});

type Prom = ReturnType<typeof nextPrometheusObservation>;
const promRows: Array<{ name: string; prev?: Prom; result: { value: number } | { error: string }; want: { value?: number; error?: string; belowSince: number | undefined } }> = [
  { name: "first_value_below_starts_the_run", result: { value: 0.1 }, want: { value: 0.1, belowSince: T } },
  { name: "still_below_keeps_the_run_start", prev: { kind: "prometheus", at: T - 15_000, value: 0.2, belowSince: T - 60_000 }, result: { value: 0.3 }, want: { belowSince: T - 60_000 } },
  { name: "value_at_threshold_is_not_below", prev: { kind: "prometheus", at: T - 15_000, value: 0.2, belowSince: T - 60_000 }, result: { value: 0.5 }, want: { value: 0.5, belowSince: undefined } },
  { name: "value_above_breaks_the_run", prev: { kind: "prometheus", at: T - 15_000, value: 0.2, belowSince: T - 60_000 }, result: { value: 3 }, want: { belowSince: undefined } },
  { name: "nan_is_never_below", result: { value: NaN }, want: { belowSince: undefined } },
  { name: "error_breaks_the_run", prev: { kind: "prometheus", at: T - 15_000, value: 0.2, belowSince: T - 60_000 }, result: { error: "no series" }, want: { error: "no series", belowSince: undefined } },
  { name: "below_after_an_error_starts_a_new_run", prev: { kind: "prometheus", at: T - 15_000, error: "timeout" }, result: { value: 0 }, want: { belowSince: T } },
  { name: "negative_infinity_is_below", result: { value: -Infinity }, want: { belowSince: T } },
];
for (const row of promRows) {
  test(`prometheus: ${row.name}`, (t) => {
    const got = nextPrometheusObservation(row.prev, row.result, T, 0.5);
    t.is(got.at, T);
    t.is(got.belowSince, row.want.belowSince);
    if ("value" in row.want) t.is(got.value, row.want.value);
    if ("error" in row.want) t.is(got.error, row.want.error);
  });
}

const terminated = (code: number, detail = true): { Type: string; ExitCode: number; Details: Record<string, string> } => ({
  Type: "Terminated",
  ExitCode: code,
  Details: detail ? { exit_code: String(code) } : {},
});
const alloc = (group: string, createIndex: number, status: string, code?: number, detail = true): BatchAllocState => ({
  TaskGroup: group,
  CreateIndex: createIndex,
  ClientStatus: status,
  TaskStates: { t: { Failed: status === "failed", Events: code === undefined ? [] : [{ Type: "Started" }, terminated(code, detail)] } },
});

const verifyRows: Array<{ name: string; job?: { Status: string; Stop?: boolean }; allocs: BatchAllocState[]; want: { status: string; exitCode?: number } }> = [
  { name: "job_not_seen_is_pending", allocs: [], want: { status: "pending" } },
  { name: "pending_job_is_pending", job: { Status: "pending" }, allocs: [], want: { status: "pending" } },
  { name: "running_job_is_running", job: { Status: "running" }, allocs: [alloc("t", 10, "running")], want: { status: "running" } },
  { name: "dead_with_every_group_complete_exited_0", job: { Status: "dead" }, allocs: [alloc("a", 10, "complete", 0), alloc("b", 11, "complete", 0)], want: { status: "dead", exitCode: 0 } },
  { name: "dead_with_a_failed_task_exits_its_code", job: { Status: "dead" }, allocs: [alloc("a", 10, "complete", 0), alloc("b", 11, "failed", 3)], want: { status: "dead", exitCode: 3 } },
  { name: "rescheduled_alloc_that_passed_decides", job: { Status: "dead" }, allocs: [alloc("a", 10, "failed", 1), alloc("a", 20, "complete", 0)], want: { status: "dead", exitCode: 0 } },
  { name: "rescheduled_alloc_that_failed_again_decides", job: { Status: "dead" }, allocs: [alloc("a", 20, "failed", 2), alloc("a", 10, "failed", 1)], want: { status: "dead", exitCode: 2 } },
  { name: "exit_code_read_from_the_field_when_details_lack_it", job: { Status: "dead" }, allocs: [alloc("a", 10, "failed", 7, false)], want: { status: "dead", exitCode: 7 } },
  { name: "lost_alloc_has_no_exit_code", job: { Status: "dead" }, allocs: [alloc("a", 10, "lost")], want: { status: "dead" } },
  { name: "stopped_job_has_no_exit_code", job: { Status: "dead", Stop: true }, allocs: [alloc("a", 10, "complete", 0)], want: { status: "dead" } },
  { name: "dead_without_allocs_has_no_exit_code", job: { Status: "dead" }, allocs: [], want: { status: "dead" } },
];
for (const row of verifyRows) {
  test(`verify: ${row.name}`, (t) => {
    t.deepEqual(verifyObservation(row.job, row.allocs), { kind: "verify", ...row.want });
  });
}

test("verify job ID: the base and the digest's first 12 hex digits, the same every time", (t) => {
  t.is(verifyJobId("web-tests", D), "web-tests-0123456789ab");
  t.is(verifyJobId("web-tests", D), verifyJobId("web-tests", D));
  t.is(verifyJobId("web-tests", D, 2), "web-tests-0123456789ab-2", "a retried gate runs the tests in a job of its own");
});

test("verify job: a registered template is copied runnable, pinned to the digest, server fields dropped", (t) => {
  const template = {
    ID: "web-tests",
    Name: "web-tests",
    Type: "batch",
    Status: "running",
    Version: 3,
    JobModifyIndex: 40,
    Stop: true,
    ParameterizedJob: { Payload: "optional" },
    Meta: { team: "web" },
    TaskGroups: [
      {
        Name: "t",
        Tasks: [
          { Name: "suite", Config: { image: "127.0.0.1:5000/web:build-1" } },
          { Name: "db", Config: { image: "postgres:16" } },
          { Name: "other", Config: { image: "127.0.0.1:5000/web-other:1" } },
        ],
      },
    ],
  };
  const image = `127.0.0.1:5000/web@${D}`;
  const job = buildVerifyJob(template, { id: "web-tests-0123456789ab", image, service: "web", digest: D, from: "web-tests" });
  t.like(job, { ID: "web-tests-0123456789ab", Name: "web-tests-0123456789ab", Stop: false, ParameterizedJob: null, Periodic: null, Type: "batch" });
  t.deepEqual(job.Meta, { team: "web", image, "steward.verify-for": `web@${D}` });
  for (const f of ["Status", "Version", "JobModifyIndex"]) t.false(f in job, f);
  const tasks = (job.TaskGroups as Array<{ Tasks: Array<{ Config: { image: string } }> }>)[0]?.Tasks.map((x) => x.Config.image);
  t.deepEqual(tasks, [image, "postgres:16", "127.0.0.1:5000/web-other:1"]);
});

test("verify job: a service job is refused, naming it", (t) => {
  t.throws(() => buildVerifyJob({ ID: "web", Type: "service" }, { id: "x", image: `r@${D}`, service: "web", digest: D, from: "web" }), {
    message: 'verification job web is a service job; it must be a batch job (type = "batch")',
  });
});
