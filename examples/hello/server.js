// hello: the example microservice of Steward's repository. No dependencies.
//   GET /        {"hello":"world","version":"build-42"}
//   GET /healthz {"ok":true}   (the Nomad check of desired-state/services/hello)
import http from "node:http";
import { pathToFileURL } from "node:url";

/** The server, not yet listening. VERSION is the image tag CI built (build-N). */
export function createServer(version = process.env.VERSION ?? "dev") {
  return http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://hello.invalid").pathname;
    const send = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET") return send(405, { error: "GET only" });
    if (path === "/healthz") return send(200, { ok: true });
    if (path === "/") return send(200, { hello: "world", version });
    return send(404, { error: `no page ${path}` });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const port = Number(process.env.PORT ?? 8080);
  const server = createServer();
  server.listen(port, process.env.HOST ?? "0.0.0.0", () => console.log(`hello listening on :${port}`));
  // Nomad stops a task with SIGINT/SIGTERM: finish the requests in flight, then exit.
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => server.close(() => process.exit(0)));
}
