import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { PromotionServiceStatus, SyncCell, SyncCellState } from "../../src/server/live-types.js";
import { ActionButton } from "./action-button.js";
import { DeploymentStatus, deploymentSentence } from "./deployment.js";
import { Instances } from "./instances.js";
import { EventList } from "./events.js";
import { STATE_LABEL, ago, shortDigest, shortRevision } from "./format.js";
import type { LiveStore, ServiceRow } from "./store.js";

/** Row height in pixels: the virtual list positions rows by it. */
const ROW_H = 44;
/** Rows rendered above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 6;

/** The state of one cell as a badge: symbol and words, colour as a third cue. */
export function StateBadge({ state }: { state: SyncCellState }): preact.JSX.Element {
  const l = STATE_LABEL[state];
  return (
    <span class={`badge s-${state}`}>
      <span aria-hidden="true">{l.icon}</span> {l.text}
    </span>
  );
}

/** What a cell's tooltip says: why it is in its state, its error, its deployment with Nomad's description. */
function cellTip(cell: SyncCell | undefined): string {
  if (!cell) return "not in this environment";
  return [cell.message, cell.error, cell.deployment ? deploymentSentence(cell.deployment) : undefined].filter(Boolean).join(" — ");
}

/** The tooltip's widest (32rem) plus a margin, in pixels: it is moved left so it stays in the window. */
const TIP_W = 32 * 16 + 16;

/** Where the tooltip of a hovered or focused cell shows (the grid clips, so it floats outside). */
interface Tip {
  key: string;
  x: number;
  y: number;
}

function Cell({ cell, active, row, col, onOpen, tip, onTip }: { cell: SyncCell | undefined; active: boolean; row: number; col: number; onOpen: () => void; tip: boolean; onTip: (el: HTMLElement | undefined) => void }): preact.JSX.Element {
  return (
    <div
      role="gridcell"
      class={`cell${active ? " active" : ""}`}
      tabIndex={active ? 0 : -1}
      data-row={row}
      data-col={col}
      data-key={cell?.key}
      data-state={cell?.state ?? "none"}
      aria-describedby={tip ? "cell-tip" : undefined}
      onClick={onOpen}
      onMouseEnter={(e) => onTip(e.currentTarget)}
      onMouseLeave={() => onTip(undefined)}
      onFocus={(e) => onTip(e.currentTarget)}
      onBlur={() => onTip(undefined)}
    >
      {cell ? (
        <>
          <StateBadge state={cell.state} />
          <code class="digest" title={cell.digest ?? "running digest unknown"}>
            <span class="sr-only">digest </span>
            {shortDigest(cell.digest)}
          </code>
          {cell.deployment ? <DeploymentStatus deployment={cell.deployment} /> : <span class="nomad">{cell.nomadStatus ?? "absent"}</span>}
        </>
      ) : (
        <span class="muted">not deployed here</span>
      )}
    </div>
  );
}

/**
 * An environment's column header: its name, `frozen` (with who and why) when
 * an operator froze it, and the Freeze or Unfreeze button.
 */
function EnvHeader({ env, frozen }: { env: string; frozen: { by?: string; reason?: string; at?: string } | undefined }): preact.JSX.Element {
  const why = frozen ? `frozen${frozen.by ? ` by ${frozen.by}` : ""}${frozen.reason ? `: ${frozen.reason}` : ""}` : "";
  return (
    <div role="columnheader" class="cell head env-head" data-env-head={env} data-frozen={frozen ? "true" : "false"}>
      <span>{env}</span>
      {frozen ? (
        <span class="tag frozen" title={why} data-testid={`frozen-${env}`}>
          <span aria-hidden="true">❄ </span>
          {why}
        </span>
      ) : null}
      {frozen ? <ActionButton name="unfreeze" body={{ env }} label={`Unfreeze ${env}`} /> : <ActionButton name="freeze" body={{ env }} label={`Freeze ${env}`} />}
    </div>
  );
}

/**
 * The overview: services × environments, virtualised (only the rows in view
 * are in the DOM), keyboard navigable as an ARIA grid (arrows, Page Up/Down,
 * Home/End, Enter opens the service).
 */
export function Overview({ store }: { store: LiveStore }): preact.JSX.Element {
  const envs = store.environments();
  const all = store.rows();
  const [filter, setFilter] = useState("");
  const rows = useMemo(() => (filter ? all.filter((r) => r.service.includes(filter.trim())) : all), [all, filter]);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [active, setActive] = useState({ row: 0, col: 0 });
  const focusPending = useRef(false);
  const [tip, setTip] = useState<Tip | undefined>(undefined);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Layout effect: focus follows the key press in the same frame (plain effects wait for a paint).
  useLayoutEffect(() => {
    if (!focusPending.current) return;
    focusPending.current = false;
    scroller.current?.querySelector<HTMLElement>(`[data-row="${active.row}"][data-col="${active.col}"]`)?.focus();
  });

  const cols = envs.length + 1;
  const open = (r: ServiceRow | undefined): void => {
    if (r) location.hash = `#/service/${encodeURIComponent(r.service)}`;
  };
  const moveTo = (row: number, col: number): void => {
    const r = Math.max(0, Math.min(rows.length - 1, row));
    const c = Math.max(0, Math.min(cols - 1, col));
    const el = scroller.current;
    if (el) {
      if (r * ROW_H < el.scrollTop) el.scrollTop = r * ROW_H;
      else if ((r + 1) * ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = (r + 1) * ROW_H - el.clientHeight;
      setScrollTop(el.scrollTop);
    }
    focusPending.current = true;
    setActive({ row: r, col: c });
  };
  const page = Math.max(1, Math.floor(height / ROW_H) - 1);
  const onKey = (e: KeyboardEvent): void => {
    // A button in a column header (Freeze) takes its own Enter and Space.
    if ((e.target as HTMLElement | null)?.closest("button")) return;
    const { row, col } = active;
    const moves: Record<string, () => void> = {
      ArrowDown: () => moveTo(row + 1, col),
      ArrowUp: () => moveTo(row - 1, col),
      ArrowRight: () => moveTo(row, col + 1),
      ArrowLeft: () => moveTo(row, col - 1),
      PageDown: () => moveTo(row + page, col),
      PageUp: () => moveTo(row - page, col),
      Home: () => (e.ctrlKey ? moveTo(0, 0) : moveTo(row, 0)),
      End: () => (e.ctrlKey ? moveTo(rows.length - 1, cols - 1) : moveTo(row, cols - 1)),
      Enter: () => open(rows[row]),
      " ": () => open(rows[row]),
    };
    const m = moves[e.key];
    if (m) {
      e.preventDefault();
      m();
    }
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_H) + OVERSCAN);
  // The roving tab stop stays in the DOM: when the active row scrolled away, the first rendered row takes it.
  const tabRow = active.row >= first && active.row < last ? active.row : first;
  const counts = countStates(store);
  const rev = store.sections.revision;

  return (
    <section aria-labelledby="overview-title" class="overview">
      <div class="page-head">
        <h1 id="overview-title">Overview</h1>
        <p class="summary" data-testid="summary">
          {store.sync.size.toLocaleString()} jobs in {envs.length} environments:{" "}
          {(Object.keys(STATE_LABEL) as SyncCellState[])
            .filter((s) => counts[s])
            .map((s) => `${counts[s]?.toLocaleString()} ${STATE_LABEL[s].text}`)
            .join(", ") || "none yet"}
        </p>
        <p class="revision-line">
          Revision <code data-testid="revision">{shortRevision(rev?.good?.revision)}</code>
          {envs.map((e) => (
            <span key={e}>
              {" "}
              · {e} last synced {ago(rev?.lastSyncByEnv[e])}
            </span>
          ))}
        </p>
      </div>
      <Instances store={store} />
      <div class="toolbar" role="toolbar" aria-label="Sync actions">
        <label class="filter">
          Filter services{" "}
          <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} placeholder="name contains…" />
        </label>
        <ActionButton name="sync-now" body={{}} label="Sync all" />
        {envs.map((e) => (
          <ActionButton key={e} name="sync-now" body={{ env: e }} label={`Sync ${e}`} />
        ))}
        {store.sections.controls?.paused ? (
          <ActionButton name="resume" body={{}} label="Resume all" />
        ) : (
          <ActionButton name="pause" body={{}} label="Pause all" />
        )}
      </div>
      <div role="grid" aria-label="Sync state of every service in every environment" aria-rowcount={rows.length + 1} aria-colcount={cols} class="grid" onKeyDown={onKey}>
        <div role="rowgroup" class="grid-head">
          <div role="row" aria-rowindex={1} class="row" style={{ gridTemplateColumns: template(envs.length) }}>
            <div role="columnheader" class="cell head">
              Service
            </div>
            {envs.map((e) => (
              <EnvHeader key={e} env={e} frozen={store.sections.controls?.frozen?.[e]} />
            ))}
          </div>
        </div>
        <div role="rowgroup" class="grid-body" ref={scroller} style={{ height: `${rows.length * ROW_H + 2}px` }} onScroll={(e) => {
          setScrollTop((e.target as HTMLDivElement).scrollTop);
          setTip(undefined);
        }}>
          <div role="presentation" style={{ height: `${rows.length * ROW_H}px`, position: "relative" }}>
            {rows.slice(first, last).map((r, i) => {
              const index = first + i;
              return (
                <div role="row" aria-rowindex={index + 2} class="row" key={r.service} style={{ transform: `translateY(${index * ROW_H}px)`, gridTemplateColumns: template(envs.length) }}>
                  <div
                    role="rowheader"
                    class={`cell name${tabRow === index && active.col === 0 ? " active" : ""}`}
                    tabIndex={tabRow === index && active.col === 0 ? 0 : -1}
                    data-row={index}
                    data-col={0}
                    onClick={() => open(r)}
                    onFocus={() => active.row !== index && setActive({ row: index, col: 0 })}
                  >
                    <a href={`#/service/${encodeURIComponent(r.service)}`} tabIndex={-1}>
                      {r.service}
                    </a>
                    {store.sections.controls?.pausedServices.includes(r.service) ? <span class="tag">paused</span> : null}
                    {(store.collections.get("promotion")?.get(r.service) as PromotionServiceStatus | undefined)?.pending.length ? <span class="tag">promoting</span> : null}
                  </div>
                  {envs.map((e, c) => {
                    const cell = r.cells[e];
                    const key = cell?.key ?? `${e}/-${r.service}`;
                    return (
                      <Cell
                        key={e}
                        cell={cell}
                        active={tabRow === index && active.col === c + 1}
                        row={index}
                        col={c + 1}
                        onOpen={() => open(r)}
                        tip={tip?.key === key}
                        onTip={(el) => {
                          const b = el?.getBoundingClientRect();
                          setTip(b ? { key, x: b.left, y: b.bottom } : undefined);
                        }}
                      />
                    );
                  })}
                </div>
              );
            })}
          </div>
        </div>
      </div>
      {tip ? (
        <div role="tooltip" id="cell-tip" class="cell-tip" data-testid="cell-tip" style={{ left: `${Math.max(0, Math.min(tip.x, window.innerWidth - TIP_W))}px`, top: `${tip.y + 2}px` }}>
          {cellTip(store.sync.get(tip.key))}
        </div>
      ) : null}
      {rows.length === 0 ? <p class="muted">{store.sync.size ? "No service matches the filter." : "No jobs yet: waiting for the desired state and the clusters."}</p> : null}
      <h2 id="recent-title">Recent events</h2>
      <EventList events={store.events.slice(-8)} label="Recent events, newest first" />
      <p>
        <a href="#/events">All events</a>
      </p>
    </section>
  );
}

function template(envs: number): string {
  return `minmax(10rem, 1.2fr) repeat(${envs}, minmax(14rem, 1fr))`;
}

function countStates(store: LiveStore): Partial<Record<SyncCellState, number>> {
  const out: Partial<Record<SyncCellState, number>> = {};
  for (const c of store.sync.values()) out[c.state] = (out[c.state] ?? 0) + 1;
  return out;
}
