// The live UI's production build: `npm run build` writes dist/ui, which
// Steward serves at /ui/ (src/server/live-routes.ts). Preact through the
// automatic JSX runtime; no dev server is needed to work on it, but
// `npx vite --config ui/vite.config.mjs` proxies /api to a running Steward.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/ui/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/ui", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
  server: { proxy: { "/api": process.env.STEWARD_URL ?? "http://127.0.0.1:8080" } },
});
