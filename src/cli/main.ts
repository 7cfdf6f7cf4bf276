/**
 * The `steward` command line:
 *   steward run       [--config FILE]                       the daemon
 *   steward plan      [--dir DIR | --git URL] [--json] [--url URL]   what sync would do now (exit 2: changes), and the daemon's pending promotions
 *   steward validate  [--dir DIR | --git URL] [--parse] [--terraform ROOT]  check a desired-state tree (exit 1: invalid)
 *   steward status    [--url URL] [--json]                  ask a running daemon
 *   steward pause|resume [SERVICE], steward sync-now         runtime switches in Consul KV
 *   steward approve|reject SERVICE DIGEST [--stage S]        a manual gate's decision in Consul KV
 *   steward freeze|unfreeze ENV, steward retry-gate SERVICE DIGEST|TAG --stage S   operator controls in Consul KV
 *   steward ack-short-circuit POOL [--reason TEXT]           let a short-circuited pool replace within its other guards
 */
import { parseArgs } from "node:util";
import { InvalidInputError } from "../model/errors.js";

const USAGE = `usage: steward <run|plan|validate|status> [options]
  run       [--config FILE]                           run the daemon (config: file, then environment)
  plan      [--dir DIR | --git URL [--branch B]] [--json] [--url URL]   the actions sync would take now (exit 2 when there are changes), and the pending promotions a running daemon reports
  validate  [--dir DIR | --git URL [--branch B]] [--parse]  check a desired-state tree; --parse also asks each environment's Nomad; --terraform ROOT checks pool addresses against terraform state/plan (slow)
  status    [--url URL] [--json]                      the status of a running daemon (default http://127.0.0.1:8080)
  pause     [SERVICE] [--reason TEXT] [--config FILE]   stop syncing everything, or one service (a Consul KV switch)
  resume    [SERVICE] [--config FILE]                 undo pause
  sync-now  [--config FILE]                           ask the leader for a full pass now
  approve   SERVICE DIGEST [--stage S] [--by NAME] [--reason TEXT] [--config FILE]   pass the manual gate of a digest
  reject    SERVICE DIGEST [--stage S] [--by NAME] [--reason TEXT] [--config FILE]   fail the manual gate of a digest
  freeze    ENV [--reason TEXT] [--by NAME] [--config FILE] [--url URL]   deploy nothing to ENV (sync and promotion; healing goes on)
  unfreeze  ENV [--config FILE] [--url URL]            undo freeze
  retry-gate SERVICE DIGEST|TAG --stage S [--by NAME] [--reason TEXT] [--config FILE]   run a failed or timed-out gate again
  ack-short-circuit POOL [--reason TEXT] [--by NAME] [--url URL] [--config FILE]   acknowledge a pool's short-circuit: replacements proceed within its other guards until it recovers
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      dir: { type: "string" },
      git: { type: "string" },
      branch: { type: "string" },
      subdir: { type: "string" },
      json: { type: "boolean", default: false },
      parse: { type: "boolean", default: false },
      terraform: { type: "string" },
      url: { type: "string", default: process.env.STEWARD_URL ?? "http://127.0.0.1:8080" },
      reason: { type: "string" },
      stage: { type: "string" },
      by: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  const tree = { dir: values.dir, git: values.git, branch: values.branch, subdir: values.subdir };
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command ? 0 : 64;
  }
  switch (command) {
    case "run": {
      const { runCommand } = await import("./run.js");
      return runCommand({ config: values.config });
    }
    case "plan": {
      const { planCommand } = await import("./plan.js");
      return planCommand({ ...tree, json: values.json, url: values.url });
    }
    case "validate": {
      const { validateCommand } = await import("./validate.js");
      return validateCommand({ ...tree, parse: values.parse, ...(values.terraform !== undefined ? { terraform: values.terraform } : {}) });
    }
    case "status": {
      const { statusCommand } = await import("./status.js");
      return statusCommand({ url: values.url, json: values.json });
    }
    case "pause":
    case "resume":
    case "sync-now": {
      const { controlCommand } = await import("./controls.js");
      return controlCommand(command, { config: values.config, service: positionals[0], reason: values.reason });
    }
    case "approve":
    case "reject": {
      const { approvalCommand } = await import("./approvals.js");
      return approvalCommand(command, { config: values.config, service: positionals[0], digest: positionals[1], stage: values.stage, by: values.by, reason: values.reason });
    }
    case "freeze":
    case "unfreeze": {
      const { freezeCommand } = await import("./freeze.js");
      return freezeCommand(command, { config: values.config, env: positionals[0], reason: values.reason, by: values.by, url: values.url });
    }
    case "retry-gate": {
      const { retryGateCommand } = await import("./retry-gate.js");
      return retryGateCommand({ config: values.config, service: positionals[0], digest: positionals[1], stage: values.stage, by: values.by, reason: values.reason });
    }
    case "ack-short-circuit": {
      const { ackShortCircuitCommand } = await import("./ack-short-circuit.js");
      return ackShortCircuitCommand({ pool: positionals[0], reason: values.reason, by: values.by, url: values.url, config: values.config });
    }
    default:
      process.stderr.write(`steward: unknown command ${command}\n${USAGE}`);
      return 64;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`steward: ${err instanceof InvalidInputError ? err.describe() : (err as Error).message}\n`);
    process.exitCode = 1;
  },
);
