// Reading PromQL just far enough to know which metrics an expression selects,
// and turning a Grafana panel's expression into plain PromQL.

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);

/**
 * The metric names an expression selects: identifiers that are not
 * functions, aggregations, keywords, label names or durations.
 */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // range and subquery windows
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?([smhdwy]|ms)?\b/gi, " "); // numbers and durations
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = s.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

/** A Grafana expression as Prometheus takes it: `$__rate_interval` → 1m, `$env` (All) → `.*`. */
export function grafanaToPromql(expr: string, rateInterval = "1m"): string {
  return expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, rateInterval).replace(/\$\{?env\}?/g, ".*");
}

/** deploy/grafana/steward.json. */
export const DASHBOARD_FILE = "deploy/grafana/steward.json";

/** Every PromQL expression of a dashboard: panel targets (rows included) and query variables. */
export function dashboardExprs(dash: Record<string, any>): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const visit = (panels: any[]): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: String(t.expr) });
      visit(p.panels);
    }
  };
  visit(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const m = typeof q === "string" ? /^label_values\((.+),\s*\w+\)$/.exec(q) : null;
    if (m?.[1]) out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}
