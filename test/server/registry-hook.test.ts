import test from "ava";
import { hasSharedSecret, parseRegistryNotification, REGISTRY_EVENTS_MEDIA_TYPE, type ManifestPush } from "../../src/server/registry-hook.js";
import { InvalidInputError } from "../../src/model/errors.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

/** An event as distribution 2.8 writes it (fields it sends that Steward ignores included). */
const event = (action: string, target: Record<string, unknown>): Record<string, unknown> => ({
  id: "e1",
  timestamp: "2026-01-01T00:00:00Z",
  action,
  target: { size: 528, length: 528, url: "http://127.0.0.1:5000/v2/team/web/manifests/x", ...target },
  request: { id: "r1", addr: "127.0.0.1:1", host: "127.0.0.1:5000", method: "PUT", useragent: "skopeo" },
  actor: {},
  source: { addr: "host:5000", instanceID: "i" },
});
const envelope = (...events: unknown[]): string => JSON.stringify({ events }, null, "   ");
const push = (repository: string, tag: string, digest: string, mediaType = OCI): ManifestPush => ({ repository, tag, digest, mediaType });

const rows: Array<{ name: string; body: unknown; contentType?: string; want: ManifestPush[] }> = [
  { name: "tagged_manifest_push_kept", body: envelope(event("push", { mediaType: OCI, digest: D1, repository: "team/web", tag: "build-42" })), want: [push("team/web", "build-42", D1)] },
  { name: "docker_v2_manifest_push_kept", body: envelope(event("push", { mediaType: DOCKER, digest: D1, repository: "team/web", tag: "v1.2.0" })), want: [push("team/web", "v1.2.0", D1, DOCKER)] },
  { name: "blob_push_dropped", body: envelope(event("push", { mediaType: "application/octet-stream", digest: D1, repository: "team/web" })), want: [] },
  { name: "manifest_pushed_by_digest_only_dropped", body: envelope(event("push", { mediaType: OCI, digest: D1, repository: "team/web" })), want: [] },
  { name: "manifest_pull_dropped", body: envelope(event("pull", { mediaType: OCI, digest: D1, repository: "team/web", tag: "build-42" })), want: [] },
  { name: "mount_dropped", body: envelope(event("mount", { mediaType: "application/octet-stream", digest: D1, repository: "team/web", fromRepository: "team/api" })), want: [] },
  { name: "delete_dropped", body: envelope(event("delete", { repository: "team/web", tag: "build-1" })), want: [] },
  { name: "schema1_manifest_dropped", body: envelope(event("push", { mediaType: "application/vnd.docker.distribution.manifest.v1+prettyjws", digest: D1, repository: "team/web", tag: "old" })), want: [] },
  {
    name: "several_events_in_order_repeats_dropped",
    body: envelope(
      event("push", { mediaType: OCI, digest: D1, repository: "team/web", tag: "build-1" }),
      event("push", { mediaType: "application/octet-stream", digest: D2, repository: "team/web" }),
      event("push", { mediaType: OCI, digest: D2, repository: "team/web", tag: "build-2" }),
      event("push", { mediaType: OCI, digest: D1, repository: "team/web", tag: "build-1" }),
    ),
    want: [push("team/web", "build-1", D1), push("team/web", "build-2", D2)],
  },
  { name: "empty_events_is_nothing", body: envelope(), want: [] },
  { name: "parsed_object_accepted", body: { events: [event("push", { mediaType: OCI, digest: D1, repository: "a", tag: "t" })] }, want: [push("a", "t", D1)] },
  { name: "bytes_accepted", body: Buffer.from(envelope(event("push", { mediaType: OCI, digest: D1, repository: "a", tag: "t" }))), want: [push("a", "t", D1)] },
  { name: "content_type_with_parameters_accepted", contentType: `${REGISTRY_EVENTS_MEDIA_TYPE}; charset=utf-8`, body: envelope(), want: [] },
  { name: "plain_json_content_type_accepted", contentType: "application/json", body: envelope(), want: [] },
];

for (const row of rows) {
  test(`parseRegistryNotification ${row.name}`, (t) => {
    t.deepEqual(parseRegistryNotification(row.body, row.contentType ?? REGISTRY_EVENTS_MEDIA_TYPE), row.want);
  });
}

const bad: Array<{ name: string; body: unknown; contentType?: string; message: RegExp }> = [
  { name: "not_json_refused", body: "{events:", message: /^registry notification: body is not JSON/ },
  { name: "not_an_envelope_refused", body: JSON.stringify([{ action: "push" }]), message: /is not an envelope \{"events": \[\.\.\.\]\}/ },
  { name: "events_not_an_array_refused", body: JSON.stringify({ events: {} }), message: /is not an envelope/ },
  { name: "event_without_action_refused", body: JSON.stringify({ events: [{ target: {} }] }), message: /events\[0\] is not an event/ },
  { name: "tagged_push_without_repository_refused", body: envelope(event("push", { mediaType: OCI, digest: D1, tag: "t" })), message: /events\[0\] pushes tag t without a repository/ },
  { name: "tagged_push_with_bad_digest_refused", body: envelope(event("push", { mediaType: OCI, digest: "sha256:xyz", repository: "a", tag: "t" })), message: /events\[0\] pushes a:t with digest "sha256:xyz", not sha256/ },
  { name: "other_content_type_refused", contentType: "text/plain", body: envelope(), message: /content type "text\/plain" is not application\/vnd\.docker\.distribution\.events\.v1\+json/ },
];

for (const row of bad) {
  test(`parseRegistryNotification ${row.name}`, (t) => {
    const err = t.throws(() => parseRegistryNotification(row.body, row.contentType), { instanceOf: InvalidInputError });
    t.regex(err?.message ?? "", row.message);
    t.is(err?.context.endpoint, "POST /hooks/registry");
  });
}

const secretRows: Array<{ name: string; headers: Record<string, string | string[] | undefined>; want: boolean }> = [
  { name: "exact_value_accepted", headers: { authorization: "Bearer s3cret" }, want: true },
  { name: "header_name_case_ignored", headers: { Authorization: "Bearer s3cret" }, want: true },
  { name: "one_of_repeated_values_accepted", headers: { authorization: ["Bearer other", "Bearer s3cret"] }, want: true },
  { name: "wrong_value_refused", headers: { authorization: "Bearer s3creT" }, want: false },
  { name: "prefix_of_the_value_refused", headers: { authorization: "Bearer s3cre" }, want: false },
  { name: "longer_value_refused", headers: { authorization: "Bearer s3cret2" }, want: false },
  { name: "missing_header_refused", headers: {}, want: false },
  { name: "undefined_header_refused", headers: { authorization: undefined }, want: false },
];

for (const row of secretRows) {
  test(`hasSharedSecret ${row.name}`, (t) => {
    t.is(hasSharedSecret(row.headers, "Authorization", "Bearer s3cret"), row.want);
  });
}

test("hasSharedSecret: an empty expected secret never authorises, not even an empty header", (t) => {
  t.false(hasSharedSecret({ authorization: "" }, "Authorization", ""));
});
