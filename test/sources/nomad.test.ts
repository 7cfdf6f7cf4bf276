import test, { type ExecutionContext } from "ava";
import axios from "axios";
import { startNomadHarness } from "../../sim/nomad/harness.js";
import { NomadClients, envTokens } from "../../src/reconciler/sync/clients.js";
import type { EnvironmentSpec } from "../../src/model/types.js";

async function harness(t: ExecutionContext) {
  const nomad = await startNomadHarness({ nodes: 0 });
  t.teardown(() => nomad.close());
  const env: EnvironmentSpec = { name: "qa", nomad: { address: nomad.url, region: "global", namespace: "default", token: { kind: "none" } } };
  const { reader } = new NomadClients({ tokens: envTokens, http: { retry: { attempts: 1 } } }).get(env);
  const register = async (id: string): Promise<void> => {
    const job = { ID: id, Name: id, Type: "batch", Datacenters: ["dc1"], Meta: { "steward.managed-by": "steward" }, TaskGroups: [{ Name: "g", Count: 0, Tasks: [{ Name: "t", Driver: "docker", Config: { image: "x" } }] }] };
    const r = await axios.put(`${nomad.url}/v1/jobs`, { Job: job }, { validateStatus: () => true });
    t.is(r.status, 200, JSON.stringify(r.data));
  };
  return { reader, register };
}

test("the jobs list keeps only the fields Steward reads", async (t) => {
  const { reader, register } = await harness(t);
  await register("web");
  const { data } = await reader.listJobs(0, 0);
  t.is(data?.length, 1);
  t.deepEqual(Object.keys(data?.[0] ?? {}).sort(), ["ID", "JobModifyIndex", "Meta", "ModifyIndex", "Name", "Status", "Stop", "Type", "Version"]);
  t.is(data?.[0]?.Meta?.["steward.managed-by"], "steward");
});

test("a long poll that times out at the same index is not parsed; a moved index brings the list", async (t) => {
  const { reader, register } = await harness(t);
  await register("web");
  const first = await reader.listJobs(0, 0);
  const idle = await reader.listJobs(first.index, 1_000);
  t.is(idle.index, first.index);
  t.is(idle.data, undefined, "the wait ran out: nothing changed, nothing parsed");
  const moved = reader.listJobs(first.index, 60_000);
  await register("api");
  const after = await moved;
  t.true(after.index > first.index);
  t.deepEqual(after.data?.map((j) => j.ID).sort(), ["api", "web"]);
});
