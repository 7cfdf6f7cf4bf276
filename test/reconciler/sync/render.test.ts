import test from "ava";
import { canonicalJson, hashSpec, renderDesiredJob } from "../../../src/reconciler/sync/render.js";
import { META } from "../../../src/reconciler/sync/plan.js";
import type { ServiceSpec } from "../../../src/model/types.js";
import { aPolicy } from "../../helpers/builders.js";

const service: ServiceSpec = {
  name: "web",
  file: "services/web/service.yaml",
  jobFile: "services/web/web.nomad.hcl",
  jobHcl: "",
  image: { repository: "r/web" },
  environments: { qa: { variables: {} } },
  sync: aPolicy({ prune: true }),
};
const parsed = {
  ID: "web",
  Meta: { owner: "team-a" },
  TaskGroups: [
    { Name: "web", Count: 2, Scaling: { Min: 1, Max: 10 } },
    { Name: "worker", Count: 1, Scaling: null },
  ],
};

test("key_order_does_not_change_the_hash", (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }), canonicalJson({ a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 1 }));
});

test("rendered_job_carries_steward_meta_and_keeps_users_meta", (t) => {
  const d = renderDesiredJob(service, parsed);
  const meta = d.spec.Meta as Record<string, string>;
  t.is(meta.owner, "team-a");
  t.is(meta[META.managedBy], "steward");
  // The revision is stamped by the register (plan.ts), so an unchanged job renders equal in every revision.
  t.is(meta[META.revision], undefined);
  t.is(meta[META.specHash], d.specHash);
  t.is(meta[META.prune], "true");
  t.deepEqual(d.scaledGroups, ["web"]);
});

test("revision_alone_does_not_change_the_hash", (t) => {
  const at = (revision: string) => ({ ...parsed, Meta: { ...parsed.Meta, [META.revision]: revision } });
  t.is(hashSpec(at("r1"), ["web"]), hashSpec(at("r2"), ["web"]));
  t.is(renderDesiredJob(service, at("r1")).specHash, renderDesiredJob(service, parsed).specHash);
});

test("autoscaled_count_does_not_change_the_hash_but_other_counts_do", (t) => {
  const scaled = structuredClone(parsed);
  scaled.TaskGroups[0]!.Count = 9;
  t.is(hashSpec(scaled, ["web"]), hashSpec(parsed, ["web"]));
  const fixed = structuredClone(parsed);
  fixed.TaskGroups[1]!.Count = 3;
  t.not(hashSpec(fixed, ["web"]), hashSpec(parsed, ["web"]));
});

test("image_change_changes_the_hash", (t) => {
  const a = { ...parsed, TaskGroups: [{ Name: "web", Tasks: [{ Config: { image: "r/web@sha256:aa" } }] }] };
  const b = { ...parsed, TaskGroups: [{ Name: "web", Tasks: [{ Config: { image: "r/web@sha256:bb" } }] }] };
  t.not(hashSpec(a, []), hashSpec(b, []));
});
