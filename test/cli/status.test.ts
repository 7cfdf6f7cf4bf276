import test from "ava";
import { formatControls, formatInstances, formatResync } from "../../src/cli/status.js";

test("instances: the_leader_and_each_standby_with_address_and_readiness", (t) => {
  t.deepEqual(
    formatInstances([
      { id: "steward-a", address: "http://10.0.0.5:8080", startedAt: "2026-11-25T10:00:00.000Z", ready: true, leading: true },
      { id: "b", address: "http://10.0.0.6:8080", startedAt: "2026-11-25T10:01:00.000Z", ready: false, notReady: "the desired state has not been read yet", leading: false },
    ]),
    [
      "instances:",
      "  leader   steward-a  http://10.0.0.5:8080  up since 2026-11-25T10:00:00.000Z, ready",
      "  standby  b          http://10.0.0.6:8080  up since 2026-11-25T10:01:00.000Z, not ready: the desired state has not been read yet",
    ],
  );
});

test("instances: an_older_daemon_without_the_list_prints_nothing", (t) => {
  t.deepEqual(formatInstances([]), []);
});

test("resync: each_environment_checked_and_the_next_run", (t) => {
  t.deepEqual(formatResync({ lastCheckedByEnv: { qa: "2026-11-25T10:00:00.000Z", prod: "2026-11-25T10:00:01.000Z" }, next: "2026-11-25T10:10:00.000Z" }), [
    "resync: qa checked 2026-11-25T10:00:00.000Z, prod checked 2026-11-25T10:00:01.000Z; next 2026-11-25T10:10:00.000Z",
  ]);
});

test("resync: a_leader_before_its_first_resync_says_so_and_a_standby_prints_nothing", (t) => {
  t.deepEqual(formatResync({ lastCheckedByEnv: {}, next: "2026-11-25T10:10:00.000Z" }), ["resync: no environment checked yet; next 2026-11-25T10:10:00.000Z"]);
  t.deepEqual(formatResync({ lastCheckedByEnv: {} }), []);
  t.deepEqual(formatResync(undefined), []);
});

test("controls: a_frozen_environment_names_who_why_and_since_and_a_pending_retry_names_who", (t) => {
  t.deepEqual(
    formatControls({ frozen: { prod: { by: "ana", reason: "release night", at: "2026-11-25T20:00:00.000Z" } } }, [
      { service: "hello", digest: `sha256:${"a".repeat(64)}`, stage: "qa", by: "bo", reason: "probe was down" },
    ]),
    ["FROZEN: prod by ana (release night) since 2026-11-25T20:00:00.000Z: nothing is deployed there", "gate retry requested: hello sha256:aaaaaaaaaaaa in qa by bo (probe was down)"],
  );
});

test("controls: none_in_force_prints_nothing", (t) => {
  t.deepEqual(formatControls({ paused: false, pausedServices: [], frozen: {} }, []), []);
});
