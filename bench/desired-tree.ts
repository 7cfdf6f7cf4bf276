/**
 * A generated desired-state tree of N small services in one environment
 * (`qa`), written into a real git repository: the input of bench:sync and
 * bench:daemon. Each service is one `service.yaml` and one job file with one
 * group of one task; the variable `rev` goes into the task's env, so changing
 * it in service.yaml changes exactly one job.
 */
import path from "node:path";
import { GitRepo } from "../test/helpers/git-repo.js";

/** Every service's pinned digest: a placeholder in the sha256 format. */
const DIGEST = `sha256:${"0".repeat(64)}`;

export const serviceName = (i: number): string => `svc-${String(i).padStart(5, "0")}`;

export function stewardYaml(nomadUrl: string): string {
  return ["environments:", "  - name: qa", "    nomad:", `      address: ${nomadUrl}`, "sync:", "  drift: heal", "  prune: false", ""].join("\n");
}

export function jobHcl(name: string): string {
  return `variable "image" {
  type = string
}

variable "rev" {
  type    = string
  default = "0"
}

job "${name}" {
  type        = "service"
  datacenters = ["dc1"]

  group "app" {
    count = 1

    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }

    task "app" {
      driver = "docker"

      config {
        image = var.image
      }

      env {
        REV = var.rev
      }

      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`;
}

export function serviceYaml(name: string, rev: string): string {
  return `image:
  repository: 127.0.0.1:5000/${name}
  digest: ${DIGEST}
environments:
  qa:
    variables:
      rev: "${rev}"
`;
}

/** A git repository holding `desired-state/` with `n` services pointed at `nomadUrl`, committed once. */
export async function createDesiredRepo(n: number, nomadUrl: string): Promise<GitRepo> {
  const repo = await GitRepo.create();
  await repo.write("desired-state/steward.yaml", stewardYaml(nomadUrl));
  const writes: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const name = serviceName(i);
    const dir = path.posix.join("desired-state/services", name);
    writes.push(repo.write(`${dir}/service.yaml`, serviceYaml(name, "0")), repo.write(`${dir}/${name}.nomad.hcl`, jobHcl(name)));
    if (writes.length >= 512) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  repo.commit(`${n} services`);
  return repo;
}

/** Sets service `i`'s `rev` variable and commits: one job changes. */
export async function commitRev(repo: GitRepo, i: number, rev: string): Promise<string> {
  const name = serviceName(i);
  await repo.write(`desired-state/services/${name}/service.yaml`, serviceYaml(name, rev));
  return repo.commit(`${name}: rev ${rev}`);
}
