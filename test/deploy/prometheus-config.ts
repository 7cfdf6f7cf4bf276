// deploy/prometheus/prometheus.yml finds its targets through Consul. Debian's
// Prometheus is built without Consul SD ("Disable Consul SD until its Debian
// package is back in shape", its changelog), so the tests hand the real
// binary the same config with each consul_sd_configs block replaced by the
// static targets Consul would return, carrying the `__meta_consul_*` labels
// Consul SD attaches (prometheus.io/docs, consul_sd_config): the relabelling
// (keep by tag, metrics path from service meta, node and dc labels) then runs
// in the real Prometheus exactly as in production.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { DEPLOY } from "./fixture.js";

export const PROMETHEUS_YML = path.join(DEPLOY, "prometheus/prometheus.yml");
export const RULES_DIR = path.join(DEPLOY, "prometheus/rules");

/** One service instance as Consul's catalog would list it. */
export interface ConsulTarget {
  service: string;
  /** `host:port` of the service. */
  address: string;
  node: string;
  dc?: string;
  tags: string[];
  meta?: Record<string, string>;
}

/** The keys a consul_sd_config may have (Prometheus 2.42's ConsulSDConfig and its HTTP client config). */
export const CONSUL_SD_KEYS = new Set([
  "server", "path_prefix", "token", "datacenter", "namespace", "partition", "scheme", "services", "tags", "node_meta",
  "tag_separator", "allow_stale", "refresh_interval", "basic_auth", "authorization", "oauth2", "follow_redirects",
  "enable_http2", "tls_config", "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header",
]);

/** deploy/prometheus/prometheus.yml, parsed. */
export async function deployedConfig(): Promise<Record<string, any>> {
  return parseYaml(await readFile(PROMETHEUS_YML, "utf8")) as Record<string, any>;
}

/** The labels Consul SD gives a target (tags joined with `,` and framed by it, as Prometheus does). */
function consulLabels(t: ConsulTarget): Record<string, string> {
  const [host = "", port = ""] = t.address.split(":");
  const labels: Record<string, string> = {
    __meta_consul_service: t.service,
    __meta_consul_node: t.node,
    __meta_consul_dc: t.dc ?? "dc1",
    __meta_consul_address: host,
    __meta_consul_service_address: host,
    __meta_consul_service_port: port,
    __meta_consul_tags: `,${t.tags.join(",")},`,
  };
  for (const [k, v] of Object.entries(t.meta ?? {})) labels[`__meta_consul_service_metadata_${k}`] = v;
  return labels;
}

/** Points every `credentials_file` at `file`. */
function withCredentials<T>(block: T, file: string): T {
  const b = block as Record<string, any>;
  return (b.authorization?.credentials_file ? { ...b, authorization: { ...b.authorization, credentials_file: file } } : b) as T;
}

/**
 * The deployed config with Consul SD replaced by static targets, credentials
 * files pointed at `credentialsFile`, rule files made absolute, and
 * optionally only some jobs kept and a shorter scrape interval.
 */
export function withStaticTargets(
  config: Record<string, any>,
  targets: ConsulTarget[],
  opts: { credentialsFile: string; jobs?: string[]; scrapeInterval?: string },
): Record<string, any> {
  const scrape = (config.scrape_configs as Record<string, any>[])
    .filter((s) => !opts.jobs || opts.jobs.includes(String(s.job_name)))
    .map((s) => {
      const { consul_sd_configs: sd, ...rest } = withCredentials(s, opts.credentialsFile);
      if (!sd) return rest;
      const services = new Set((sd as { services: string[] }[]).flatMap((c) => c.services));
      const mine = targets.filter((t) => services.has(t.service));
      return { ...rest, static_configs: mine.map((t) => ({ targets: [t.address], labels: consulLabels(t) })) };
    });
  const out: Record<string, any> = {
    ...config,
    global: { ...config.global, ...(opts.scrapeInterval ? { scrape_interval: opts.scrapeInterval, evaluation_interval: opts.scrapeInterval } : {}) },
    rule_files: (config.rule_files as string[]).map((f) => path.resolve(path.dirname(PROMETHEUS_YML), f)),
    scrape_configs: scrape,
  };
  // No Alertmanager in the tests.
  delete out.alerting;
  return out;
}
