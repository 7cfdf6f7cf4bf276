import type { CellDeployment } from "../../src/server/live-types.js";

/** Each Nomad deployment status's words and symbol: the colour is never the only carrier. Unknown statuses show as Nomad names them. */
const DEPLOY_LABEL: Record<string, { text: string; icon: string; tone: string }> = {
  successful: { text: "successful", icon: "✓", tone: "ok" },
  running: { text: "running", icon: "▶", tone: "sync" },
  pending: { text: "pending", icon: "…", tone: "sync" },
  initializing: { text: "initializing", icon: "…", tone: "sync" },
  unblocking: { text: "unblocking", icon: "…", tone: "sync" },
  paused: { text: "paused", icon: "⏸", tone: "pause" },
  blocked: { text: "blocked", icon: "⏸", tone: "pause" },
  failed: { text: "failed", icon: "✕", tone: "err" },
  cancelled: { text: "cancelled", icon: "⊘", tone: "pause" },
  none: { text: "no deployment", icon: "–", tone: "none" },
};

/** The label of a deployment status (`successful`, `no deployment`). */
export function deploymentLabel(d: CellDeployment): { text: string; icon: string; tone: string } {
  return DEPLOY_LABEL[d.status] ?? { text: d.status, icon: "•", tone: "none" };
}

/** One sentence about a deployment, for the tooltip and the service page: status, job version, Nomad's description. */
export function deploymentSentence(d: CellDeployment): string {
  if (d.status === "none") return "Nomad has no deployment of this job (batch and system jobs, or no update block)";
  return `Deployment ${d.status}${d.jobVersion !== undefined ? ` (job version ${d.jobVersion})` : ""}${d.description ? `: ${d.description}` : ""}`;
}

/** A cell's deployment status: symbol and words (the description is in the cell's tooltip). */
export function DeploymentStatus({ deployment }: { deployment: CellDeployment }): preact.JSX.Element {
  const l = deploymentLabel(deployment);
  return (
    <span class={`deploy d-${l.tone}`} data-deployment={deployment.status}>
      <span class="sr-only">deployment </span>
      <span aria-hidden="true">{l.icon}</span> {l.text}
    </span>
  );
}
