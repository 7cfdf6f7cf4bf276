import { useEffect, useState } from "preact/hooks";
import type { PromotionServiceStatus, ServicePlan, SyncCell } from "../../src/server/live-types.js";
import { ActionButton } from "./action-button.js";
import { EventList } from "./events.js";
import { ago, shortDigest, shortRevision } from "./format.js";
import { StateBadge } from "./overview.js";
import { DeploymentStatus, deploymentSentence } from "./deployment.js";
import { PromotionPanel } from "./promotion.js";
import type { LiveStore } from "./store.js";

function usePlan(service: string, revision: string | undefined): { plan: ServicePlan | undefined; loading: boolean; reload: () => void } {
  const [plan, setPlan] = useState<ServicePlan | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fetch(`/api/services/${encodeURIComponent(service)}/plan`)
      .then((r) => r.json() as Promise<ServicePlan>)
      .then((p) => live && setPlan(p))
      .catch((err: unknown) => live && setPlan({ service, entries: [], error: (err as Error).message }))
      .finally(() => live && setLoading(false));
    return () => void (live = false);
  }, [service, revision, tick]);
  return { plan, loading, reload: () => setTick(tick + 1) };
}

function EnvCard({ env, cell }: { env: string; cell: SyncCell | undefined }): preact.JSX.Element {
  return (
    <article class="env-card" aria-labelledby={`env-${env}`} data-env={env} data-state={cell?.state ?? "none"}>
      <h3 id={`env-${env}`}>
        {env} {cell ? <StateBadge state={cell.state} /> : null} {cell?.deployment ? <DeploymentStatus deployment={cell.deployment} /> : null}
      </h3>
      {!cell ? (
        <p class="muted">Not deployed in {env}.</p>
      ) : (
        <dl>
          <dt>Why</dt>
          <dd>
            {cell.reason ? <code>{cell.reason}</code> : null} {cell.message}
          </dd>
          {cell.error ? (
            <>
              <dt>Error</dt>
              <dd class="error-text">{cell.error}</dd>
            </>
          ) : null}
          {cell.driftFields?.length ? (
            <>
              <dt>Drifted fields</dt>
              <dd>
                {cell.driftFields.map((f) => (
                  <code key={f}>{f} </code>
                ))}
              </dd>
            </>
          ) : null}
          <dt>Running digest</dt>
          <dd>
            <code title={cell.digest}>{shortDigest(cell.digest)}</code>
            {cell.desiredDigest ? (
              <>
                {" "}
                → desired <code title={cell.desiredDigest}>{shortDigest(cell.desiredDigest)}</code>
              </>
            ) : null}
          </dd>
          <dt>Nomad</dt>
          <dd>
            job {cell.nomadStatus ?? "absent"}
            {cell.deployment ? <span data-testid={`deployment-${env}`}>; {deploymentSentence(cell.deployment)}</span> : null}
          </dd>
          <dt>From revision</dt>
          <dd>
            <code>{shortRevision(cell.revision)}</code>
          </dd>
          <dt>Last pass</dt>
          <dd>{cell.fromLeader ? ago(cell.lastSync) : "known to the leader (this instance stands by)"}</dd>
          {cell.lastAction ? (
            <>
              <dt>Last action</dt>
              <dd>
                {cell.lastAction.kind} <code>{cell.lastAction.reason}</code> ({cell.lastAction.result}, {ago(cell.lastAction.at)}): {cell.lastAction.message}
              </dd>
            </>
          ) : null}
        </dl>
      )}
    </article>
  );
}

/** One service: its job in every environment, the plan with Nomad's diff, its promotion, its history. */
export function ServicePage({ store, service }: { store: LiveStore; service: string }): preact.JSX.Element {
  const envs = store.environments();
  const row = store.rows().find((r) => r.service === service);
  const { plan, loading, reload } = usePlan(service, store.sections.revision?.good?.revision);
  const paused = store.sections.controls?.pausedServices.includes(service) ?? false;
  const promotion = store.collections.get("promotion")?.get(service) as PromotionServiceStatus | undefined;
  const events = store.events.filter((e) => e.service === service);
  return (
    <section aria-labelledby="service-title" class="service-page">
      <p>
        <a href="#/">← Overview</a>
      </p>
      <h1 id="service-title">{service}</h1>
      <div class="toolbar" role="toolbar" aria-label={`Actions on ${service}`}>
        <ActionButton name="sync-now" body={{ service }} label={`Sync ${service}`} />
        {paused ? <ActionButton name="resume" body={{ service }} label={`Resume ${service}`} /> : <ActionButton name="pause" body={{ service }} label={`Pause ${service}`} />}
      </div>
      <h2>Environments</h2>
      <div class="env-cards">
        {envs.map((e) => (
          <EnvCard key={e} env={e} cell={row?.cells[e]} />
        ))}
      </div>
      <h2 id="plan-title">Plan: desired vs actual</h2>
      <p>
        <button type="button" onClick={reload} disabled={loading} aria-busy={loading}>
          Refresh plan
        </button>{" "}
        <span class="muted">as `steward plan` shows it, asked of Nomad now</span>
      </p>
      <div aria-labelledby="plan-title" data-testid="plan">
        {!plan ? (
          <p class="muted">Planning…</p>
        ) : plan.error ? (
          <p class="error-text">Could not plan: {plan.error}</p>
        ) : (
          <ul class="plan">
            {plan.entries.map((p) => (
              <li key={`${p.env}/${p.job}`} data-kind={p.kind}>
                <code>{p.kind === "noop" ? " " : p.kind === "stop" ? "-" : p.reason === "JobMissing" ? "+" : "~"}</code> {p.env}/{p.job} {p.kind !== "noop" ? <strong>{p.kind}</strong> : null} [{p.reason}] {p.message}
                {p.diff.length ? (
                  <ul>
                    {p.diff.map((d) => (
                      <li key={d}>
                        <code>~ {d}</code>
                      </li>
                    ))}
                  </ul>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </div>
      <h2>Promotion</h2>
      {promotion === undefined ? (
        <p class="muted" data-testid="promotion-empty">
          {service} is not promoted: its service.yaml has no image policy, so it runs the digest pinned there.
        </p>
      ) : (
        <PromotionPanel p={promotion} />
      )}
      <h2>History</h2>
      <EventList events={events} label={`Events of ${service}, newest first`} />
    </section>
  );
}
