// examples/hello and desired-state/services/hello: the CI files parse and
// name the steps (test, build, tag build-N, push); the CI's test step passes;
// the job file is accepted by sim's parser; and ci/push-image.sh builds the
// image without Docker (umoci) and pushes it (skopeo) to the real
// docker-registry configured as deploy/nomad/registry.nomad.hcl configures it,
// which answers with the digest and notifies Steward's hook with its token.
import test from "ava";
import { readFile, rm, mkdtemp } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { startSim, type Sim } from "../../sim/index.js";
import { eventually } from "../helpers/eventually.js";
import { startDockerRegistry } from "../helpers/docker-registry.js";
import { DEPLOY, REPO_ROOT, assertInstalled, freePort, parseWithSim, renderTemplate, run, templateAt } from "./fixture.js";

const HELLO = path.join(REPO_ROOT, "examples/hello");
const PUSH_IMAGE = path.join(HELLO, "ci/push-image.sh");
const DIGEST = `sha256:${"0".repeat(64)}`;

let sim: Sim;
test.before(async () => {
  sim = await startSim({});
});
test.after.always(async () => {
  await sim?.close();
});

async function yamlOf(file: string): Promise<Record<string, any>> {
  return parseYaml(await readFile(path.join(HELLO, file), "utf8")) as Record<string, any>;
}

test("travis_tests_builds_tags_build_n_and_pushes", async (t) => {
  const travis = await yamlOf(".travis.yml");
  t.deepEqual(travis.services, ["docker"]);
  const image = (travis.env.global as string[]).find((e) => e.startsWith("IMAGE="));
  t.regex(image ?? "", /^IMAGE="\$REGISTRY\/hello:build-\$TRAVIS_BUILD_NUMBER"$/, "the tag is build-<build number>");
  const script = travis.script as string[];
  t.is(script[0], "npm test", "test first");
  t.true(script.some((s) => /^docker build .*-t "\$IMAGE" \.$/.test(s)), "build the image with that tag");
  t.regex(String(travis.deploy.script), /docker push "\$IMAGE"/, "push it");
  t.is(travis.deploy.on.branch, "main");
});

test("github_workflow_tests_builds_tags_build_n_and_pushes", async (t) => {
  const wf = await yamlOf("ci/github-actions.yml");
  const job = wf.jobs.build;
  t.is(job.env.BUILD_NUMBER, "${{ github.run_number }}");
  const steps = job.steps as { name: string; run?: string; if?: string }[];
  const named = (re: RegExp): { name: string; run?: string; if?: string } | undefined => steps.find((s) => re.test(s.name));
  t.is(named(/^Test$/)?.run, "npm test");
  t.is(named(/^Build the image and tag it build-/)?.run, "ci/push-image.sh build");
  t.is(named(/^Push it to the registry$/)?.run, "ci/push-image.sh push");
  const order = ["Test", "Build", "Push"].map((w) => steps.findIndex((s) => s.name.startsWith(w)));
  t.deepEqual([...order].sort((a, b) => a - b), order, "test, then build, then push");
  t.is(named(/^Push/)?.if, "github.ref == 'refs/heads/main'");
});

test("the_ci_test_step_passes", async (t) => {
  const r = await run(process.execPath, ["--test"], { cwd: HELLO });
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /# pass 3/);
});

test("dockerfile_and_push_image_build_the_same_image", async (t) => {
  const docker = await readFile(path.join(HELLO, "Dockerfile"), "utf8");
  const script = await readFile(PUSH_IMAGE, "utf8");
  const copied = /^COPY (.+) \.\/$/m.exec(docker)?.[1]?.split(" ").sort();
  const inserted = [...script.matchAll(/umoci insert .*"\$app_dir\/([\w.]+)" \/app\//g)].map((m) => m[1]).sort();
  t.deepEqual(inserted, copied, "the same files");
  t.regex(docker, /^WORKDIR \/app$/m);
  t.regex(script, /--config\.workingdir \/app/);
  t.regex(docker, /^EXPOSE 8080$/m);
  t.regex(script, /--config\.exposedports 8080\/tcp/);
  t.regex(docker, /^CMD \["node", "server\.js"\]$/m);
  t.regex(script, /--config\.cmd node --config\.cmd server\.js/);
});

test("the_hello_job_is_accepted_by_sims_parser_with_var_image", async (t) => {
  const job = await parseWithSim(sim, path.join(REPO_ROOT, "desired-state/services/hello/hello.nomad.hcl"), `image = "127.0.0.1:5000/hello@${DIGEST}"\n`);
  t.is(job.ID, "hello");
  t.is(job.Type, "service");
  const group = job.TaskGroups[0];
  t.is(group.Tasks[0].Config.image, `127.0.0.1:5000/hello@${DIGEST}`);
  t.is(group.Networks[0].DynamicPorts[0].To, 8080, "the port the image exposes");
  t.is(group.Services[0].Checks[0].Path, "/healthz");
  t.true((group.Services[0].Tags as string[]).some((x) => x.startsWith("urlprefix-/hello")), "Fabio routes it");
  const svc = parseYaml(await readFile(path.join(REPO_ROOT, "desired-state/services/hello/service.yaml"), "utf8")) as { image: { repository: string } };
  t.is(svc.image.repository, "127.0.0.1:5000/hello", "the repository CI pushes to");
});

/** A stand-in for Steward's /hooks/registry (through Fabio): records what the registry sends. */
async function hookListener(): Promise<{ url: string; got: { auth: string | undefined; events: any[] }[]; close(): Promise<void> }> {
  const got: { auth: string | undefined; events: any[] }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      got.push({ auth: req.headers.authorization, events: (JSON.parse(body) as { events: any[] }).events });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/registry`,
    got,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test("push_image_builds_without_docker_pushes_build_n_and_the_registry_notifies_steward", async (t) => {
  for (const [bin, pkg] of [["/usr/bin/umoci", "umoci"], ["/usr/bin/skopeo", "skopeo"]] as const) assertInstalled(bin, pkg);
  // The registry's config as its job renders it, with the notifications on.
  const job = await parseWithSim(sim, path.join(DEPLOY, "nomad/registry.nomad.hcl"), "notify_steward = true\n");
  const tmpl = templateAt(job.TaskGroups[0].Tasks[0], "local/config.yml");
  const rendered = parseYaml(renderTemplate(tmpl.EmbeddedTmpl, { env: { NOMAD_IP_http: "127.0.0.1" }, secrets: { "secret/data/registry/notifications": { token: "reg-token" } } })) as Record<string, any>;
  const endpoint = rendered.notifications.endpoints[0];
  t.is(endpoint.url, "http://127.0.0.1:9999/hooks/registry", "through Fabio on the node, to Steward's hook");
  const hook = await hookListener();
  t.teardown(() => hook.close());
  // Fabio's port is not ours to take here: the stand-in listens elsewhere.
  endpoint.url = hook.url;
  const { storage: _storage, http: _http, ...rest } = rendered;
  const registry = await startDockerRegistry({ extraConfig: () => rest });
  t.teardown(() => registry.stop());
  const oci = await mkdtemp(path.join(tmpdir(), "steward-hello-oci-"));
  t.teardown(() => rm(oci, { recursive: true, force: true }));

  const env: NodeJS.ProcessEnv = { ...process.env, BUILD_NUMBER: "42", REGISTRY: `127.0.0.1:${registry.port}`, DEST_TLS_VERIFY: "false", OCI_DIR: path.join(oci, "layout") };
  delete env.BASE_IMAGE;
  const r = await run(PUSH_IMAGE, [], { env, timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  const printed = /^127\.0\.0\.1:\d+\/hello@(sha256:[0-9a-f]{64})$/m.exec(r.stdout.trim())?.[1];
  t.truthy(printed, `the script prints repository@digest: ${r.stdout}`);

  const head = await fetch(`${registry.url}/v2/hello/manifests/build-42`, { method: "HEAD", headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
  t.is(head.status, 200);
  t.is(head.headers.get("docker-content-digest"), printed ?? "", "build-42 resolves to the digest the script printed");

  const push = await eventually(() => hook.got.flatMap((g) => g.events.map((e) => ({ auth: g.auth, e }))).find((x) => x.e.action === "push" && x.e.target?.tag === "build-42"), { timeoutMs: 10_000 });
  t.is(push?.auth, "Bearer reg-token", "the notification carries the token Steward checks");
  t.is(push?.e.target.repository, "hello");
  t.is(push?.e.target.digest, printed);

  // The image's own config runs: its command, in its working dir, with its env, serves /healthz.
  const bundle = path.join(oci, "bundle");
  const unpack = await run("umoci", ["unpack", "--rootless", "--image", `${path.join(oci, "layout")}:build-42`, bundle]);
  t.is(unpack.code, 0, unpack.stderr);
  const spec = JSON.parse(await readFile(path.join(bundle, "config.json"), "utf8")) as { process: { args: string[]; cwd: string; env: string[] } };
  t.deepEqual(spec.process.args, ["node", "server.js"]);
  t.true(spec.process.env.includes("VERSION=build-42"));
  const port = await freePort();
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, spec.process.args.slice(1), {
    cwd: path.join(bundle, "rootfs", spec.process.cwd),
    env: { ...Object.fromEntries(spec.process.env.map((e) => e.split(/=(.*)/s).slice(0, 2))), PORT: String(port), HOST: "127.0.0.1" },
    stdio: "ignore",
  });
  t.teardown(() => void child.kill("SIGTERM"));
  const hello = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/`)).json() as Promise<{ version: string }>, { timeoutMs: 5_000, intervalMs: 50 });
  t.is(hello.version, "build-42");
});
