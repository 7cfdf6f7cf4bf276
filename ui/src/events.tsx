import { useState } from "preact/hooks";
import type { LiveEvent } from "../../src/server/live-types.js";
import { clock } from "./format.js";
import type { LiveStore } from "./store.js";

/** Events rendered at most (newest first); the filters reach the rest. */
const SHOWN = 300;

/** Filters of the event list; empty fields match everything. */
export interface EventFilter {
  loop?: string;
  env?: string;
  service?: string;
  pool?: string;
}

export function matches(e: LiveEvent, f: EventFilter): boolean {
  return (!f.loop || e.loop === f.loop) && (!f.env || e.env === f.env) && (!f.service || e.service === f.service) && (!f.pool || e.pool === f.pool);
}

/** A list of events, newest first. */
export function EventList({ events, label }: { events: LiveEvent[]; label: string }): preact.JSX.Element {
  const shown = events.slice(-SHOWN).reverse();
  if (!shown.length) return <p class="muted">No events yet.</p>;
  return (
    <ol class="events" aria-label={label}>
      {shown.map((e) => (
        <li key={e.id} class={`event l-${e.level}`} data-loop={e.loop} data-kind={e.kind}>
          <time dateTime={e.at}>{clock(e.at)}</time>
          <span class="loop">{e.loop}</span>
          {e.level !== "info" ? <span class="level">{e.level === "error" ? "✕ error" : "⚠ warning"}</span> : null}
          <span class="msg">{e.message}</span>
          {e.by ? <span class="by">by {e.by}</span> : null}
        </li>
      ))}
    </ol>
  );
}

function Select({ label, value, options, onChange }: { label: string; value: string; options: string[]; onChange: (v: string) => void }): preact.JSX.Element {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The event stream page: what Steward did and why, filterable by loop, environment, service, pool. */
export function EventsPage({ store }: { store: LiveStore }): preact.JSX.Element {
  const [f, setF] = useState<EventFilter>({});
  const distinct = (pick: (e: LiveEvent) => string | undefined): string[] => [...new Set(store.events.map(pick).filter((x): x is string => !!x))].sort();
  const filtered = store.events.filter((e) => matches(e, f));
  const set = (k: keyof EventFilter) => (v: string) => setF({ ...f, [k]: v || undefined });
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <form class="toolbar" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <Select label="Loop" value={f.loop ?? ""} options={distinct((e) => e.loop)} onChange={set("loop")} />
        <Select label="Environment" value={f.env ?? ""} options={[...new Set([...store.environments(), ...distinct((e) => e.env)])]} onChange={set("env")} />
        <Select label="Service" value={f.service ?? ""} options={distinct((e) => e.service)} onChange={set("service")} />
        <Select label="Pool" value={f.pool ?? ""} options={distinct((e) => e.pool)} onChange={set("pool")} />
        <span class="muted" aria-live="polite">
          {filtered.length} of {store.events.length}
        </span>
      </form>
      <EventList events={filtered} label="Events, newest first" />
    </section>
  );
}
