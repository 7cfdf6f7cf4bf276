import test from "ava";
import { createLogger } from "../../../src/log.js";
import type { ServiceSpec } from "../../../src/model/types.js";
import { CandidatePoller, pollCandidates, type RegistryReader } from "../../../src/reconciler/promotion/candidates.js";
import type { CandidateSeen } from "../../../src/reconciler/promotion/observe.js";
import { TransientError } from "../../../src/reconciler/core/outcome.js";
import { RegistryNotFoundError } from "../../../src/sources/registry.js";
import { FakeClock, fixedRandom } from "../../helpers/clock.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function service(policy: ServiceSpec["image"]["policy"]): ServiceSpec {
  return {
    name: "hello",
    file: "services/hello/service.yaml",
    jobFile: "services/hello/hello.nomad.hcl",
    jobHcl: "",
    image: { repository: "registry.example/team/hello", ...(policy && { policy }) },
    environments: { qa: { variables: {} } },
    sync: { drift: "heal", adopt: false, prune: false, pruneGracePeriodMs: 0, maxPruneShare: 0.25 },
  };
}

/** A registry that answers from a tag → digest map (or throws what `fail` says). */
function fakeRegistry(tags: Record<string, string>, o: { fail?: () => Error | undefined; calls?: string[] } = {}): RegistryReader {
  return {
    listTags: (repo) => {
      o.calls?.push(`list ${repo}`);
      const err = o.fail?.();
      return err ? Promise.reject(err) : Promise.resolve(Object.keys(tags));
    },
    resolveDigest: (repo, tag) => {
      o.calls?.push(`head ${tag}`);
      const d = tags[tag];
      return d ? Promise.resolve({ digest: d, mediaType: undefined }) : Promise.reject(new RegistryNotFoundError("gone", repo, "MANIFEST_UNKNOWN", "HEAD", tag));
    },
  };
}

const BUILD = { type: "buildNumber" as const, pattern: "^build-(\\d+)$" };

test("candidates_are_the_newest_tags_resolved_newest_first_by_number_not_text", async (t) => {
  const calls: string[] = [];
  const got = await pollCandidates(fakeRegistry({ "build-9": D("9"), "build-10": D("a"), "build-8": D("8"), "build-7": D("7"), latest: D("f") }, { calls }), service(BUILD));
  t.deepEqual(got.map((c) => [c.tag, c.digest]), [["build-10", D("a")], ["build-9", D("9")], ["build-8", D("8")]]);
  t.true(got[0]!.order > got[1]!.order && got[1]!.order > got[2]!.order);
  t.false(calls.includes("head build-7"), "only the newest three are resolved");
});

test("a_repository_registry_2_8_does_not_know_yet_has_no_candidates", async (t) => {
  const err = new RegistryNotFoundError("no such repository", "registry.example/team/hello", "NAME_UNKNOWN", "GET /v2/team/hello/tags/list");
  t.deepEqual(await pollCandidates(fakeRegistry({}, { fail: () => err }), service(BUILD)), []);
});

test("a_tag_deleted_between_the_list_and_its_head_is_left_out", async (t) => {
  const reg = fakeRegistry({ "build-2": D("2") });
  const listing: RegistryReader = { ...reg, listTags: () => Promise.resolve(["build-2", "build-3"]) };
  t.deepEqual((await pollCandidates(listing, service(BUILD))).map((c) => c.tag), ["build-2"]);
});

test("a_digest_policy_needs_no_registry_call", async (t) => {
  const calls: string[] = [];
  t.deepEqual(await pollCandidates(fakeRegistry({}, { calls }), service({ type: "digest", digest: D("c") })), [{ digest: D("c"), order: 0 }]);
  t.deepEqual(calls, []);
});

test("a_failing_registry_is_backed_off_keeps_no_false_candidates_and_a_notification_polls_at_once", async (t) => {
  const clock = new FakeClock();
  let failing: Error | undefined = new TransientError("503", { endpoint: "GET /v2/team/hello/tags/list" }, 5_000);
  const calls: string[] = [];
  const seen: CandidateSeen[][] = [];
  const poller = new CandidatePoller({
    registry: fakeRegistry({ "build-1": D("1") }, { fail: () => failing, calls }),
    onCandidates: (_s, list) => seen.push(list),
    logger: createLogger({ level: "silent" }),
    intervalMs: 60_000,
    backoffBaseMs: 1_000,
    backoffCapMs: 30_000,
    clock,
    random: fixedRandom(0),
  });
  poller.setServices([service(BUILD)]);
  await clock.advance(0);
  t.deepEqual(seen, [], "a failed poll delivers nothing");
  t.is(poller.states().get("hello")?.failures, 1);
  t.deepEqual(clock.pendingDelays(), [5_000], "never sooner than Retry-After");
  await clock.advance(5_000);
  t.is(poller.states().get("hello")?.failures, 2);
  t.true(clock.pendingDelays()[0]! >= 5_000);
  failing = undefined;
  poller.trigger("hello");
  await clock.advance(0);
  t.deepEqual(seen.at(-1)?.map((c) => c.tag), ["build-1"]);
  t.is(poller.states().get("hello")?.failures, 0);
  t.deepEqual(clock.pendingDelays(), [60_000], "back to the interval");
  await poller.stop();
});

test("a_notified_digest_not_listed_yet_is_listed_again_soon_until_it_shows", async (t) => {
  const clock = new FakeClock();
  const tags: Record<string, string> = { "build-1": D("1") };
  const seen: CandidateSeen[][] = [];
  const poller = new CandidatePoller({ registry: fakeRegistry(tags), onCandidates: (_s, l) => seen.push(l), logger: createLogger({ level: "silent" }), intervalMs: 60_000, clock });
  poller.setServices([service(BUILD)]);
  await clock.advance(0);
  poller.trigger("hello", D("2"));
  await clock.advance(0);
  t.deepEqual(clock.pendingDelays(), [100], "build-2 is not listed yet: again in 100 ms");
  tags["build-2"] = D("2");
  await clock.advance(100);
  t.deepEqual(seen.at(-1)?.map((c) => c.tag), ["build-2", "build-1"]);
  t.deepEqual(clock.pendingDelays(), [60_000]);
  t.deepEqual(poller.servicesFor("team/hello"), ["hello"], "the registry names the repository without its host");
  await poller.stop();
});
