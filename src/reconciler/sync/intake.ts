import { createHash } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { LOAD_SLICE_MS } from "../../config/defaults.js";
import { DesiredStateLoader } from "../../model/load.js";
import { renderVariables } from "../../model/variables.js";
import { InvalidInputError, type ValidationIssue } from "../../model/errors.js";
import type { DesiredState, EnvironmentSpec, ServiceSpec, TreeSnapshot } from "../../model/types.js";
import type { NomadJob, NomadReader } from "../../sources/nomad.js";
import { hashSpec, renderDesiredJob, scaledGroupNames } from "./render.js";
import type { DesiredJob } from "./plan.js";

/** A validated revision with every job rendered for every environment it runs in. */
export interface RenderedRevision {
  state: DesiredState;
  /** env → job ID → desired job. */
  jobs: Map<string, Map<string, DesiredJob>>;
}

/**
 * Which image a service runs in an environment: `repository@sha256:…`, or
 * undefined when none is known yet (no digest in service.yaml and no
 * promotion so far). The promotion loop supplies this; until then it is the
 * service's pinned digest.
 */
export type ImageResolver = (service: ServiceSpec, env: string) => string | undefined;

/** The pinned digest of service.yaml, if any. */
export const pinnedImage: ImageResolver = (s) => (s.image.digest ? `${s.image.repository}@${s.image.digest}` : undefined);

/** A placeholder image, only to learn the job ID of a service whose image is not known yet. */
const PLACEHOLDER_DIGEST = `sha256:${"0".repeat(64)}`;

/** Most parse results kept: a few revisions of a large tree, per environment. */
const PARSE_CACHE_ENTRIES = 20_000;
/** Parse calls in flight per environment. */
const PARSE_CONCURRENCY = 8;

/** A service's latest render in one environment, and the inputs it came from besides the service itself. */
interface RenderMemo {
  /** `address \0 image`: the environment's Nomad and the image the resolver gave. */
  inputs: string;
  /** The parse-cache key of these inputs. */
  parseKey: string;
  job?: DesiredJob;
}

/**
 * Turns a tree snapshot into a rendered revision: validate the whole tree,
 * then parse each job file with each environment's own Nomad. A service
 * whose inputs did not change since the last revision (the same validated
 * service, which the loader keeps from one revision to the next, the same
 * image and Nomad address per environment) keeps its rendered job, the very
 * same object; parse results are cached by (address, job text, variables),
 * so a new revision costs parse calls only for the jobs it changed.
 */
export class RevisionIntake {
  /** Validates each revision, reading only what changed when the snapshot says what did. */
  readonly loader = new DesiredStateLoader();
  /** Parse results with their spec hash: both depend only on (environment, job text, variables). */
  private readonly cache = new Map<string, { job: NomadJob; specHash: string; scaledGroups: string[] }>();
  /** Each service's latest render per environment; an unchanged service is the same object in the next revision. */
  private readonly renders = new WeakMap<ServiceSpec, Map<string, RenderMemo>>();
  /** Jobs rendered again (not taken from the last revision) by the latest `accept`, for logs and tests. */
  lastRendered = 0;

  constructor(
    private readonly readerFor: (env: EnvironmentSpec) => NomadReader,
    private readonly resolveImage: ImageResolver = pinnedImage,
  ) {}

  /**
   * @throws InvalidInputError listing every problem (the revision is refused as a whole)
   * @throws TransientError when an environment's Nomad cannot be reached to parse
   */
  async accept(snapshot: TreeSnapshot): Promise<RenderedRevision> {
    const state = await this.loader.load(snapshot);
    const issues: ValidationIssue[] = [];
    const jobs = new Map<string, Map<string, DesiredJob>>();
    this.lastRendered = 0;
    for (const env of state.environments) {
      const reader = this.readerFor(env);
      const services = state.services.filter((s) => env.name in s.environments);
      // Most services are unchanged: they are looked up at once, only the others wait for a render.
      const rendered = services.map((s) => this.known(reader, s, env.name));
      const todo = services.flatMap((s, i) => (rendered[i] === undefined ? [i] : []));
      this.lastRendered += todo.length;
      const fresh = await mapLimit(todo, PARSE_CONCURRENCY, (i) => this.render(reader, services[i] as ServiceSpec, env.name, issues));
      todo.forEach((i, j) => (rendered[i] = fresh[j]));
      const byId = new Map<string, DesiredJob>();
      const fileOf = new Map<string, string>();
      rendered.forEach((job, i) => {
        const service = services[i];
        if (!job || !service) return;
        const id = String(job.spec.ID);
        const other = fileOf.get(id);
        if (other) {
          issues.push({ message: `job ID "${id}" is also declared by ${other}; job IDs must be unique in an environment`, file: service.jobFile, env: env.name });
          return;
        }
        fileOf.set(id, service.jobFile);
        byId.set(id, job);
      });
      jobs.set(env.name, byId);
    }
    if (issues.length) {
      throw new InvalidInputError(`revision ${snapshot.revision.slice(0, 12)} is refused: ${issues.length} problem(s)`, { revision: snapshot.revision }, issues);
    }
    return { state, jobs };
  }

  /**
   * The jobs of one service in every environment it runs in, rendered again
   * with the image the resolver gives now (a promotion moved a stage), keyed
   * by environment. An environment whose render failed validation is left out
   * (the previous render stays in force there; the issues are returned).
   * @throws TransientError when an environment's Nomad cannot be reached to parse
   */
  async renderService(state: DesiredState, service: ServiceSpec): Promise<{ jobs: Map<string, DesiredJob>; issues: ValidationIssue[] }> {
    const issues: ValidationIssue[] = [];
    const jobs = new Map<string, DesiredJob>();
    for (const env of state.environments) {
      if (!(env.name in service.environments)) continue;
      const reader = this.readerFor(env);
      const job = this.known(reader, service, env.name) ?? (await this.render(reader, service, env.name, issues));
      if (job) jobs.set(env.name, job);
    }
    return { jobs, issues };
  }

  /** The service's last render in this environment, when its inputs are the same now. */
  private known(reader: NomadReader, s: ServiceSpec, env: string): DesiredJob | undefined {
    const memo = this.renders.get(s)?.get(env);
    return memo?.job !== undefined && memo.inputs === this.inputsOf(reader, s, env) ? memo.job : undefined;
  }

  private inputsOf(reader: NomadReader, s: ServiceSpec, env: string): string {
    return `${reader.env.nomad.address}\0${this.resolveImage(s, env) ?? ""}`;
  }

  private async render(reader: NomadReader, s: ServiceSpec, env: string, issues: ValidationIssue[]): Promise<DesiredJob | undefined> {
    const image = this.resolveImage(s, env);
    const imageRef = image ?? `${s.image.repository}@${PLACEHOLDER_DIGEST}`;
    const inputs = `${reader.env.nomad.address}\0${image ?? ""}`;
    const memos = this.renders.get(s) ?? new Map<string, RenderMemo>();
    this.renders.set(s, memos);
    // Only the latest inputs per environment are kept: a promoted service sees a new image per build.
    let memo = memos.get(env);
    let variables: string | undefined;
    if (memo?.inputs !== inputs) {
      variables = renderVariables(s, env, imageRef);
      memo = { inputs, parseKey: createHash("sha256").update(`${reader.env.nomad.address}\0${s.jobHcl}\0${variables}`).digest("hex") };
      memos.set(env, memo);
    }
    let entry = this.cache.get(memo.parseKey);
    if (!entry) {
      variables ??= renderVariables(s, env, imageRef);
      let parsed: NomadJob;
      try {
        parsed = await reader.parseJob(s.jobHcl, variables, s.jobFile);
      } catch (err) {
        if (err instanceof InvalidInputError) {
          issues.push(...err.issues.map((i) => ({ ...i, file: s.jobFile, env })));
          return undefined;
        }
        throw err;
      }
      const scaledGroups = scaledGroupNames(parsed);
      entry = { job: parsed, scaledGroups, specHash: hashSpec(parsed, scaledGroups) };
      this.remember(memo.parseKey, entry);
    }
    const rendered = renderDesiredJob(s, entry.job, entry);
    const job = image ? rendered : { ...rendered, imagePending: true };
    // Inputs may have moved while the parse was awaited (a promotion): the job is kept only for the ones it came from.
    if (memos.get(env) === memo) memo.job = job;
    return job;
  }

  private remember(key: string, job: { job: NomadJob; specHash: string; scaledGroups: string[] }): void {
    if (this.cache.size >= PARSE_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, job);
  }
}

/** Maps with at most `limit` calls in flight, keeping order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let sliceStartedAt = performance.now();
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
      // Cached renders resolve at once: 10,000 of them must still let timers (a lock renewal) in.
      if (performance.now() - sliceStartedAt > LOAD_SLICE_MS) {
        await nextTurn();
        sliceStartedAt = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
