import http from "node:http";
import type { Clock } from "../core/clock.js";

/**
 * Where the registry POSTs its events, as an entry of distribution's
 * `notifications.endpoints` configuration.
 */
export interface RegistryNotificationEndpoint {
  name?: string;
  url: string;
  /** Sent with every request; an array sends the header once per value. */
  headers?: Record<string, string | string[]>;
  /** Per request, real time. @default 1000 */
  timeoutMs?: number;
  /** Consecutive failures after which each retry waits `backoffMs`. @default 10 */
  threshold?: number;
  /** Wait between retries once `threshold` is reached, in sim ms. @default 1000 */
  backoffMs?: number;
  /** Events not to send, as the endpoint's `ignore` block. */
  ignore?: { mediaTypes?: string[]; actions?: string[] };
}

/** The media type of an event envelope sent by distribution 2.x. */
export const EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json";

/** The request that caused an event (the `request` record). */
export interface EventRequest {
  id: string;
  addr: string;
  host: string;
  method: string;
  useragent: string;
}

/** One event, shaped and ordered as distribution's notifications.Event marshals it. */
export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: "push" | "pull" | "mount" | "delete";
  target: {
    mediaType?: string;
    size?: number;
    digest?: string;
    length?: number;
    repository: string;
    fromRepository?: string;
    url?: string;
    tag?: string;
  };
  request: EventRequest;
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}

/**
 * Delivers events to the configured endpoints like distribution's broadcaster:
 * one in-memory queue per endpoint, one event per envelope, sent serially and
 * in order; a failed send (no answer, or a status outside 2xx/3xx) is retried
 * at once until `threshold` consecutive failures, then after every `backoffMs`
 * of sim time, until it succeeds or the registry closes. Never blocks the
 * request that caused the event.
 */
export class Notifier {
  private readonly queues: EndpointQueue[];

  constructor(clock: Clock, endpoints: RegistryNotificationEndpoint[]) {
    this.queues = endpoints.map((e) => new EndpointQueue(clock, e));
  }

  emit(event: RegistryEvent): void {
    for (const q of this.queues) q.push(event);
  }

  /** Events accepted but not yet delivered, over all endpoints. */
  pending(): number {
    return this.queues.reduce((n, q) => n + q.pending(), 0);
  }

  close(): void {
    for (const q of this.queues) q.close();
  }
}

class EndpointQueue {
  private readonly queue: RegistryEvent[] = [];
  private running = false;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly clock: Clock,
    private readonly endpoint: RegistryNotificationEndpoint,
  ) {}

  push(event: RegistryEvent): void {
    if (this.closed || this.ignored(event)) return;
    this.queue.push(event);
    if (!this.running) void this.run();
  }

  pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private ignored(event: RegistryEvent): boolean {
    const ig = this.endpoint.ignore;
    if (!ig) return false;
    return (ig.actions ?? []).includes(event.action) || (event.target.mediaType !== undefined && (ig.mediaTypes ?? []).includes(event.target.mediaType));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const event = this.queue[0]!;
        if (this.failures >= (this.endpoint.threshold ?? 10)) {
          // Unref'd: a dead endpoint must not keep the process alive.
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.endpoint.backoffMs ?? 1000, { unref: true }));
          if (this.closed) return;
        }
        if (await this.send(event)) {
          this.failures = 0;
          this.queue.shift();
        } else {
          this.failures++;
        }
      }
    } finally {
      this.running = false;
    }
  }

  private send(event: RegistryEvent): Promise<boolean> {
    const body = Buffer.from(JSON.stringify({ events: [event] }, null, "   "));
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(this.endpoint.url);
      } catch {
        resolve(false);
        return;
      }
      const req = http.request(
        url,
        {
          method: "POST",
          headers: {
            ...(this.endpoint.headers ?? {}),
            "Content-Type": EVENTS_MEDIA_TYPE,
            "Content-Length": String(body.length),
          },
          timeout: this.endpoint.timeoutMs ?? 1000,
        },
        (res) => {
          res.resume();
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400;
          res.on("end", () => resolve(ok));
          res.on("error", () => resolve(false));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(false));
      req.end(body);
    });
  }
}
