// Operator actions from the page. The token is typed by the operator and kept
// in this tab's sessionStorage only: Steward never sends a secret to the page.
import type { ActionReply, ActionRequest } from "../../src/server/live-types.js";

const TOKEN_KEY = "steward.actionToken";
const WHO_KEY = "steward.who";

/** The action names the server knows. */
export type ActionName = "sync-now" | "pause" | "resume" | "freeze" | "unfreeze" | "retry-gate" | "ack-short-circuit";

export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function savedWho(): string {
  return sessionStorage.getItem(WHO_KEY) ?? "";
}

export function saveCredentials(token: string, who: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  if (who) sessionStorage.setItem(WHO_KEY, who);
  else sessionStorage.removeItem(WHO_KEY);
}

/**
 * Sends an action. Without a token it is still sent, so the server's own
 * refusal (what is missing) is what the operator reads.
 */
export async function act(name: ActionName, body: ActionRequest): Promise<ActionReply> {
  const token = savedToken();
  const who = savedWho();
  try {
    const res = await fetch(`/api/actions/${name}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Steward-Action": "1",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ ...body, ...(who ? { who } : {}) }),
    });
    const reply = (await res.json().catch(() => undefined)) as Partial<ActionReply> | undefined;
    return { ok: res.ok && reply?.ok === true, message: reply?.message ?? `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, message: `could not reach Steward: ${(err as Error).message}` };
  }
}

/**
 * Approves or rejects a digest waiting on a manual gate, through the same
 * `POST /api/approvals` the CLI's `steward approve` and CI use.
 */
export async function decide(service: string, digest: string, decision: "approve" | "reject"): Promise<ActionReply> {
  const token = savedToken();
  const who = savedWho();
  try {
    const res = await fetch("/api/approvals", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Steward-Action": "1", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ service, digest, decision, ...(who ? { by: `${who} via ui` } : { by: "ui" }) }),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    if (res.ok) return { ok: true, message: `${digest.slice(7, 19)} ${decision === "approve" ? "approved" : "rejected"}` };
    return { ok: false, message: `refused: ${body.error ?? `HTTP ${res.status}`}` };
  } catch (err) {
    return { ok: false, message: `could not reach Steward: ${(err as Error).message}` };
  }
}

/** `GET /api/access`: whether reads need the token here, and whether this tab has a read session. */
export async function access(): Promise<{ reads: "open" | "token"; session: boolean }> {
  try {
    const r = await fetch("/api/access");
    return (await r.json()) as { reads: "open" | "token"; session: boolean };
  } catch {
    return { reads: "open", session: true };
  }
}

/** Opens a read session (an HttpOnly cookie) with the saved token, where reads need it. */
export async function signIn(): Promise<ActionReply> {
  const token = savedToken();
  const res = await fetch("/api/session", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Steward-Action": "1", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: "{}",
  });
  const reply = (await res.json().catch(() => undefined)) as Partial<ActionReply> | undefined;
  return { ok: res.ok, message: reply?.message ?? `HTTP ${res.status}` };
}
