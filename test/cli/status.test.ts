import test from "ava";
import { formatInstances } from "../../src/cli/status.js";

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
