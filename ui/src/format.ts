import type { SyncCellState } from "../../src/server/live-types.js";

/** Each state's label and symbol: the colour is never the only carrier. */
export const STATE_LABEL: Record<SyncCellState, { text: string; icon: string }> = {
  in_sync: { text: "synced", icon: "✓" },
  out_of_sync: { text: "out of sync", icon: "↻" },
  drifted: { text: "drifted", icon: "≠" },
  error: { text: "error", icon: "✕" },
  paused: { text: "paused", icon: "⏸" },
  frozen: { text: "frozen", icon: "❄" },
  unknown: { text: "unknown", icon: "?" },
};

/** `sha256:abcdef…` → `abcdef12` (8 hex digits, as the registry UIs show it). */
export function shortDigest(d: string | undefined): string {
  if (!d) return "—";
  const hex = d.replace(/^sha256:/, "");
  return hex.slice(0, 8);
}

export function shortRevision(r: string | undefined): string {
  if (!r) return "—";
  return /^[0-9a-f]{40}$/.test(r) ? r.slice(0, 8) : r.slice(0, 24);
}

/** `12 s ago`, `3 min ago`, or the local time for older instants. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(t).toLocaleString();
}

export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour12: false });
}
