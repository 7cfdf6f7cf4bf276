import type http from "node:http";

/**
 * A request's body, or undefined once it grows past `limit` bytes (the
 * connection is then destroyed, so a client cannot make Steward buffer an
 * unbounded upload). Rejects on a socket error.
 */
export function readLimitedBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
