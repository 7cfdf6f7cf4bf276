import type { StewardConfig } from "../../config/schema.js";
import type { Logger } from "../../log.js";
import type { StewardMetrics } from "../../metrics.js";
import type { ConsulClient } from "../../sources/consul.js";
import { HttpClient } from "../../sources/http-client.js";
import { NomadNodesReader } from "../../sources/nomad-nodes.js";
import { nomadHttpClient } from "../../sources/nomad.js";
import { ConsulHealthReader } from "../../sources/consul-health.js";
import { NomadNodesActuator } from "../../actuators/nomad-nodes.js";
import { ConsulCatalogActuator } from "../../actuators/consul-catalog.js";
import { HealingJournalStore } from "../../actuators/healing-journal.js";
import type { ConsulKvWriter } from "../../actuators/consul-kv.js";
import { TerraformRunner } from "../../actuators/terraform.js";
import { Ec2Reader, ec2OptionsFromEnv } from "../../sources/ec2.js";
import type { TokenResolver } from "../sync/clients.js";
import { ApplyBudget } from "./budget.js";
import { createRedactor, sensitiveEnvValues } from "./progress.js";
import { HealingLoop, type HealingNomad, type HealingLoopOptions } from "./loop.js";
import type { EnvironmentSpec } from "../../model/types.js";

/** What the daemon hands over to build the healing loop. */
export interface HealingWiring {
  config: NonNullable<StewardConfig["healing"]>;
  consul: ConsulClient;
  consulToken: () => string | undefined;
  writer: ConsulKvWriter;
  tokens: TokenResolver;
  statePrefix: string;
  logger: Logger;
  metrics: StewardMetrics;
  /** Tests and the demo: a sim clock, shorter waits. */
  overrides?: Partial<HealingLoopOptions>;
}

/**
 * Builds the healing loop from the daemon's configuration: the real
 * TerraformRunner and ApplyBudget, Nomad node readers/actuators per
 * environment, Consul health and catalog, the journal under
 * `<statePrefix>/journal/healing/`, the controls writer (spent short-circuit
 * acknowledgements are deleted through it), and a redactor of Terraform's
 * progress lines that knows terraform's environment (`TF_VAR_*` and
 * secret-named values, Steward's and `healing.env`'s).
 */
export function createHealingLoop(w: HealingWiring): HealingLoop {
  const { config, logger, metrics } = w;
  const terraform = new TerraformRunner({
    ...(config.binary ? { binary: config.binary } : {}),
    ...(config.env ? { env: config.env } : {}),
    ...(config.applyTimeoutMs ? { applyTimeoutMs: config.applyTimeoutMs } : {}),
    log: logger,
  });
  const consulHttp = new HttpClient({
    target: "consul",
    baseURL: w.consul.address,
    headers: () => {
      const t = w.consulToken();
      return t ? { "X-Consul-Token": t } : {};
    },
    logger,
    metrics,
  });
  const nomad = new Map<string, { fingerprint: string; pair: HealingNomad }>();
  const nomadOf = (env: EnvironmentSpec): HealingNomad => {
    const fingerprint = JSON.stringify(env.nomad);
    const known = nomad.get(env.name);
    if (known?.fingerprint === fingerprint) return known.pair;
    const http = nomadHttpClient(env, w.tokens(env.nomad.token, env.name), { logger, metrics });
    const pair = { reader: new NomadNodesReader(env.name, http, env.nomad.region), actuator: new NomadNodesActuator(env.name, http, env.nomad.region) };
    nomad.set(env.name, { fingerprint, pair });
    return pair;
  };
  // EC2 is read with the credentials terraform gets (Steward's environment plus healing.env); without static ones, states come from Terraform alone.
  const ec2 = ec2OptionsFromEnv({ ...process.env, ...config.env });
  if (!ec2) logger.warn({ loop: "healing" }, "healing: no AWS credentials in the environment; instance states come from the Terraform state only (no orphan report)");
  return new HealingLoop({
    nomad: nomadOf,
    ...(ec2 ? { instances: new Ec2Reader(ec2) } : {}),
    consul: { reader: new ConsulHealthReader(consulHttp), catalog: new ConsulCatalogActuator(consulHttp) },
    terraform,
    budget: new ApplyBudget(Object.fromEntries(Object.entries(config.budget ?? {}).filter(([, v]) => v !== undefined))),
    journal: new HealingJournalStore(w.consul, w.writer, { prefix: `${w.statePrefix}/journal/healing/`, logger }),
    terraformRoot: config.terraformRoot,
    clearAck: (pool, modifyIndex) => w.writer.deleteControl({ kind: "ack-short-circuit", pool }, modifyIndex),
    redact: createRedactor(sensitiveEnvValues({ ...process.env, ...config.env })),
    ...(config.applyTimeoutMs ? { applyTimeoutMs: config.applyTimeoutMs } : {}),
    logger,
    metrics,
    ...w.overrides,
  });
}
