import { useEffect, useState } from "preact/hooks";
import type { ActionReply, ActionRequest } from "../../src/server/live-types.js";
import { act, decide, type ActionName } from "./actions.js";

/** The latest action's answer, shown in one live region for the whole page. */
let notice: (ActionReply & { seq: number; action: string }) | undefined;
let seq = 0;
const listeners = new Set<() => void>();

function announce(action: string, reply: ActionReply): void {
  notice = { ...reply, seq: ++seq, action };
  for (const l of listeners) l();
}

/** A button that sends one action and announces the server's answer (done, or why it was refused). */
export function ActionButton({ name, body, label }: { name: ActionName; body: ActionRequest; label: string }): preact.JSX.Element {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="action"
      data-action={name}
      aria-busy={busy}
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void act(name, body).then((reply) => {
          setBusy(false);
          announce(label, reply);
        });
      }}
    >
      {label}
    </button>
  );
}

/** Approve or Reject a digest waiting on a manual gate; the answer goes to the same live region. */
export function DecisionButton({ service, digest, decision, label }: { service: string; digest: string; decision: "approve" | "reject"; label: string }): preact.JSX.Element {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={`action ${decision}`}
      data-decision={decision}
      aria-busy={busy}
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void decide(service, digest, decision).then((reply) => {
          setBusy(false);
          announce(label, reply);
        });
      }}
    >
      {label}
    </button>
  );
}

/** Where action results are read out (role=status, polite). */
export function ActionNotice(): preact.JSX.Element {
  const [, setSeq] = useState(0);
  useEffect(() => {
    const l = (): void => setSeq(seq);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return (
    <div role="status" aria-live="polite" class={`notice${notice ? (notice.ok ? " ok" : " refused") : ""}`} data-testid="action-result" data-ok={notice ? String(notice.ok) : ""}>
      {notice ? (
        <>
          <strong>{notice.action}:</strong> {notice.ok ? "✓ " : "✕ "}
          {notice.message}
        </>
      ) : null}
    </div>
  );
}
