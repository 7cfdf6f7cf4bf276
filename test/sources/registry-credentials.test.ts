import test from "ava";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { registryCredentialsProvider, type RegistryLogin } from "../../src/sources/registry-credentials.js";

const wanted: string[] = [];
const vault = {
  want: (p: string, k?: string) => void wanted.push(`${p}#${k ?? ""}`),
  get: (p: string, k: string) => (p === "steward/registry" && k === "password" ? "from-vault" : undefined),
};

test("each_registry_gets_its_password_from_env_file_or_vault_and_others_are_anonymous", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "steward-regcred-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "password");
  await writeFile(file, "from-file\n");
  const logins: RegistryLogin[] = [
    { registry: "a.example", username: "ci", password: { env: "REG_PASSWORD" } },
    { registry: "b.example:5000", username: "ci", password: { file } },
    { registry: "c.example", username: "steward", password: { vault: { path: "steward/registry", key: "password" } } },
    { registry: "d.example", username: "ci", password: { env: "UNSET_PASSWORD" } },
  ];
  const creds = registryCredentialsProvider(logins, vault, { REG_PASSWORD: "from-env" });
  t.deepEqual(wanted, ["steward/registry#password"], "the Vault secret is registered up front");
  t.deepEqual(await creds("a.example"), { username: "ci", password: "from-env" });
  t.deepEqual(await creds("b.example:5000"), { username: "ci", password: "from-file" });
  t.deepEqual(await creds("c.example"), { username: "steward", password: "from-vault" });
  t.is(await creds("d.example"), undefined, "a password that cannot be read yet: anonymous, not an empty password");
  t.is(await creds("e.example"), undefined, "a registry not configured is read anonymously");
  // Rotation: the file is read on each login.
  await writeFile(file, "rotated\n");
  t.deepEqual(await creds("b.example:5000"), { username: "ci", password: "rotated" });
});
