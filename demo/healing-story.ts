/**
 * The demo's healing story (demo/main.ts calls it last): five workers built
 * by the real terraform and the real AWS provider against sim's EC2; one
 * worker's Consul agent fails while its Nomad client still answers, and
 * Steward drains it, replaces it with `terraform apply -replace`, waits for
 * the new node and purges the old one; then three of five workers die at
 * once and Steward refuses to act. Its own sim runs 600x faster than real
 * time, so the pool's 30 min unhealthyAfter takes 3 s; Terraform runs in real time.
 * Where terraform or the provider mirror is missing, the story says so and is skipped.
 */
import { startHealingWorld } from "../test/helpers/healing-terraform.js";
import { terraformMissing } from "../test/helpers/terraform.js";

/** What the story needs from the demo's setup. */
export interface HealingStoryContext {
  say: (msg: string) => void;
  step: (n: number, title: string) => void;
  until: <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number) => Promise<T>;
}

const KEYS = ["a", "b", "c", "d", "e"];

/** Runs the story as steps `n` and `n + 1`. */
export async function healingStory(ctx: HealingStoryContext, n: number): Promise<void> {
  const { say, step, until } = ctx;
  step(n, "Healing: a lost worker is drained and replaced through the real Terraform");
  const missing = terraformMissing();
  if (missing !== undefined) {
    say(`skipped: ${missing}`);
    return;
  }
  const world = await startHealingWorld(KEYS);
  const { sim, loop } = world;
  try {
    say(`terraform applied terraform/examples/worker-pool against sim's EC2 in ${(world.setupMs / 1000).toFixed(1)} s: ${sim.ec2.instances().length} instances, nodes ${sim.world.list("prod").map((m) => m.name).join(", ")}`);
    await loop.lead();
    const victim = sim.world.get("workers-b");
    // The agent's serfHealth turns critical (as when its Consul agent dies) while the Nomad client keeps answering.
    await fetch(`${sim.urls.consul}/v1/catalog/register`, {
      method: "PUT",
      body: JSON.stringify({ Node: "workers-b", Address: victim?.address, Check: { CheckID: "serfHealth", Name: "Serf Health Status", Status: "critical", Output: "Agent not live or unreachable" } }),
    });
    say("workers-b: Consul's serfHealth is critical; Nomad still has the node ready");
    const seen = new Set<string>();
    await until(
      "workers-b replaced",
      () => {
        const st = loop.poolStatuses()[0];
        for (const a of st?.actions ?? []) {
          const line = `[${a.reason}] ${a.message}`;
          if (a.reason !== "Healthy" && !seen.has(line)) {
            seen.add(line);
            say(line);
          }
        }
        // The journal's history keeps every step, however quickly they follow each other.
        for (const { record: i } of loop.cache.incidents.values()) {
          for (const h of i.history) {
            const line = `journal ${i.nodeName}: ${h.step} — ${h.note}`;
            if (!seen.has(line)) {
              seen.add(line);
              say(line);
            }
          }
        }
        return [...loop.cache.incidents.values()].some((e) => e.record.step === "done");
      },
      180_000,
    );
    const nodes = (await (await fetch(`${sim.urls.nomad.prod}/v1/nodes`)).json()) as Array<{ ID: string; Name: string; Status: string }>;
    say(`one apply (-replace=${world.applies[0]?.join(" ") ?? ""}); the old node ${victim?.id.slice(0, 8)} is purged; Nomad now has ${nodes.map((x) => `${x.Name} ${x.Status}`).join(", ")}`);

    step(n + 1, "Healing: three of five workers die at once; Steward refuses to act");
    const before = world.applies.length;
    for (const k of ["a", "c", "d"]) sim.world.kill(`workers-${k}`);
    say("workers-a, workers-c and workers-d killed");
    const st = await until("the short-circuit", () => {
      const s = loop.poolStatuses()[0];
      return s?.summary.lost === 3 && s.actions.find((a) => a.reason === "ShortCircuit");
    });
    say(`[${st.reason}] ${st.message}`);
    await sim.clock.sleep(60 * 60_000);
    say(`an hour of sim time later: ${world.applies.length - before} apply started, ${sim.ec2.instances().filter((i) => i.state === "running").length} instances still running`);
  } finally {
    await world.close();
  }
}
