import { useEffect, useState } from "preact/hooks";
import type { LiveStore } from "./store.js";

/** Re-renders the component whenever the store changes; returns the store's version. */
export function useStore(store: LiveStore): number {
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  return store.version;
}

/** The location hash as a path (`#/service/web` → `/service/web`), kept current. */
export function useRoute(): string {
  const read = (): string => decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const on = (): void => setRoute(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
