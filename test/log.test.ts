import test from "ava";
import { Writable } from "node:stream";
import { addSecret, childLogger, createLogger } from "../src/log.js";

/** Never registered with addSecret: only REDACT_PATHS can hide it. */
const TOKEN = "4f1c2a9e-7b3d-4e5f-9a8b-1c2d3e4f5a6b";
/** Registered with addSecret, as a token read from Vault would be. */
const REGISTERED = "hvs.CAESIJ1s2d3f4g5h6j7k8l9";

/** A logger writing into an array of parsed lines, plus the raw text. */
function capture() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ destination, level: "debug" });
  return {
    log,
    text: () => chunks.join(""),
    lines: () => chunks.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const leakShapes: { name: string; write: (log: ReturnType<typeof capture>["log"]) => void }[] = [
  { name: "top_level_token_field", write: (log) => log.info({ token: TOKEN }, "x") },
  { name: "nested_token_field", write: (log) => log.info({ nomad: { token: TOKEN } }, "x") },
  { name: "acl_secret_id", write: (log) => log.info({ acl: { SecretID: TOKEN } }, "x") },
  { name: "vault_client_token", write: (log) => log.info({ auth: { client_token: TOKEN } }, "x") },
  { name: "request_headers_canonical", write: (log) => log.info({ req: { headers: { "X-Nomad-Token": TOKEN } } }, "x") },
  { name: "request_headers_lowercase", write: (log) => log.info({ req: { headers: { "x-consul-token": TOKEN } } }, "x") },
  { name: "vault_header", write: (log) => log.info({ headers: { "X-Vault-Token": TOKEN } }, "x") },
  { name: "authorization_header", write: (log) => log.info({ headers: { Authorization: `Bearer ${TOKEN}` } }, "x") },
  {
    name: "axios_error_config_headers",
    write: (log) => log.error({ err: Object.assign(new Error("boom"), { config: { headers: { "X-Nomad-Token": TOKEN } } }) }, "x"),
  },
  // Paths cannot foresee everything: a registered secret is scrubbed wherever it shows up.
  { name: "registered_secret_in_message", write: (log) => log.warn(`token ${REGISTERED} rejected`) },
  { name: "registered_secret_in_odd_field", write: (log) => log.info({ a: { b: { c: { d: REGISTERED } } } }, "x") },
];

for (const row of leakShapes) {
  test(`token_never_logged: ${row.name}`, (t) => {
    addSecret(REGISTERED);
    const c = capture();
    row.write(c.log);
    t.true(c.text().length > 0, "a line was written");
    t.false(c.text().includes(TOKEN), c.text());
    t.false(c.text().includes(REGISTERED), c.text());
  });
}

test("redacted_values_are_marked_not_dropped", (t) => {
  const c = capture();
  c.log.info({ headers: { "X-Nomad-Token": "some-other-secret-value" } }, "call");
  t.deepEqual(c.lines()[0]?.headers, { "X-Nomad-Token": "[REDACTED]" });
});

test("child_logger_carries_key_fields", (t) => {
  const c = capture();
  const loop = childLogger(c.log, { loop: "sync" });
  const pass = childLogger(loop, { env: "qa", nomad_job: "web", reconcile_id: "r-1", node: undefined });
  pass.info("pass done");
  const line = c.lines()[0];
  t.like(line, { loop: "sync", env: "qa", nomad_job: "web", reconcile_id: "r-1", msg: "pass done", level: "info" });
  t.false(line !== undefined && "node" in line, "undefined fields are left out");
  t.is(typeof line?.time, "string");
});

test("short_values_are_not_registered_as_secrets", (t) => {
  addSecret("qa");
  const c = capture();
  c.log.info({ env: "qa" }, "qa environment");
  t.like(c.lines()[0], { env: "qa", msg: "qa environment" });
});
