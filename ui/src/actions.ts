// Operator actions from the page. The token is typed by the operator and kept
// in this tab's sessionStorage only: Steward never sends a secret to the page.
import type { ActionReply, ActionRequest } from "../../src/server/live-types.js";

const TOKEN_KEY = "steward.actionToken";
const WHO_KEY = "steward.who";

/** The action names the server knows. */
export type ActionName = "sync-now" | "pause" | "resume";

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
