import type { InstanceView } from "../../src/server/live-types.js";
import { ago } from "./format.js";
import type { LiveStore } from "./store.js";

/**
 * Who is there: the leader (since when it leads) and every standby (its
 * address, how long it has been up, whether it is ready), live from the
 * instances' presence keys in Consul.
 */
export function Instances({ store }: { store: LiveStore }): preact.JSX.Element | null {
  const i = store.sections.instance;
  if (!i) return null;
  const list = i.instances ?? [];
  const leader = i.leader;
  const leaderView = list.find((x) => x.id === leader?.id);
  const standbys = list.filter((x) => x.id !== leader?.id);
  return (
    <section aria-labelledby="instances-title" class="instances" data-testid="instances">
      <h2 id="instances-title">Instances</h2>
      <ul>
        <li data-instance={leader?.id ?? ""} data-role="leader">
          <span class="badge role-leader">
            <span aria-hidden="true">★</span> leader
          </span>{" "}
          {leader ? (
            <>
              <strong>{leader.id}</strong> <code>{leaderView?.address ?? leader.address}</code> <span class="muted">leads since {ago(leader.since)}</span>
              {leaderView ? <Health v={leaderView} /> : null}
              {leader.id === i.id ? <> <span class="tag">this page</span></> : null}
            </>
          ) : (
            <span class="error-text">nobody leads right now</span>
          )}
        </li>
        {standbys.map((s) => (
          <li key={s.id} data-instance={s.id} data-role="standby">
            <span class="badge role-standby">standby</span> <strong>{s.id}</strong> <code>{s.address}</code> <span class="muted">up since {ago(s.startedAt)}</span>
            <Health v={s} />
            {s.id === i.id ? <> <span class="tag">this page</span></> : null}
          </li>
        ))}
        {standbys.length === 0 ? <li class="muted">No standby: a failure of the leader leaves nobody to take over.</li> : null}
      </ul>
    </section>
  );
}

function Health({ v }: { v: InstanceView }): preact.JSX.Element {
  return v.ready ? (
    <span class="health ok"> · ✓ ready</span>
  ) : (
    <span class="health not-ready" title={v.notReady}>
      {" "}
      · ✕ not ready{v.notReady ? `: ${v.notReady}` : ""}
    </span>
  );
}
