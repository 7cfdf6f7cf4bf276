import type { PromotionServiceStatus } from "../../src/server/live-types.js";
import { ActionButton, DecisionButton } from "./action-button.js";
import { ago, clock, shortDigest } from "./format.js";

type Pending = PromotionServiceStatus["pending"][number];

/**
 * Whether a pending step waits on a manual gate. The planner says so only in
 * its message (the gate verdict "awaiting a manual approval"); this is the
 * one place that reads it.
 */
export function awaitsApproval(p: Pending): boolean {
  return p.reason === "GatePending" && /manual approval/.test(p.message);
}

function digestLabel(d: { digest?: string; tag?: string }): string {
  return d.tag ? `${d.tag} (${shortDigest(d.digest)})` : shortDigest(d.digest);
}

/** The promotion pipeline of one service: stages, digests on their way, failed digests, the journal. */
export function PromotionPanel({ p }: { p: PromotionServiceStatus }): preact.JSX.Element {
  const history = [...p.history].reverse();
  return (
    <div class="promotion" data-testid="promotion">
      <ol class="stages" aria-label="Stages in promotion order">
        {p.stages.map((st, i) => (
          <li key={st.name} class="stage" data-stage={st.name}>
            <span class="stage-name">
              {i > 0 ? <span aria-hidden="true">→ </span> : null}
              {st.name}
            </span>{" "}
            {st.hold ? (
              <span class="badge s-out_of_sync">⏳ held (deployment or rollback under way)</span>
            ) : (
              <code data-testid={`stage-digest-${st.name}`} title={st.digest}>
                {digestLabel(st)}
              </code>
            )}{" "}
            <span class="muted">{st.source === "journal" ? "promoted" : st.source === "pinned" ? "pinned in service.yaml" : "no image yet"}</span>
          </li>
        ))}
      </ol>
      <h3>On their way</h3>
      {p.pending.length === 0 ? (
        <p class="muted">No digest is moving.</p>
      ) : (
        <ul class="pending">
          {p.pending.map((x) => (
            <li key={`${x.digest}-${x.reason}`} data-digest={x.digest} data-reason={x.reason}>
              <code title={x.digest}>{digestLabel(x)}</code> <strong>{x.kind}</strong> <code>{x.reason}</code>: {x.message}
              {awaitsApproval(x) ? (
                <span class="decide">
                  {" "}
                  <DecisionButton service={p.service} digest={x.digest} decision="approve" label={`Approve ${x.tag ?? shortDigest(x.digest)}`} />{" "}
                  <DecisionButton service={p.service} digest={x.digest} decision="reject" label={`Reject ${x.tag ?? shortDigest(x.digest)}`} />
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {p.failed.length ? (
        <>
          <h3>Failed (never promoted again, unless a failed gate is retried)</h3>
          <ul>
            {p.failed.map((f) => (
              <li key={f.digest}>
                <span class="badge s-error">✕ failed</span> <code title={f.digest}>{digestLabel(f)}</code>
                {f.stage ? ` in ${f.stage}` : ""}: {f.reason ? <code>{f.reason}</code> : null} {f.message}
                {f.stage && (f.reason === "GateFailed" || f.reason === "GateTimedOut") ? (
                  <>
                    {" "}
                    <ActionButton name="retry-gate" body={{ service: p.service, stage: f.stage, digest: f.digest }} label={`Retry gate of ${f.tag ?? shortDigest(f.digest)} in ${f.stage}`} />
                  </>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <p class="muted">
        Registry {p.repository}: {p.registry.failures ? `${p.registry.failures} failed polls (${p.registry.lastError ?? ""})` : `last polled ${ago(p.registry.lastOkAt ? new Date(p.registry.lastOkAt).toISOString() : undefined)}`}
      </p>
      <h3>Journal</h3>
      {history.length === 0 ? (
        <p class="muted">Nothing promoted yet.</p>
      ) : (
        <table class="journal">
          <caption class="sr-only">Journal lines, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Digest</th>
              <th scope="col">Stage</th>
              <th scope="col">Step</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {history.map((h, i) => (
              <tr key={`${h.at}-${i}`}>
                <td>
                  <time dateTime={new Date(h.at).toISOString()}>{clock(new Date(h.at).toISOString())}</time>
                </td>
                <td>
                  <code title={h.digest}>{digestLabel(h)}</code>
                </td>
                <td>
                  {h.stage ?? ""}
                  {h.gate !== undefined ? ` gate ${h.gate}` : ""}
                </td>
                <td>
                  <code>{h.reason}</code>
                </td>
                <td>{h.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
