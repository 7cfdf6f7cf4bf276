import { useState } from "preact/hooks";
import { ActionNotice } from "./action-button.js";
import { saveCredentials, savedToken, savedWho, signIn } from "./actions.js";
import { EventsPage } from "./events.js";
import { ago } from "./format.js";
import { useRoute, useStore } from "./hooks.js";
import { Overview } from "./overview.js";
import { PoolsPage } from "./pools.js";
import { ServicePage } from "./service.js";
import type { LiveStore } from "./store.js";

function Leader({ store }: { store: LiveStore }): preact.JSX.Element {
  const i = store.sections.instance;
  if (!i) return <span>…</span>;
  return (
    <span class="leader" data-testid="leader" data-leader={i.leader?.id ?? ""} data-self={i.id}>
      Leader: <strong>{i.leader?.id ?? "none"}</strong>
      {i.leader ? <span class="muted"> since {ago(i.leader.since)}</span> : null} · this page from <strong>{i.id}</strong> ({i.leading ? "leader" : "standby"})
    </span>
  );
}

/** Shown instead of the views where reads need the token and this tab has no session. */
function SignIn({ onSignedIn }: { onSignedIn: () => void }): preact.JSX.Element {
  const [message, setMessage] = useState("");
  return (
    <section aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p>This Steward shows its state only to holders of the action token (api.uiReads: token).</p>
      <form
        class="signin"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const text = (v: FormDataEntryValue | null): string => (typeof v === "string" ? v.trim() : "");
          saveCredentials(text(f.get("token")), text(f.get("who")));
          void signIn().then((r) => (r.ok ? onSignedIn() : setMessage(r.message)));
        }}
      >
        <label>
          Your name <input name="who" autoComplete="username" defaultValue={savedWho()} />
        </label>
        <label>
          Action token <input name="token" type="password" autoComplete="current-password" />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p role="status" class="error-text">
        {message}
      </p>
    </section>
  );
}

function Credentials(): preact.JSX.Element {
  const [open, setOpen] = useState(false);
  const [has, setHas] = useState(!!savedToken());
  return (
    <div class="creds">
      <button type="button" aria-expanded={open} aria-controls="creds-form" onClick={() => setOpen(!open)}>
        {has ? "Action token set" : "Set action token"}
      </button>
      {open ? (
        <form
          id="creds-form"
          class="creds-form"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            const text = (v: FormDataEntryValue | null): string => (typeof v === "string" ? v.trim() : "");
            saveCredentials(text(f.get("token")), text(f.get("who")));
            setHas(!!savedToken());
            setOpen(false);
          }}
        >
          <label>
            Your name <input name="who" autoComplete="username" defaultValue={savedWho()} />
          </label>
          <label>
            Action token <input name="token" type="password" autoComplete="current-password" defaultValue={savedToken()} />
          </label>
          <button type="submit">Save for this tab</button>
        </form>
      ) : null}
    </div>
  );
}

/** The page: header (who leads, connection, credentials), navigation, and the routed view. */
export function App({ store, onSignedIn }: { store: LiveStore; onSignedIn: () => void }): preact.JSX.Element {
  useStore(store);
  const route = useRoute();
  const service = /^\/service\/(.+)$/.exec(route)?.[1];
  const refused = store.sections.revision?.refused;
  const nav = [
    ["#/", "Overview", route === "/"],
    ["#/events", "Events", route === "/events"],
    ["#/pools", "Node pools", route === "/pools"],
  ] as const;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Steward</span>
        <nav aria-label="Main">
          {nav.map(([href, label, current]) => (
            <a key={href} href={href} aria-current={current ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <Leader store={store} />
        <span class={`link link-${store.link}`} role="status" data-testid="link">
          <span aria-hidden="true">{store.link === "live" ? "●" : "○"}</span>{" "}
          {store.link === "live" ? "live" : store.link === "connecting" ? "connecting…" : store.link === "signed-out" ? "signed out" : "reconnecting…"}
        </span>
        <Credentials />
      </header>
      {refused ? (
        <div class="banner" role="alert">
          ⚠ Revision <code>{refused.revision.slice(0, 8)}</code> was refused; the last good one stays in force.{" "}
          {refused.issues.slice(0, 3).map((i, n) => (
            <span key={n}>
              {i.file ?? ""}
              {i.line ? `:${i.line}` : ""} {i.field ?? ""}: {i.message}.{" "}
            </span>
          ))}
        </div>
      ) : null}
      <ActionNotice />
      <main id="main" tabIndex={-1}>
        {store.link === "signed-out" ? (
          <SignIn
            onSignedIn={() => {
              store.setLink("connecting");
              onSignedIn();
            }}
          />
        ) : service ? <ServicePage store={store} service={service} /> : route === "/events" ? <EventsPage store={store} /> : route === "/pools" ? <PoolsPage store={store} /> : <Overview store={store} />}
      </main>
    </>
  );
}
