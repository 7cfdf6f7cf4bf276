import { createHash } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { LOADED_SERVICES_KEPT, LOAD_SLICE_MS, MAX_DESIRED_STATE_FILE_BYTES } from "../config/defaults.js";
import { InvalidInputError, describeIssue, type ValidationIssue } from "./errors.js";
import { formatFieldPath, fromSchemaIssues, humanMessage, located, sortIssues } from "./issues.js";
import { inspectJobFile, type JobFileFacts } from "./job-file.js";
import { ENV_NAME, OBJECT_NAME } from "./schema-common.js";
import { poolFileSchema } from "./schema-pool.js";
import { IMAGE_VARIABLE, serviceFileSchema, type ServiceFile } from "./schema-service.js";
import { mergeSync, stewardFileSchema, type StewardFile } from "./schema-steward.js";
import { STEWARD_FILE, pathProblem, readTree, readTreeFile, removeFromLayout, type TreeLayout } from "./tree.js";
import type { DesiredState, PoolSpec, ServiceEnvironment, ServiceSpec, TreeSnapshot } from "./types.js";
import { parseYamlFile, type YamlFile } from "./yaml-file.js";

/** Options of {@link loadDesiredState}. */
export interface LoadOptions {
  /** Largest file read from the tree, in bytes. @default MAX_DESIRED_STATE_FILE_BYTES (256 KiB) */
  maxFileBytes?: number;
}

/**
 * Validates one revision of the desired-state tree as a whole
 * (docs/desired-state.md) and returns it typed and defaulted: environments
 * in promotion order, services and pools sorted by name, durations in ms.
 *
 * Nothing is partially accepted: if anything is wrong, it throws one
 * {@link InvalidInputError} whose `issues` list every problem found, each
 * with its file, line where known, and field path, sorted by file and line.
 * The error is terminal for this revision (the caller keeps the last good
 * one); no other error is thrown on bad input.
 */
export async function loadDesiredState(snapshot: TreeSnapshot, options: LoadOptions = {}): Promise<DesiredState> {
  return new DesiredStateLoader(options).load(snapshot);
}

/** What a {@link DesiredStateLoader.load} call did (for logs and tests). */
export interface LoadReport {
  /** `incremental`: only the paths of the snapshot's `changes` were read again. */
  mode: "full" | "incremental";
  /** Services whose files were checked again (a full load counts every one, memoized or not). */
  servicesChecked: number;
}

/**
 * {@link loadDesiredState} for a sequence of revisions of one source: it
 * keeps what it learned from the last tree it loaded (valid or not), and
 * when the next snapshot says which paths changed since that tree
 * (`changes.since` is its revision), reads only those paths and checks again
 * only the services they belong to. Whole-tree checks (steward.yaml, unknown
 * environments, duplicate job IDs, stray files) hold as in a full load, from
 * indexes kept up to date; a change to steward.yaml, a snapshot without the
 * hint or from elsewhere is loaded in full. Same result and errors as
 * `loadDesiredState`.
 */
export class DesiredStateLoader {
  private last: TreeState | undefined;
  private readonly maxFileBytes: number;
  /** What the last `load` did. */
  lastLoad: LoadReport = { mode: "full", servicesChecked: 0 };

  constructor(options: LoadOptions = {}) {
    this.maxFileBytes = options.maxFileBytes ?? MAX_DESIRED_STATE_FILE_BYTES;
  }

  /** @throws InvalidInputError listing every problem of the revision (see loadDesiredState) */
  async load(snapshot: TreeSnapshot): Promise<DesiredState> {
    const last = this.last;
    // The state is changed in place: an unexpected failure half way leaves it unusable, so it is dropped first.
    this.last = undefined;
    const st = last && this.canIncrement(last, snapshot) ? await this.increment(last, snapshot) : await this.full(snapshot);
    this.last = st;
    return finish(st);
  }

  private canIncrement(last: TreeState, snapshot: TreeSnapshot): boolean {
    const changes = snapshot.changes;
    if (!changes || changes.since !== last.revision || snapshot.origin !== last.origin) return false;
    // Every service depends on steward.yaml; a broken one is rare and its messages look at the whole tree.
    return last.steward.file !== undefined && !changes.paths.includes(STEWARD_FILE);
  }

  private async full(snapshot: TreeSnapshot): Promise<TreeState> {
    const { texts, layout, issues } = readTree(snapshot, this.maxFileBytes);
    const stewardIssues: ValidationIssue[] = [];
    const steward = loadStewardFile(snapshot, texts, stewardIssues);
    const st: TreeState = {
      revision: snapshot.revision,
      origin: snapshot.origin,
      layout,
      fileIssues: new Map(issues.map((i) => [i.file ?? "", i])),
      stewardText: texts.get(STEWARD_FILE) ?? "",
      steward,
      stewardIssues,
      services: new Map(),
      issuesOf: new Map(),
      names: [...layout.services.keys()].sort(),
      pools: { specs: [], issues: [] },
      jobIds: new Map(),
      conflicted: new Set(),
    };
    await this.loadServices(st, st.names, texts);
    st.pools = loadPools(st, texts);
    this.lastLoad = { mode: "full", servicesChecked: st.names.length };
    return st;
  }

  private async increment(st: TreeState, snapshot: TreeSnapshot): Promise<TreeState> {
    st.revision = snapshot.revision;
    const touched = new Set<string>();
    let poolsTouched = false;
    for (const path of snapshot.changes?.paths ?? []) {
      // What the old content of the path contributed is taken back, then the new content placed.
      st.fileIssues.delete(path);
      removeFromLayout(path, st.layout);
      const content = snapshot.files.get(path);
      if (content !== undefined) {
        const { issue } = readTreeFile(path, content, this.maxFileBytes, st.layout);
        if (issue) st.fileIssues.set(path, issue);
      }
      const parts = path.split("/");
      if (parts[0] === "services" && parts.length >= 3) touched.add(parts[1] ?? "");
      else if (parts[0] === "pools") poolsTouched = true;
    }
    for (const name of touched) {
      if (st.layout.services.has(name)) insertSorted(st.names, name);
      else removeSorted(st.names, name);
    }
    // Only the files the checks will read are decoded: the touched services' (and the pools').
    const texts = new Map<string, string>([[STEWARD_FILE, st.stewardText]]);
    const wanted = [...touched].flatMap((name) => [`services/${name}/service.yaml`, ...(st.layout.services.get(name) ?? [])]);
    if (poolsTouched) wanted.push(...st.layout.pools.values());
    const scratch: TreeLayout = { services: new Map(), serviceFiles: new Set(), pools: new Map() };
    for (const path of wanted) {
      const content = snapshot.files.get(path);
      if (content === undefined || st.fileIssues.has(path)) continue;
      const { text } = readTreeFile(path, content, this.maxFileBytes, scratch);
      if (text !== undefined) texts.set(path, text);
    }
    await this.loadServices(st, [...touched].sort(), texts);
    if (poolsTouched) st.pools = loadPools(st, texts);
    this.lastLoad = { mode: "incremental", servicesChecked: touched.size };
    return st;
  }

  /** Checks the named services again against the tree state, keeping the job-ID index up to date. */
  private async loadServices(st: TreeState, names: readonly string[], texts: Map<string, string>): Promise<void> {
    const fileIssues = fileIssuesByService(st.fileIssues);
    let sliceStartedAt = performance.now();
    for (const name of names) {
      unindexService(st, name);
      if (!st.layout.services.has(name)) continue;
      // Its files' own issues (too large, not UTF-8) are seen by the checks, as in one pass over the tree.
      const seed = fileIssues.get(name) ?? [];
      const issues = [...seed];
      const loaded = await loadServiceCached(name, st.stewardText, { texts, layout: st.layout, steward: st.steward, issues });
      indexService(st, name, loaded, issues.slice(seed.length));
      // Thousands of services can take seconds to check: the daemon's timers (its leader lock's renewal) must still run.
      if (performance.now() - sliceStartedAt > LOAD_SLICE_MS) {
        await nextTurn();
        sliceStartedAt = performance.now();
      }
    }
  }
}

/**
 * One loader's knowledge of the last tree it loaded. Every field holds for
 * `revision`; issues are kept by what raised them, so a change replaces
 * exactly the issues of what it touched. File contents are not kept (the
 * next snapshot holds them; the services keep what they need).
 */
interface TreeState {
  revision: string;
  origin: string;
  layout: TreeLayout;
  /** Path → the one issue of a file refused as a file (path, place in the layout, size, encoding). */
  fileIssues: Map<string, ValidationIssue>;
  stewardText: string;
  steward: StewardResult;
  stewardIssues: ValidationIssue[];
  /** Service name → its load (absent: its directory holds nothing; undefined: it could not be loaded at all). */
  services: Map<string, LoadedService | undefined>;
  /** Service name → the issues its load raised (besides its files' own), for the services with any. */
  issuesOf: Map<string, ValidationIssue[]>;
  /** The keys of `layout.services`, sorted. */
  names: string[];
  pools: { specs: PoolSpec[]; issues: ValidationIssue[] };
  /** Statically known job ID → the service declaring it, or the services (sorted) when several do. */
  jobIds: Map<string, string | string[]>;
  /** Job IDs declared by more than one service. */
  conflicted: Set<string>;
}

function indexService(st: TreeState, name: string, loaded: LoadedService | undefined, issues: ValidationIssue[]): void {
  st.services.set(name, loaded);
  if (issues.length > 0) st.issuesOf.set(name, issues);
  const id = loaded?.facts?.jobId;
  if (id === undefined || !loaded?.envs) return;
  const known = st.jobIds.get(id);
  if (known === undefined) return void st.jobIds.set(id, name);
  const names = typeof known === "string" ? [known] : known;
  insertSorted(names, name);
  st.jobIds.set(id, names);
  if (names.length > 1) st.conflicted.add(id);
}

function unindexService(st: TreeState, name: string): void {
  const id = st.services.get(name)?.facts?.jobId;
  st.services.delete(name);
  st.issuesOf.delete(name);
  const known = id === undefined ? undefined : st.jobIds.get(id);
  if (id === undefined || known === undefined) return;
  if (typeof known === "string") {
    if (known === name) st.jobIds.delete(id);
    return;
  }
  removeSorted(known, name);
  if (known.length < 2) st.conflicted.delete(id);
  if (known.length === 1 && known[0] !== undefined) st.jobIds.set(id, known[0]);
  else if (known.length === 0) st.jobIds.delete(id);
}

/** File issues under `services/<name>/`, by service name. */
function fileIssuesByService(fileIssues: ReadonlyMap<string, ValidationIssue>): Map<string, ValidationIssue[]> {
  const out = new Map<string, ValidationIssue[]>();
  for (const [path, issue] of fileIssues) {
    const parts = path.split("/");
    if (parts[0] !== "services" || parts.length < 3) continue;
    const name = parts[1] ?? "";
    out.set(name, [...(out.get(name) ?? []), issue]);
  }
  return out;
}

function loadPools(st: TreeState, texts: Map<string, string>): { specs: PoolSpec[]; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const specs = [...st.layout.pools.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([name, file]) => loadPool(name, file, { texts, steward: st.steward, issues }) ?? []);
  return { specs, issues };
}

/** The revision the tree state holds, or the error listing every problem, in the order one pass over the tree finds them. */
function finish(st: TreeState): DesiredState {
  const issues: ValidationIssue[] = [];
  if (st.fileIssues.size > 0) issues.push(...[...st.fileIssues.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, i]) => i));
  issues.push(...st.stewardIssues);
  for (const name of [...st.issuesOf.keys()].sort()) issues.push(...(st.issuesOf.get(name) ?? []));
  issues.push(...st.pools.issues);
  issues.push(...duplicateJobIdIssues(st));
  if (issues.length > 0 || !st.steward.file) {
    const sorted = sortIssues(issues);
    const header = `desired state ${st.revision} (${st.origin}) is invalid: ${sorted.length} problem${sorted.length === 1 ? "" : "s"}`;
    throw new InvalidInputError([header, ...sorted.map((i) => `  ${describeIssue(i)}`)].join("\n"), { revision: st.revision }, sorted);
  }
  const services: ServiceSpec[] = [];
  for (const name of st.names) {
    const spec = st.services.get(name)?.spec;
    if (spec) services.push(spec);
  }
  return {
    revision: st.revision,
    origin: st.origin,
    environments: st.steward.file.environments,
    syncDefaults: st.steward.file.sync,
    services,
    pools: st.pools.specs,
  };
}

/** Inserts `x` into the sorted array `a` unless it is there. */
function insertSorted(a: string[], x: string): void {
  const i = lowerBound(a, x);
  if (a[i] !== x) a.splice(i, 0, x);
}

/** Removes `x` from the sorted array `a` if it is there. */
function removeSorted(a: string[], x: string): void {
  const i = lowerBound(a, x);
  if (a[i] === x) a.splice(i, 1);
}

function lowerBound(a: readonly string[], x: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] ?? "") < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What steward.yaml gave: the file when valid, and the environment names whenever they can be trusted. */
interface StewardResult {
  file?: StewardFile;
  envNames?: string[];
}

interface Shared {
  texts: Map<string, string>;
  steward: StewardResult;
  issues: ValidationIssue[];
}

function loadStewardFile(snapshot: TreeSnapshot, texts: Map<string, string>, issues: ValidationIssue[]): StewardResult {
  if (!snapshot.files.has(STEWARD_FILE)) {
    const nested = [...snapshot.files.keys()].find((p) => p.endsWith(`/${STEWARD_FILE}`));
    const hint = nested ? `; found ${nested}: is the tree's root set one directory too high?` : "";
    issues.push(located(STEWARD_FILE, undefined, "", `missing: every desired-state tree needs steward.yaml at its root, declaring the environments${hint}`));
    return {};
  }
  const yaml = parseYaml(STEWARD_FILE, texts, issues);
  if (!yaml) return {};
  const duplicates = duplicateEnvironmentIssues(yaml);
  issues.push(...duplicates);
  const parsed = stewardFileSchema.safeParse(yaml.value, { error: humanMessage });
  if (parsed.success) {
    return duplicates.length === 0 ? { file: parsed.data, envNames: parsed.data.environments.map((e) => e.name) } : { envNames: rawEnvNames(yaml.value) };
  }
  const schemaIssues = fromSchemaIssues(STEWARD_FILE, parsed.error.issues, yaml.lineOf);
  issues.push(...schemaIssues);
  // Other parts of steward.yaml being wrong does not make the names doubtful; checking services
  // and pools against them still finds their own mistakes in the same pass.
  const namesDoubtful = parsed.error.issues.some((i) => i.path[0] === "environments" && (i.path.length <= 2 || i.path[2] === "name"));
  return namesDoubtful ? {} : { envNames: rawEnvNames(yaml.value) };
}

function rawEnvNames(value: unknown): string[] {
  const envs = (value as { environments?: unknown } | null)?.environments;
  if (!Array.isArray(envs)) return [];
  const names = envs.map((e) => (e as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === "string" && ENV_NAME.test(n));
  return [...new Set(names)];
}

function duplicateEnvironmentIssues(yaml: YamlFile): ValidationIssue[] {
  const envs = (yaml.value as { environments?: unknown } | null)?.environments;
  if (!Array.isArray(envs)) return [];
  const firstAt = new Map<string, number>();
  const issues: ValidationIssue[] = [];
  envs.forEach((e, i) => {
    const name = (e as { name?: unknown } | null)?.name;
    if (typeof name !== "string") return;
    const first = firstAt.get(name);
    if (first === undefined) firstAt.set(name, i);
    else {
      const path = ["environments", i, "name"];
      issues.push(located(yaml.file, yaml.lineOf(path), formatFieldPath(path), `duplicate environment "${name}" (also environments[${first}])`));
    }
  });
  return issues;
}

function parseYaml(file: string, texts: Map<string, string>, issues: ValidationIssue[]): YamlFile | undefined {
  const text = texts.get(file);
  // Absent here means refused by readTree (too large, not UTF-8), which already said why.
  if (text === undefined) return undefined;
  const yaml = parseYamlFile(file, text);
  issues.push(...yaml.issues);
  return yaml.value === undefined && yaml.issues.length > 0 ? undefined : yaml;
}

/**
 * Services loaded without any issue, by name, with the hash of every input
 * they were loaded from. A revision usually changes a few services of many:
 * the others are taken from here instead of being parsed and checked again.
 */
const loadedServices = new Map<string, { inputs: string; service: LoadedService }>();

/**
 * `loadService`, memoized. A service's result depends only on steward.yaml
 * (environments, sync defaults) and the files under its own directory, so
 * those are hashed; only a service that loaded cleanly is kept (one with
 * issues is checked again, so its issues are reported every time).
 */
async function loadServiceCached(name: string, stewardText: string, ctx: Shared & { layout: TreeLayout }): Promise<LoadedService | undefined> {
  const h = createHash("sha1").update(stewardText).update("\0").update(name);
  const file = `services/${name}/service.yaml`;
  for (const path of [file, ...(ctx.layout.services.get(name) ?? [])]) {
    const text = ctx.texts.get(path);
    // Absent (not in the tree, or refused by readTree) is part of the input too.
    h.update("\0").update(path).update(text === undefined ? "\u0001" : `\u0002${text}`);
  }
  const inputs = h.digest("base64");
  const hit = loadedServices.get(name);
  if (hit?.inputs === inputs) return hit.service;
  const before = ctx.issues.length;
  const service = await loadService(name, ctx);
  if (service?.spec && ctx.issues.length === before) {
    if (!loadedServices.has(name) && loadedServices.size >= LOADED_SERVICES_KEPT) {
      const oldest = loadedServices.keys().next().value;
      if (oldest !== undefined) loadedServices.delete(oldest);
    }
    loadedServices.set(name, { inputs, service });
  }
  return service;
}

/** A service as far as it could be loaded: `spec` only when it is entirely valid. */
interface LoadedService {
  name: string;
  spec?: ServiceSpec;
  jobFile: string;
  facts?: JobFileFacts;
  envs?: string[];
}

async function loadService(name: string, ctx: Shared & { layout: TreeLayout }): Promise<LoadedService | undefined> {
  const { layout, issues } = ctx;
  const file = `services/${name}/service.yaml`;
  const others = layout.services.get(name) ?? [];
  if (!layout.serviceFiles.has(name)) {
    issues.push(located(file, undefined, "", `missing: services/${name}/ holds files but no service.yaml`));
    return undefined;
  }
  const before = issues.length;
  if (!OBJECT_NAME.test(name)) {
    issues.push(located(file, undefined, "", `service name "${name}" (its directory) must be 1 to 63 characters of a-z, 0-9 and -, starting with a letter or digit`));
  }
  const yaml = parseYaml(file, ctx.texts, issues);
  if (!yaml) return undefined;
  const parsed = serviceFileSchema.safeParse(yaml.value, { error: humanMessage });
  if (!parsed.success) issues.push(...fromSchemaIssues(file, parsed.error.issues, yaml.lineOf));
  // Parts of a broken service.yaml that are themselves fine still get checked against the rest
  // of the tree, so one pass reports the job file's and the environments' problems too.
  const raw = (yaml.value ?? {}) as { job?: unknown; environments?: unknown };
  const jobRel = parsed.success ? parsed.data.job : typeof raw.job === "string" ? raw.job : undefined;
  const jobFile = await checkJobFile(name, jobRel, yaml, ctx);
  if (!jobFile) return undefined;
  const verifyFiles = verifyJobPaths(name, parsed.success ? parsed.data : undefined);
  for (const path of others.filter((p) => p !== jobFile.path && !verifyFiles.includes(p))) {
    issues.push(located(path, undefined, "", `not used: ${file} runs ${jobFile.path}; only the job file and *.md files belong beside it`));
  }
  const envNames = serviceEnvNames(raw.environments, yaml, ctx);
  const loaded: LoadedService = { name, jobFile: jobFile.path, ...(jobFile.facts && { facts: jobFile.facts }), ...(envNames && { envs: envNames }) };
  if (!parsed.success || !envNames || !jobFile.facts) return loaded;

  const listed = parsed.data.environments;
  const envs = Object.fromEntries(envNames.map((n): [string, ServiceEnvironment] => [n, { variables: listed?.[n]?.variables ?? {} }]));
  checkVariables(parsed.data, envs, jobFile.facts, yaml, jobFile.path, issues);
  checkGateStages(parsed.data, envNames, yaml, issues);
  const promotion = withVerifyFiles(name, parsed.data.promotion, yaml, ctx);
  if (issues.length > before || !ctx.steward.file) return loaded;
  const { repository, digest, policy } = parsed.data.image;
  const spec: ServiceSpec = {
    name,
    file,
    jobFile: jobFile.path,
    jobHcl: ctx.texts.get(jobFile.path) ?? "",
    ...(jobFile.facts.jobId !== undefined && { jobId: jobFile.facts.jobId }),
    image: { repository, ...(digest !== undefined && { digest }), ...(policy !== undefined && { policy }) },
    environments: envs,
    sync: mergeSync(ctx.steward.file.sync, parsed.data.sync),
    ...(promotion !== undefined && { promotion }),
  };
  return { ...loaded, spec };
}

/** Finds, reads and inspects a service's job file; `undefined` when its path is unusable. */
async function checkJobFile(
  name: string,
  jobRel: string | undefined,
  yaml: YamlFile,
  ctx: Shared,
): Promise<{ path: string; facts?: JobFileFacts } | undefined> {
  const { issues } = ctx;
  const rel = jobRel?.replace(/^\.\//, "") ?? `${name}.nomad.hcl`;
  const problem = pathProblem(rel);
  if (problem !== undefined) {
    issues.push(located(yaml.file, yaml.lineOf(["job"]), "job", `${problem} (the path is relative to services/${name}/)`));
    return undefined;
  }
  const path = `services/${name}/${rel}`;
  const text = ctx.texts.get(path);
  if (text === undefined) {
    // A file that exists but was refused (too large, not UTF-8) already has its issue.
    if (!issuesMention(issues, path)) {
      const message =
        jobRel === undefined
          ? `no job file: expected ${path} (or name another one in job:)`
          : `job file ${path} does not exist`;
      issues.push(located(yaml.file, yaml.lineOf(["job"]), jobRel === undefined ? "" : "job", message));
    }
    return { path };
  }
  const { facts, issues: found } = await inspectJobFile(path, text);
  issues.push(...found);
  return facts ? { path, facts } : { path };
}

function issuesMention(issues: readonly ValidationIssue[], file: string): boolean {
  return issues.some((i) => i.file === file);
}

/**
 * The names of the environments a service runs in, in promotion order:
 * every declared one when it lists none. Unknown names are issues.
 * `undefined` when steward.yaml's names are unknown, the service names an
 * unknown one, or `environments` is not a mapping (the schema said so).
 */
function serviceEnvNames(listed: unknown, yaml: YamlFile, ctx: Shared): string[] | undefined {
  const known = ctx.steward.envNames;
  if (!known) return undefined;
  if (listed === undefined) return known;
  if (listed === null || typeof listed !== "object" || Array.isArray(listed)) return undefined;
  const unknown = Object.keys(listed).filter((n) => !known.includes(n));
  for (const n of unknown) {
    const path = ["environments", n];
    ctx.issues.push(located(yaml.file, yaml.lineOf(path), formatFieldPath(path), unknownEnvMessage(n, known)));
  }
  return unknown.length > 0 ? undefined : known.filter((n) => n in listed);
}

function unknownEnvMessage(name: string, known: readonly string[]): string {
  return `unknown environment "${name}"; steward.yaml declares ${known.length > 0 ? known.join(", ") : "none"}`;
}

/**
 * Variables against the job file's declarations: each one set must be
 * declared (Nomad would only warn and ignore a typo), and each declared
 * without a default must be set in every environment (Nomad refuses the job).
 */
function checkVariables(
  data: ServiceFile,
  envs: Record<string, ServiceEnvironment>,
  facts: JobFileFacts,
  yaml: YamlFile,
  jobFile: string,
  issues: ValidationIssue[],
): void {
  for (const [env, { variables }] of Object.entries(envs)) {
    for (const name of Object.keys(variables).filter((v) => !facts.variables.has(v))) {
      const path = ["environments", env, "variables", name];
      const declared = [...facts.variables.keys()].filter((v) => v !== IMAGE_VARIABLE);
      const hint = declared.length > 0 ? ` (it declares ${declared.join(", ")})` : " (it declares none but image)";
      issues.push(located(yaml.file, yaml.lineOf(path), formatFieldPath(path), `variable "${name}" is not declared in ${jobFile}${hint}`));
    }
  }
  const required = [...facts.variables.entries()].filter(([v, d]) => !d.hasDefault && v !== IMAGE_VARIABLE).map(([v]) => v);
  for (const name of required) {
    if (data.environments === undefined) {
      issues.push(located(yaml.file, undefined, "environments", `variable "${name}" has no default in ${jobFile}, so every environment must set it`));
      continue;
    }
    for (const [env, { variables }] of Object.entries(envs)) {
      if (name in variables) continue;
      const path = ["environments", env, "variables"];
      issues.push(located(yaml.file, yaml.lineOf(path), formatFieldPath(path), `must set "${name}": ${jobFile} declares it without a default`));
    }
  }
}

/** A verify gate's `job` names a file beside service.yaml (rather than a registered job's ID) when it ends in `.hcl` or `.nomad`. */
export function isVerifyJobFile(job: string): boolean {
  return /\.(hcl|nomad)$/.test(job);
}

/** Tree paths of the verification job files a service.yaml names. */
function verifyJobPaths(service: string, data: ServiceFile | undefined): string[] {
  return Object.values(data?.promotion?.gates ?? {})
    .flat()
    .flatMap((g) => (g.kind === "verify" && isVerifyJobFile(g.job) ? [`services/${service}/${g.job.replace(/^\.\//, "")}`] : []));
}

/**
 * The promotion policy with each verify gate's job file read in (`file`,
 * `hcl`); a path that is unusable or names no file is an issue at the gate's
 * `verify.job`.
 */
function withVerifyFiles(service: string, promotion: ServiceFile["promotion"], yaml: YamlFile, ctx: Shared): ServiceFile["promotion"] {
  if (!promotion) return promotion;
  const gates = Object.fromEntries(
    Object.entries(promotion.gates).map(([stage, list]) => [
      stage,
      list.map((g, i) => {
        if (g.kind !== "verify" || !isVerifyJobFile(g.job)) return g;
        const fieldPath = ["promotion", "gates", stage, i, "verify", "job"];
        const rel = g.job.replace(/^\.\//, "");
        const problem = pathProblem(rel);
        const file = `services/${service}/${rel}`;
        const hcl = problem === undefined ? ctx.texts.get(file) : undefined;
        if (hcl === undefined) {
          const message = problem !== undefined ? `${problem} (the path is relative to services/${service}/)` : `verification job file ${file} does not exist`;
          // A file that exists but was refused (too large, not UTF-8) already has its issue.
          if (problem !== undefined || !issuesMention(ctx.issues, file)) ctx.issues.push(located(yaml.file, yaml.lineOf(fieldPath), formatFieldPath(fieldPath), message));
          return g;
        }
        return { ...g, file, hcl };
      }),
    ]),
  );
  return { gates };
}

/** Gates may only be declared for environments the service runs in: a gate on a stage it skips would never run. */
function checkGateStages(data: ServiceFile, envNames: readonly string[], yaml: YamlFile, issues: ValidationIssue[]): void {
  for (const stage of Object.keys(data.promotion?.gates ?? {}).filter((n) => !envNames.includes(n))) {
    const path = ["promotion", "gates", stage];
    issues.push(located(yaml.file, yaml.lineOf(path), formatFieldPath(path), `"${stage}" is not an environment this service runs in (${envNames.join(", ")})`));
  }
}

function loadPool(name: string, file: string, ctx: Shared): PoolSpec | undefined {
  const { issues } = ctx;
  const before = issues.length;
  if (!OBJECT_NAME.test(name)) {
    issues.push(located(file, undefined, "", `pool name "${name}" (its file name) must be 1 to 63 characters of a-z, 0-9 and -, starting with a letter or digit`));
  }
  const yaml = parseYaml(file, ctx.texts, issues);
  if (!yaml) return undefined;
  const parsed = poolFileSchema.safeParse(yaml.value, { error: humanMessage });
  if (!parsed.success) issues.push(...fromSchemaIssues(file, parsed.error.issues, yaml.lineOf));
  const env = (yaml.value as { env?: unknown } | null)?.env;
  const known = ctx.steward.envNames;
  if (known && typeof env === "string" && ENV_NAME.test(env) && !known.includes(env)) {
    issues.push(located(file, yaml.lineOf(["env"]), "env", unknownEnvMessage(env, known)));
  }
  if (!parsed.success || issues.length > before) return undefined;
  const p = parsed.data;
  const { nodePool, nodeClass, meta } = p.select;
  return {
    name,
    file,
    env: p.env,
    role: p.role,
    select: { ...(nodePool !== undefined && { nodePool }), ...(nodeClass !== undefined && { nodeClass }), ...(meta !== undefined && { meta }) },
    terraform: p.terraform,
    health: {
      unhealthyAfterMs: p.health.unhealthyAfter,
      flapping: { count: p.health.flapping.count, windowMs: p.health.flapping.window, replace: p.health.flapping.replace },
    },
    drain: { deadlineMs: p.drain.deadline },
    budgets: { maxUnhealthy: p.budgets.maxUnhealthy, maxConcurrent: p.budgets.maxConcurrent, cooldownMs: p.budgets.cooldown },
  };
}

/**
 * Two services whose jobs share an ID in one environment would overwrite
 * each other in Nomad. Only IDs known statically are compared; an ID built
 * from variables is left to Nomad's parse. Only IDs the index knows to be
 * declared more than once are looked at, so a tree of N services costs
 * O(conflicts), not O(N).
 */
function duplicateJobIdIssues(st: TreeState): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const id of [...st.conflicted].sort()) {
    const known = st.jobIds.get(id) ?? [];
    const same = (typeof known === "string" ? [known] : known).flatMap((n) => st.services.get(n) ?? []);
    same.forEach((s, i) => {
      for (const other of same.slice(0, i)) {
        const shared = s.envs?.filter((e) => other.envs?.includes(e)) ?? [];
        if (shared.length === 0) continue;
        issues.push(
          located(s.jobFile, s.facts?.jobLine, "", `job ID "${id}" is also the job ID of ${other.jobFile} in ${shared.join(", ")}; job IDs must be unique within an environment`),
        );
      }
    });
  }
  return issues;
}
