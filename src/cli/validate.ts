import { loadDesiredState } from "../model/load.js";
import { InvalidInputError, describeIssue } from "../model/errors.js";
import { SyncLoop, MemorySyncStateStore } from "../reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../reconciler/sync/clients.js";
import { createLogger } from "../log.js";
import { readTree, type TreeArgs } from "./desired.js";
import path from "node:path";
import { TerraformRunner } from "../actuators/terraform.js";
import { templatePattern } from "../reconciler/healing/template.js";
import type { DesiredState } from "../model/types.js";

/**
 * `steward validate`: checks a desired-state tree. Offline by default (YAML,
 * schema, HCL syntax, `var.image`, references between files); with
 * `--parse` each job file is also parsed by its environment's Nomad; with
 * `--terraform ROOT` each pool's address template must match a resource in
 * its working directory's state or plan (terraform show + plan: seconds per
 * directory, hence a flag).
 * @returns the exit code: 0 valid, 1 invalid
 */
export async function validateCommand(args: TreeArgs & { parse?: boolean; terraform?: string }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const snapshot = await readTree(args);
  try {
    const state = await loadDesiredState(snapshot);
    if (args.parse) {
      const loop = new SyncLoop({ clients: new NomadClients({ tokens: envTokens }), store: new MemorySyncStateStore(), logger: createLogger({ level: "silent" }) });
      const result = await loop.acceptSnapshot(snapshot);
      await loop.stop();
      if (result === "refused") {
        for (const i of loop.revision.refused?.issues ?? []) out.write(`${describeIssue(i)}\n`);
        return 1;
      }
      if (result === "pending") throw new Error(loop.revision.pending?.error ?? "Nomad could not be reached to parse the job files");
    }
    if (args.terraform !== undefined && !(await checkPoolAddresses(state, args.terraform, out))) return 1;
    out.write(`${snapshot.origin} @ ${snapshot.revision}: valid (${state.environments.length} environments, ${state.services.length} services, ${state.pools.length} pools)\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    for (const i of err.issues) out.write(`${describeIssue(i)}\n`);
    return 1;
  }
}

/** Each pool's address template against `terraform show` and a refresh-free plan of its directory (under `root`). */
async function checkPoolAddresses(state: DesiredState, root: string, out: NodeJS.WritableStream): Promise<boolean> {
  const runner = new TerraformRunner();
  let ok = true;
  for (const pool of state.pools) {
    const dir = path.resolve(root, pool.terraform.dir);
    const { inState, planned } = await runner.resourceAddresses(dir, pool.terraform.workspace);
    const pattern = templatePattern(pool.terraform.address);
    const hits = [...new Set([...inState, ...planned])].filter((a) => pattern.test(a));
    if (hits.length === 0) {
      ok = false;
      out.write(`${pool.file}: terraform.address: ${pool.terraform.address} matches no resource in ${dir} (state: ${inState.length}, plan: ${planned.length} addresses)\n`);
    } else out.write(`${pool.file}: terraform.address matches ${hits.length} resource(s) in ${dir}\n`);
  }
  return ok;
}
