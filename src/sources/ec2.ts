import { createHash, createHmac } from "node:crypto";
import axios from "axios";
import { HTTP_TIMEOUT_MS } from "../config/defaults.js";
import { addSecret } from "../log.js";
import { InvalidInputError, TransientError } from "../reconciler/core/outcome.js";

/** One instance as DescribeInstances shows it: what healing needs. */
export interface Ec2Instance {
  id: string;
  /** `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`. */
  state: string;
  tags: Record<string, string>;
}

/** Where and as whom EC2 is called. Read from an environment (Steward's, plus `healing.env`). */
export interface Ec2ReaderOptions {
  /** `AWS_ENDPOINT_URL_EC2`, else `https://ec2.<region>.amazonaws.com`. */
  endpoint?: string;
  /** @default AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** @default HTTP_TIMEOUT_MS */
  timeoutMs?: number;
  /** For the signature's date. @default Date.now */
  now?: () => number;
}

/** Options from environment variables, or undefined when no static credentials are set (instance profiles are not read). */
export function ec2OptionsFromEnv(env: Record<string, string | undefined>): Ec2ReaderOptions | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(env.AWS_ENDPOINT_URL_EC2 ? { endpoint: env.AWS_ENDPOINT_URL_EC2 } : {}),
    ...(region ? { region } : {}),
  };
}

/**
 * Reads EC2's instances by tag (DescribeInstances, Query API, SigV4-signed):
 * the live state of a pool's instances, which Terraform's state only knows as
 * of its last refresh, and the tagged instances the state does not hold
 * (orphans). One call per page of 1,000. Never writes.
 */
export class Ec2Reader {
  private readonly endpoint: string;
  private readonly region: string;

  constructor(private readonly o: Ec2ReaderOptions) {
    this.region = o.region ?? "us-east-1";
    this.endpoint = (o.endpoint ?? `https://ec2.${this.region}.amazonaws.com`).replace(/\/+$/, "");
    addSecret(o.secretAccessKey);
    if (o.sessionToken) addSecret(o.sessionToken);
  }

  /**
   * Every instance carrying tag `key` = `value`, terminated ones included while EC2 still lists them.
   * @throws TransientError on throttling, 5xx and network failures; InvalidInputError on other 4xx (credentials, permissions)
   */
  async listByTag(key: string, value: string): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const params: Record<string, string> = { Action: "DescribeInstances", Version: "2016-11-15", "Filter.1.Name": `tag:${key}`, "Filter.1.Value.1": value, MaxResults: "1000" };
      if (token) params.NextToken = token;
      const xml = await this.call(params);
      out.push(...parseInstances(xml));
      token = /<nextToken>([^<]+)<\/nextToken>/.exec(xml)?.[1];
    } while (token);
    return out;
  }

  private async call(params: Record<string, string>): Promise<string> {
    const body = new URLSearchParams(params).toString();
    const endpoint = "POST DescribeInstances";
    const headers = this.sign(body);
    let res;
    try {
      res = await axios.post<string>(`${this.endpoint}/`, body, { headers, timeout: this.o.timeoutMs ?? HTTP_TIMEOUT_MS, responseType: "text", validateStatus: () => true });
    } catch (err) {
      throw new TransientError(`${endpoint}: ${(err as Error).message}`, { endpoint });
    }
    if (res.status === 200) return res.data;
    const code = /<Code>([^<]+)<\/Code>/.exec(res.data)?.[1] ?? String(res.status);
    const message = /<Message>([^<]+)<\/Message>/.exec(res.data)?.[1] ?? "";
    const text = `${endpoint}: ${res.status} ${code}${message ? `: ${message}` : ""}`;
    if (res.status >= 500 || res.status === 429 || /Throttl|RequestLimitExceeded/.test(code)) throw new TransientError(text, { endpoint });
    throw new InvalidInputError(text, { endpoint });
  }

  /** AWS Signature Version 4 of one form POST to `/`. */
  private sign(body: string): Record<string, string> {
    const host = new URL(this.endpoint).host;
    const amzDate = new Date(this.o.now?.() ?? Date.now()).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      host,
      "x-amz-date": amzDate,
      ...(this.o.sessionToken ? { "x-amz-security-token": this.o.sessionToken } : {}),
    };
    const names = Object.keys(headers).sort();
    const canonical = ["POST", "/", "", ...names.map((n) => `${n}:${headers[n] ?? ""}`), "", names.join(";"), sha256(body)].join("\n");
    const scope = `${day}/${this.region}/ec2/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
    let key: Buffer = hmac(`AWS4${this.o.secretAccessKey}`, day);
    for (const part of [this.region, "ec2", "aws4_request"]) key = hmac(key, part);
    const signature = createHmac("sha256", key).update(toSign).digest("hex");
    const { host: _host, ...sent } = headers;
    return { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${this.o.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}` };
  }
}

/** The instances of a DescribeInstances answer: each `<instanceId>` starts one, up to the next. */
export function parseInstances(xml: string): Ec2Instance[] {
  const parts = xml.split("<instanceId>").slice(1);
  return parts.map((chunk) => {
    const id = chunk.slice(0, chunk.indexOf("</instanceId>"));
    const state = /<instanceState>[\s\S]*?<name>([^<]+)<\/name>/.exec(chunk)?.[1] ?? "unknown";
    const tags: Record<string, string> = {};
    const tagSet = /<tagSet>([\s\S]*?)<\/tagSet>/.exec(chunk)?.[1] ?? "";
    for (const m of tagSet.matchAll(/<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>/g)) tags[unescapeXml(m[1] ?? "")] = unescapeXml(m[2] ?? "");
    return { id, state, tags };
  });
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}
