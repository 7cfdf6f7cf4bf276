import { useState } from "preact/hooks";
import type { PoolStatus } from "../../src/server/live-types.js";
import { ActionButton } from "./action-button.js";
import { ago } from "./format.js";
import type { LiveStore } from "./store.js";

/** A replacement's steps in order; `apply-failed` is shown at the apply step. */
const STEPS: Array<{ step: string; label: string }> = [
  { step: "draining", label: "drain" },
  { step: "applying", label: "terraform apply" },
  { step: "applied", label: "boot" },
  { step: "purging", label: "purge" },
  { step: "done", label: "done" },
];

function iso(ms: number | undefined): string | undefined {
  return ms ? new Date(ms).toISOString() : undefined;
}

type Incident = PoolStatus["incidents"][number];

/** The steps of one replacement, the current one marked (in words and by aria-current, not only by colour). */
function Steps({ i }: { i: Incident }): preact.JSX.Element {
  const at = i.step === "apply-failed" ? 1 : STEPS.findIndex((s) => s.step === i.step);
  return (
    <ol class="steps" aria-label={`Replacement of ${i.nodeName}`}>
      {STEPS.map((s, n) => (
        <li key={s.step} class={n < at || i.step === "done" ? "done" : n === at ? "current" : "todo"} aria-current={n === at ? "step" : undefined}>
          <span aria-hidden="true">{n < at || i.step === "done" ? "✓" : n === at ? (i.step === "apply-failed" ? "✕" : "▶") : "·"}</span> {s.label}
          {n === at && i.step === "apply-failed" ? " failed" : ""}
        </li>
      ))}
    </ol>
  );
}

/** The last lines of the incident's Terraform apply (redacted by the server), under its steps; newest last. */
function Progress({ i }: { i: Incident }): preact.JSX.Element | null {
  if (!i.progress?.length) return null;
  return (
    <div class="tf-progress">
      <p class="muted">Terraform apply, last {i.progress.length === 1 ? "line" : `${i.progress.length} lines`}:</p>
      <ol aria-label={`Terraform output for ${i.nodeName}`} data-testid={`tf-progress-${i.nodeName}`}>
        {i.progress.map((l, n) => (
          <li key={n} class={`l-${l.level}`}>
            <time dateTime={new Date(l.at).toISOString()}>{new Date(l.at).toISOString().slice(11, 19)}</time> <code>{l.message}</code>
          </li>
        ))}
      </ol>
    </div>
  );
}

/**
 * What a short-circuited pool says: that nothing is replaced and why, with
 * the "Acknowledge short-circuit" action; or, once acknowledged, who did it
 * and that replacements proceed within the other guards.
 */
function ShortCircuit({ p }: { p: PoolStatus }): preact.JSX.Element {
  const [reason, setReason] = useState("");
  const s = p.summary;
  const ack = p.shortCircuitAck;
  if (s.shortCircuitAcknowledged && ack) {
    return (
      <div class="short-circuit acknowledged" data-testid={`short-circuit-${p.pool}`} data-acknowledged="true">
        <p>
          <strong>⚠ Short-circuit acknowledged</strong>
          {ack.by ? ` by ${ack.by}` : ""}
          {ack.at ? `, ${ago(ack.at)}` : ""}
          {ack.reason ? ` (${ack.reason})` : ""}: {s.unhealthy} of {s.members} nodes are unhealthy, and replacements proceed within maxConcurrent, cooldown, server quorum and the
          apply budget. The acknowledgement is removed once the pool is no longer short-circuited.
        </p>
      </div>
    );
  }
  return (
    <div class="short-circuit" data-testid={`short-circuit-${p.pool}`} data-acknowledged="false">
      <p>
        <strong>✕ Nothing is replaced:</strong> {s.unhealthy} of {s.members} nodes are unhealthy, more than the pool's maxUnhealthy allows; the cause is likely the network or
        something shared. If you have looked and the nodes are really lost, acknowledge it: replacements then proceed one guard at a time (maxConcurrent, cooldown, quorum,
        budget) until the pool recovers.
      </p>
      <div class="toolbar">
        <label>
          Why <input type="text" value={reason} maxLength={200} placeholder="e.g. rack 4 lost" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
        <ActionButton name="ack-short-circuit" body={{ pool: p.pool, ...(reason.trim() ? { reason: reason.trim() } : {}) }} label="Acknowledge short-circuit" />
      </div>
    </div>
  );
}

function Pool({ p }: { p: PoolStatus }): preact.JSX.Element {
  const s = p.summary;
  const healthy = s.members - s.unhealthy;
  return (
    <article class="pool" aria-labelledby={`pool-${p.pool}`} data-pool={p.pool}>
      <h2 id={`pool-${p.pool}`}>
        {p.pool} <span class="muted">({p.role}s in {p.env})</span>{" "}
        {s.shortCircuited ? (
          s.shortCircuitAcknowledged ? (
            <span class="badge s-out_of_sync">⚠ short-circuited, acknowledged</span>
          ) : (
            <span class="badge s-error">✕ short-circuited: nothing is replaced</span>
          )
        ) : null}
      </h2>
      {s.shortCircuited ? <ShortCircuit p={p} /> : null}
      <ul class="counts" aria-label="Nodes">
        <li data-testid={`healthy-${p.pool}`}>
          <span class="badge s-in_sync">✓ {healthy} healthy</span>
        </li>
        <li data-testid={`unhealthy-${p.pool}`}>
          <span class={`badge ${s.unhealthy ? "s-out_of_sync" : "s-paused"}`}>⚠ {s.unhealthy} unhealthy</span>
        </li>
        <li data-testid={`lost-${p.pool}`}>
          <span class={`badge ${s.lost ? "s-error" : "s-paused"}`}>✕ {s.lost} lost</span>
        </li>
        <li>
          <span class="badge s-paused">↻ {s.inFlight} replacing</span>
        </li>
        <li>
          <span class={`badge ${s.orphans ? "s-drifted" : "s-paused"}`}>? {s.orphans} orphaned instances</span>
        </li>
      </ul>
      <h3>Replacements</h3>
      {p.incidents.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul class="incidents">
          {p.incidents.map((i) => (
            <li key={i.nodeName} data-node={i.nodeName} data-step={i.step}>
              <strong>{i.nodeName}</strong> <code>{i.address}</code> <span class="muted">attempt {i.attempts}</span>
              <Steps i={i} />
              <Progress i={i} />
              <span class="muted">
                unhealthy since {ago(iso(i.unhealthySince))}
                {i.applyStartedAt ? `, apply started ${ago(iso(i.applyStartedAt))}` : ""}
                {i.finishedAt ? `, finished ${ago(iso(i.finishedAt))}` : ""}
              </span>
              {i.lastError ? <p class="error-text">Last error: {i.lastError}</p> : null}
            </li>
          ))}
        </ul>
      )}
      <h3>What the last plan said</h3>
      <ul class="plan">
        {p.actions.map((a, n) => (
          <li key={n}>
            <strong>{a.kind}</strong> [<code>{a.reason}</code>] {a.message}
          </li>
        ))}
      </ul>
      <p class="muted">
        Planned {ago(iso(p.at))}. <span data-testid="budget-tokens">Apply budget: {p.budgetTokens} {p.budgetTokens === 1 ? "apply" : "applies"} left this window.</span>{" "}
        Terraform's lines are shown by the instance that runs the apply (the leader).
      </p>
    </article>
  );
}

/** Node pools: fed by the healing loop's `pools` collection (only the leader plans pools; a standby shows what it has). */
export function PoolsPage({ store }: { store: LiveStore }): preact.JSX.Element {
  const pools = [...(store.collections.get("pools")?.values() ?? [])] as PoolStatus[];
  return (
    <section aria-labelledby="pools-title">
      <h1 id="pools-title">Node pools</h1>
      {pools.length === 0 ? (
        <p class="muted" data-testid="pools-empty">
          No node pools reported: healing is off on this Steward (no <code>healing</code> section in its configuration), no pool is declared in the desired state, or this instance
          stands by (the leader plans the pools).
        </p>
      ) : (
        pools.sort((a, b) => (a.pool < b.pool ? -1 : 1)).map((p) => <Pool key={p.pool} p={p} />)
      )}
    </section>
  );
}
