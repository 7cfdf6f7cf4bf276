import { IndexNotifier } from "../core/blocking.js";
import type { AllocRec, DeploymentRec, EvalRec, Job, NodeRec } from "./types.js";

/** Nomad's state tables whose last-write index list queries report. */
export type Table = "jobs" | "job_version" | "job_summary" | "nodes" | "allocs" | "evals" | "deployment";

/** A job and its tracked versions (newest first), as Nomad's jobs and job_version tables hold them. */
export interface JobRec {
  key: string;
  current: Job;
  versions: Job[];
  /** Index of the last change to the job's summary (allocation counts). */
  summaryIndex: number;
  summaryCreateIndex: number;
}

/** Nomad keeps this many versions of a job (structs.JobTrackedVersions). */
export const TRACKED_VERSIONS = 6;

/** Jobs are unique per namespace. */
export function jobKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}

/**
 * The cluster's state store: one raft-like index shared by every table, the
 * index of each table's last write (what list queries report), and the
 * secondary indexes the scheduler and the API need to stay O(result) at
 * 10 000 jobs and 5 000 nodes.
 *
 * Writes are synchronous: `write()` hands out the next index and wakes
 * blocking queries, whose continuations run only after the caller's
 * synchronous code has applied the change.
 */
export class NomadStore {
  readonly notifier = new IndexNotifier(1);
  private readonly tableIndex = new Map<Table, number>();

  readonly jobs = new Map<string, JobRec>();
  readonly nodes = new Map<string, NodeRec>();
  readonly allocs = new Map<string, AllocRec>();
  readonly evals = new Map<string, EvalRec>();
  readonly deployments = new Map<string, DeploymentRec>();

  private readonly allocsByJobIdx = new Map<string, Set<AllocRec>>();
  private readonly allocsByNodeIdx = new Map<string, Set<AllocRec>>();
  private readonly allocsByEvalIdx = new Map<string, Set<AllocRec>>();
  private readonly allocsByDeploymentIdx = new Map<string, Set<AllocRec>>();
  private readonly evalsByJobIdx = new Map<string, Set<EvalRec>>();
  private readonly deploymentsByJobIdx = new Map<string, DeploymentRec[]>();
  /** Node IDs in registration order; the scheduler rotates through it. */
  readonly nodeOrder: string[] = [];

  get index(): number {
    return this.notifier.current;
  }

  /** Allocates the index of one write touching `tables`. */
  write(...tables: Table[]): number {
    const idx = this.notifier.bump();
    for (const t of tables) this.tableIndex.set(t, idx);
    return idx;
  }

  /** Index of the last write to a table (at least 1, as Nomad never answers 0). */
  tableIdx(...tables: Table[]): number {
    let max = 1;
    for (const t of tables) max = Math.max(max, this.tableIndex.get(t) ?? 1);
    return max;
  }

  // --- jobs -------------------------------------------------------------

  job(namespace: string, id: string): JobRec | undefined {
    return this.jobs.get(jobKey(namespace, id));
  }

  // --- nodes ------------------------------------------------------------

  putNode(n: NodeRec): void {
    if (!this.nodes.has(n.ID)) this.nodeOrder.push(n.ID);
    this.nodes.set(n.ID, n);
  }

  deleteNode(id: string): void {
    if (!this.nodes.delete(id)) return;
    const i = this.nodeOrder.indexOf(id);
    if (i >= 0) this.nodeOrder.splice(i, 1);
  }

  // --- allocations ------------------------------------------------------

  putAlloc(a: AllocRec): void {
    if (this.allocs.has(a.ID)) return;
    this.allocs.set(a.ID, a);
    addTo(this.allocsByJobIdx, jobKey(a.Namespace, a.JobID), a);
    addTo(this.allocsByNodeIdx, a.NodeID, a);
    addTo(this.allocsByEvalIdx, a.EvalID, a);
    if (a.DeploymentID) addTo(this.allocsByDeploymentIdx, a.DeploymentID, a);
  }

  /** Moves an allocation to another deployment (in-place updates join the new one). */
  setAllocDeployment(a: AllocRec, deploymentID: string): void {
    if (a.DeploymentID === deploymentID) return;
    if (a.DeploymentID) this.allocsByDeploymentIdx.get(a.DeploymentID)?.delete(a);
    a.DeploymentID = deploymentID;
    if (deploymentID) addTo(this.allocsByDeploymentIdx, deploymentID, a);
  }

  deleteAlloc(a: AllocRec): void {
    if (!this.allocs.delete(a.ID)) return;
    this.allocsByJobIdx.get(jobKey(a.Namespace, a.JobID))?.delete(a);
    this.allocsByNodeIdx.get(a.NodeID)?.delete(a);
    this.allocsByEvalIdx.get(a.EvalID)?.delete(a);
    if (a.DeploymentID) this.allocsByDeploymentIdx.get(a.DeploymentID)?.delete(a);
  }

  allocsByJob(namespace: string, jobID: string): Iterable<AllocRec> {
    return this.allocsByJobIdx.get(jobKey(namespace, jobID)) ?? EMPTY;
  }

  allocsByNode(nodeID: string): Iterable<AllocRec> {
    return this.allocsByNodeIdx.get(nodeID) ?? EMPTY;
  }

  allocsByEval(evalID: string): Iterable<AllocRec> {
    return this.allocsByEvalIdx.get(evalID) ?? EMPTY;
  }

  allocsByDeployment(deploymentID: string): Iterable<AllocRec> {
    return this.allocsByDeploymentIdx.get(deploymentID) ?? EMPTY;
  }

  // --- evaluations ------------------------------------------------------

  putEval(e: EvalRec): void {
    this.evals.set(e.ID, e);
    addTo(this.evalsByJobIdx, jobKey(e.Namespace, e.JobID), e);
  }

  deleteEval(e: EvalRec): void {
    if (!this.evals.delete(e.ID)) return;
    this.evalsByJobIdx.get(jobKey(e.Namespace, e.JobID))?.delete(e);
  }

  evalsByJob(namespace: string, jobID: string): Iterable<EvalRec> {
    return this.evalsByJobIdx.get(jobKey(namespace, jobID)) ?? EMPTY;
  }

  // --- deployments ------------------------------------------------------

  putDeployment(d: DeploymentRec): void {
    if (this.deployments.has(d.ID)) return;
    this.deployments.set(d.ID, d);
    const k = jobKey(d.Namespace, d.JobID);
    const list = this.deploymentsByJobIdx.get(k);
    if (list) list.push(d);
    else this.deploymentsByJobIdx.set(k, [d]);
  }

  deleteDeployment(d: DeploymentRec): void {
    if (!this.deployments.delete(d.ID)) return;
    const list = this.deploymentsByJobIdx.get(jobKey(d.Namespace, d.JobID));
    const i = list?.indexOf(d) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  /** The job's deployments, oldest first. */
  deploymentsByJob(namespace: string, jobID: string): readonly DeploymentRec[] {
    return this.deploymentsByJobIdx.get(jobKey(namespace, jobID)) ?? [];
  }

  latestDeployment(namespace: string, jobID: string): DeploymentRec | undefined {
    const list = this.deploymentsByJob(namespace, jobID);
    return list[list.length - 1];
  }
}

const EMPTY: readonly never[] = [];

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}
