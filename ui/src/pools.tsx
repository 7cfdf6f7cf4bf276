import type { LiveStore } from "./store.js";

/** Node pools: fed by the healing loop's `pools` collection once that loop runs on this Steward. */
export function PoolsPage({ store }: { store: LiveStore }): preact.JSX.Element {
  const pools = store.collections.get("pools");
  return (
    <section aria-labelledby="pools-title">
      <h1 id="pools-title">Node pools</h1>
      {!pools || pools.size === 0 ? (
        <p class="muted" data-testid="pools-empty">
          No node pools reported: the healing loop (issue 8) is not running on this Steward yet, or no pool is declared in the desired state.
        </p>
      ) : (
        <ul>
          {[...pools.keys()].sort().map((k) => (
            <li key={k}>{k}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
