import { loadDesiredState } from "../model/load.js";
import { InvalidInputError, describeIssue } from "../model/errors.js";
import { SyncLoop, MemorySyncStateStore } from "../reconciler/sync/loop.js";
import { NomadClients, envTokens } from "../reconciler/sync/clients.js";
import { createLogger } from "../log.js";
import { readTree, type TreeArgs } from "./desired.js";

/**
 * `steward validate`: checks a desired-state tree. Offline by default (YAML,
 * schema, HCL syntax, `var.image`, references between files); with
 * `--parse` each job file is also parsed by its environment's Nomad.
 * @returns the exit code: 0 valid, 1 invalid
 */
export async function validateCommand(args: TreeArgs & { parse?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
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
    out.write(`${snapshot.origin} @ ${snapshot.revision}: valid (${state.environments.length} environments, ${state.services.length} services, ${state.pools.length} pools)\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    for (const i of err.issues) out.write(`${describeIssue(i)}\n`);
    return 1;
  }
}
