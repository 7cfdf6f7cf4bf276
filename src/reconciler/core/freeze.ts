/**
 * An operator's freeze of one environment (`steward/control/freeze/<env>`):
 * nothing new is deployed there until it is lifted. Pure types and helpers,
 * shared by the controls source, the planners and the views.
 */

/** Who froze an environment, why and when, as the switch's JSON note says (each part absent when the note lacks it). */
export interface FreezeNote {
  by?: string;
  reason?: string;
  /** ISO 8601. */
  at?: string;
}

/** One line naming a freeze: `qa is frozen by ana (release night) since 2026-…`, each part only when known. */
export function describeFreeze(env: string, note: FreezeNote): string {
  return `${env} is frozen${note.by ? ` by ${note.by}` : ""}${note.reason ? ` (${note.reason})` : ""}${note.at ? ` since ${note.at}` : ""}`;
}
