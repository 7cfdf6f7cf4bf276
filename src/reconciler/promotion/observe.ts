import type { DesiredState, ServiceSpec } from "../../model/types.js";
import type { FreezeNote } from "../core/freeze.js";
import { stageDigest, type PromotionRecord } from "./journal.js";
import type { Peer, PromotionSnapshot, StageObservation, StageSpec } from "./plan.js";

/** The promotion loop's key: one digest of one service. */
export interface PromotionKey {
  service: string;
  digest: string;
}

export const promotionKeyString = (k: PromotionKey): string => `${k.service}/${k.digest}`;

/** A candidate the registry source found for a service (tag policy applied). */
export interface CandidateSeen {
  digest: string;
  tag?: string;
  /** Higher is newer, from the tag policy's ranking. */
  order: number;
}

const EMPTY_STAGE: StageObservation = { deployments: [], allocFailures: [], gates: {} };

/**
 * The in-memory caches a promotion pass observes. Sources, probes and the
 * loop's record step write here; observe only reads. `refreshedAt` holds,
 * per source name, when that source was last known current (epoch ms): the
 * oldest of them is the snapshot's age.
 */
export class PromotionCache {
  /** The last desired state that was valid as a whole. */
  state: DesiredState | undefined;
  /** service → journal records with the ModifyIndex each was read at. */
  readonly records = new Map<string, Array<{ record: PromotionRecord; modifyIndex: number }>>();
  /** service → candidates from the registry. */
  readonly candidates = new Map<string, CandidateSeen[]>();
  /** `service/digest` keys with a manual approval. */
  readonly approvals = new Set<string>();
  /** `service/digest` keys with a manual rejection. */
  readonly rejections = new Set<string>();
  /** `env/service` → the service's job in that stage. */
  readonly stages = new Map<string, StageObservation>();
  readonly paused = new Set<string>();
  /** Frozen environments (`steward/control/freeze/<env>`) and who froze them. */
  frozen: ReadonlyMap<string, FreezeNote> = new Map();
  readonly refreshedAt = new Map<string, number>();
}

/**
 * The snapshot for one key, from the caches only (no I/O). Undefined when
 * the service is not in the desired state or has no promotion (no
 * `image.policy`): there is nothing to decide.
 */
export function observePromotion(c: PromotionCache, key: PromotionKey): PromotionSnapshot | undefined {
  const service = c.state?.services.find((s) => s.name === key.service);
  if (!service?.image.policy || !c.state) return undefined;
  const entries = c.records.get(key.service) ?? [];
  const candidates = c.candidates.get(key.service) ?? [];
  const mine = candidates.find((x) => x.digest === key.digest);
  const journal = entries.find((e) => e.record.digest === key.digest);
  const tag = mine?.tag ?? journal?.record.tag;
  const frozen = Object.fromEntries(Object.keys(service.environments).flatMap((env) => {
    const note = c.frozen.get(env);
    return note ? [[env, note]] : [];
  }));
  return {
    service: key.service,
    repository: service.image.repository,
    digest: key.digest,
    ...(tag !== undefined && { tag }),
    order: mine?.order ?? -1,
    stages: stagesOf(c.state, service),
    ...(journal && { journal }),
    peers: peersOf(candidates, entries, key.digest),
    failedDigests: entries.filter((e) => e.record.status === "failed").map((e) => e.record.digest),
    approved: c.approvals.has(promotionKeyString(key)),
    ...(c.rejections.has(promotionKeyString(key)) && { rejected: true }),
    observed: Object.fromEntries(Object.keys(service.environments).map((env) => [env, c.stages.get(`${env}/${key.service}`) ?? EMPTY_STAGE])),
    observedAt: c.refreshedAt.size === 0 ? 0 : Math.min(...c.refreshedAt.values()),
    paused: c.paused.has(key.service),
    ...(service.image.digest !== undefined && { pinnedDigest: service.image.digest }),
    ...(Object.keys(frozen).length > 0 && { frozen }),
  };
}

/** The service's stages in steward.yaml's order, with their gates and freeze windows. */
export function stagesOf(state: DesiredState, service: ServiceSpec): StageSpec[] {
  return state.environments
    .filter((e) => e.name in service.environments)
    .map((e) => ({ name: e.name, gates: service.promotion?.gates[e.name] ?? [], freeze: e.freeze ?? [] }));
}

function peersOf(candidates: readonly CandidateSeen[], entries: ReadonlyArray<{ record: PromotionRecord }>, self: string): Peer[] {
  const byDigest = new Map<string, Peer>();
  for (const x of candidates) if (x.digest !== self) byDigest.set(x.digest, { digest: x.digest, order: x.order });
  for (const { record } of entries) {
    if (record.digest === self) continue;
    // A record whose digest the registry no longer lists still occupies or passed stages; it ranks oldest.
    byDigest.set(record.digest, { digest: record.digest, order: byDigest.get(record.digest)?.order ?? -1, record });
  }
  return [...byDigest.values()];
}

/**
 * Sync's ImageResolver, answered from the journal cache (the contract of
 * journal.ts `stageDigest`): the promoted digest of the stage, `undefined`
 * (hold) while promotion owns the stage, else `fallback` (service.yaml's
 * pinned digest). Services without `image.policy` always use the fallback.
 */
export function promotedImageResolver(
  c: PromotionCache,
  fallback: (service: ServiceSpec, env: string) => string | undefined,
): (service: ServiceSpec, env: string) => string | undefined {
  return (service, env) => {
    if (!service.image.policy) return fallback(service, env);
    const d = stageDigest((c.records.get(service.name) ?? []).map((e) => e.record), env);
    if (!d) return fallback(service, env);
    return "digest" in d ? `${service.image.repository}@${d.digest}` : undefined;
  };
}
