/**
 * Every default Steward uses, as a named constant with the reason it has this
 * value (consul-template's `DefaultRetry*`). Durations are milliseconds unless
 * the name says otherwise. Helpers append their own sections; keep one
 * constant per line of reasoning.
 */

// ── Work queue: per-key retry backoff (layer 2 of the three retry layers) ──

/** First retry delay of a failing key: long enough not to hammer an API that just failed, short enough to hide a blip. */
export const QUEUE_BACKOFF_BASE_MS = 500;
/** Longest retry delay of a failing key (5 min): a broken key is still retried several times an hour, while a thousand broken keys stay cheap. */
export const QUEUE_BACKOFF_CAP_MS = 5 * 60_000;

// ── Work queue: global write budget ──

/** Sustained writes per second across one loop (client-go's 10 qps): protects Nomad's Raft log from a storm of registrations. */
export const WRITE_BUCKET_QPS = 10;
/** Writes allowed in a burst before the rate applies (client-go's 100): a normal sync of a whole environment goes through at once. */
export const WRITE_BUCKET_BURST = 100;

// ── Runner ──

/** Concurrent passes per loop: keys are independent, but Nomad and Consul are shared, so a few are plenty. */
export const RUNNER_WORKERS = 4;
/** Full resync period (10 min, Flux's default interval): catches anything a missed event left behind. */
export const RESYNC_INTERVAL_MS = 10 * 60_000;
/** Share of the resync interval used as jitter (±10 %): keys and replicas drift apart instead of resyncing in lockstep. */
export const RESYNC_JITTER_FRACTION = 0.1;
/** Conflicts in a row re-observed at once before backoff applies: a stale cache catches up within one watch round-trip, but a persistent conflict must not spin. */
export const RUNNER_CONFLICT_IMMEDIATE_RETRIES = 2;
/** Longest run of back-to-back passes before the runner lets timers and I/O in (10 ms): a pass over 10,000 idle keys never waits for I/O, and must not hold up a register's answer or a lock renewal for its whole length. */
export const RUNNER_SLICE_MS = 10;

// ── Watches (sources/watch.ts, layer 3) ──

/** Least time between two calls of one blocking query (consul-template's 100 ms): bounds the load of a key that changes constantly. */
export const WATCH_MIN_INTERVAL_MS = 100;
/** Random extra delay added to the floor (consul-template's 0–20 ms): spreads watches started together. */
export const WATCH_DITHER_MS = 20;
/** First delay after a failed watch call; doubled per failure with full jitter, reset after any success. */
export const WATCH_BACKOFF_BASE_MS = 250;
/** Longest delay between failed watch calls (1 min, consul-template's max_backoff): a recovered server is noticed within a minute. */
export const WATCH_BACKOFF_CAP_MS = 60_000;
/** Server-side wait of a blocking query (1 min, consul-template's default): short enough that a lost connection is noticed soon. */
export const WATCH_BLOCKING_WAIT_MS = 60_000;

// ── HTTP calls (sources/http-client.ts, layer 1) ──

/** Timeout of an ordinary (non-blocking) API call: Nomad, Consul and Vault answer in milliseconds when healthy. */
export const HTTP_TIMEOUT_MS = 10_000;
/** Added to a blocking query's wait (on top of the wait/16 jitter Consul and Nomad add) before the client gives up. */
export const HTTP_BLOCKING_MARGIN_MS = 5_000;
/** Attempts of one retryable call, the first included: a few, since the queue retries the whole pass after that. */
export const HTTP_RETRY_ATTEMPTS = 4;
/** First delay between attempts of one call; doubled per attempt with full jitter. */
export const HTTP_RETRY_BASE_MS = 200;
/** Longest delay between attempts of one call. */
export const HTTP_RETRY_CAP_MS = 5_000;
/** Longest `Retry-After` waited for inside one call (30 s); a longer one is handed to the queue as the error's retryAfterMs. */
export const HTTP_RETRY_AFTER_CAP_MS = 30_000;

// ── The daemon's process (deploy/nomad/steward.nomad.hcl's env; bench/daemon.bench.ts starts it the same way) ──

/**
 * V8 flags of `steward run` (`NODE_OPTIONS`): a young generation of 2 MB
 * semi-spaces instead of 16 MB. The daemon's garbage is short-lived and
 * small (a pass, a response); Node's default young generation alone kept
 * ~30 MB resident at 10,000 jobs, for scavenges a few tenths of a ms apart
 * instead of a few ms.
 */
export const DAEMON_NODE_OPTIONS = "--max-semi-space-size=2";
/**
 * glibc malloc settings of `steward run` (environment): two arenas instead of
 * eight per core; blocks of 32 KiB and more from mmap, so they go back to the
 * system when freed (glibc's default, 128 KiB and growing with the largest
 * block freed, put them in arenas); the trim threshold fixed at its 128 KiB
 * default. Reading a revision (10,000 parse answers read through 64 KiB
 * socket buffers, git output, the hcl2json worker's messages) left 45–65 MB
 * of freed memory resident in arenas at 10,000 jobs; with these, ~20 MB. No
 * effect with another libc (musl).
 */
export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "32768",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/** Quiet time after a revision is accepted or leadership is taken before one full garbage collection (10 s): the first passes over every key follow within seconds, and an idle daemon would otherwise keep the heap the burst grew to. */
export const HEAP_COMPACT_DELAY_MS = 10_000;

// ── Desired state (src/model/) ──

/** Largest file of a desired-state tree Steward reads (256 KiB): job files and YAML are a few KiB; anything larger is a mistake (a binary, a log) that would slow every pass. */
export const MAX_DESIRED_STATE_FILE_BYTES = 256 * 1024;
/** Services whose validated form is kept between revisions (20,000): every service of a 10,000-service tree, twice over, so a revision re-checks only the services it changed. */
export const LOADED_SERVICES_KEPT = 20_000;
/** How long the HCL parser's worker thread outlives its last parse (10 s): a revision's job files arrive together, and between revisions its memory (tens of MB of WebAssembly) is given back. */
export const HCL_WORKER_IDLE_MS = 10_000;
/** Longest stretch of validation or rendering work before the loader (or the intake) lets timers and I/O in (10 ms): a 10,000-service tree takes seconds to check the first time. */
export const LOAD_SLICE_MS = 10;
/** Nomad region of an environment that names none: Nomad's own default region. */
export const DEFAULT_NOMAD_REGION = "global";
/** Nomad namespace of an environment that names none: Nomad's own default namespace. */
export const DEFAULT_NOMAD_NAMESPACE = "default";
/** Drift handling when steward.yaml says nothing: heal, since the desired state is the source of truth in GitOps. */
export const DEFAULT_SYNC_DRIFT = "heal" as const;
/** Adopting jobs Steward did not create is off: an existing job is reported, never overwritten on a guess. */
export const DEFAULT_SYNC_ADOPT = false;
/** Pruning is off: stopping jobs is the one sync action that can take a service down, so the user opts in. */
export const DEFAULT_SYNC_PRUNE = false;
/** How long a job must be gone from the desired state before it is pruned (5 min): a revert or a bad merge fixed quickly stops nothing. */
export const DEFAULT_PRUNE_GRACE_PERIOD_MS = 5 * 60_000;
/** Most of an environment's managed jobs pruned in one pass (a quarter): a tree that lost most services by mistake cannot empty a cluster. */
export const DEFAULT_MAX_PRUNE_SHARE = 0.25;
/** Terraform workspace of a pool that names none: Terraform's own default workspace. */
export const DEFAULT_TERRAFORM_WORKSPACE = "default";
/** How long a node must stay unhealthy before it is replaced (5 min): longer than a reboot or an agent restart. */
export const DEFAULT_POOL_UNHEALTHY_AFTER_MS = 5 * 60_000;
/** Percentage of a pool's nodes that may be unhealthy before healing stops (40 %, CAPI's maxUnhealthy idea): above it the cause is not the nodes. */
export const DEFAULT_POOL_MAX_UNHEALTHY_PERCENT = 40;
/** Nodes of one pool replaced at the same time: one, so capacity never drops by more than a node. */
export const DEFAULT_POOL_MAX_CONCURRENT = 1;
/** Pause after a replacement before the next one in the same pool (2 min): lets the new node join and take work. */
export const DEFAULT_POOL_COOLDOWN_MS = 2 * 60_000;
/** Times a node may turn unhealthy within the flap window before it counts as flapping (3): twice can be a reboot and a hiccup. */
export const DEFAULT_POOL_FLAP_COUNT = 3;
/** The window in which unhealthy turns are counted for flapping (30 min): several reboots within it point at the machine or the network. */
export const DEFAULT_POOL_FLAP_WINDOW_MS = 30 * 60_000;
/** Drain deadline of a node that still answers, before replacement (5 min): allocations get time to move, a stuck one does not block healing. */
export const DEFAULT_POOL_DRAIN_DEADLINE_MS = 5 * 60_000;

// ── Consul (sources/consul.ts, consul-kv-tree.ts, controls.ts; actuators/consul-kv.ts) ──

/** KV prefix of a desired-state tree kept in Consul (DESIGN's layout): beside Steward's other keys, one ACL rule covers them all. */
export const CONSUL_DESIRED_STATE_PREFIX = "steward/desired-state/";
/** KV prefix of the runtime switches (`pause`, `pause/<service>`, `sync-now`, `prune-override/<env>`): one recursive watch sees them all. */
export const CONSUL_CONTROL_PREFIX = "steward/control/";
/** KV prefix of what Steward registered per environment and job: kept in Consul so a new leader knows it after a failover. */
export const CONSUL_SYNC_STATE_PREFIX = "steward/state/sync/";

// ── Leader election (reconciler/core/leader.ts) ──

/** KV key of the leader lock (DESIGN's layout); its value names the leader for /api/status. */
export const LEADER_KEY = "steward/leader";
/** Session TTL (15 s): a crashed leader is replaced within about 2 x TTL + lock-delay (Consul ends sessions at up to twice their TTL), while a GC pause or a slow renew does not cost the lock. */
export const LEADER_SESSION_TTL_MS = 15_000;
/** Lock-delay (5 s, a third of Consul's 15 s default): a leader that lost its session gets this long to notice and stop writing before a successor may lock. */
export const LEADER_LOCK_DELAY_MS = 5_000;
/** Renewals per TTL (3, renew at TTL/3): two renewals may fail in a row before the lock is at risk. */
export const LEADER_RENEWALS_PER_TTL = 3;
/** How long before its TTL could run out a leader that cannot renew steps down (3 s): covers timer lateness on a busy event loop and the time the loops need to stop writing. */
export const LEADER_STEP_DOWN_MARGIN_MS = 3_000;
/** First delay after a failed session create or acquire; doubled per failure with full jitter. */
export const LEADER_RETRY_BASE_MS = 500;
/** Longest delay between failed session creates or acquires (15 s, one TTL): a recovered Consul is used again soon. */
export const LEADER_RETRY_CAP_MS = 15_000;

// ── Daemon configuration (src/config/) ──

/** Consul's own default HTTP address: a local agent, as on every Nomad client. */
export const DEFAULT_CONSUL_ADDRESS = "http://127.0.0.1:8500";
/** Where Steward listens for /metrics, health, status and webhooks: loopback until told otherwise. */
export const DEFAULT_LISTEN = "127.0.0.1:8080";
/** Consul KV prefix of Steward's own keys (leader lock, controls, journal, records), as DESIGN.md lays out. */
export const DEFAULT_STATE_PREFIX = "steward";
/** Branch read when the config names none. */
export const DEFAULT_GIT_BRANCH = "main";
/** Directory of the tree inside the repository, as DESIGN.md lays it out. */
export const DEFAULT_GIT_SUBDIR = "desired-state";
/** Safety-net fetch period (30 s) when no webhook arrives; the webhook is the fast path. */
export const DEFAULT_GIT_FETCH_INTERVAL_MS = 30_000;

// ── Vault (sources/vault.ts, config.vault) ──

/** Vault's own default address (`VAULT_ADDR` unset): a local agent or server on its standard port. */
export const DEFAULT_VAULT_ADDRESS = "http://127.0.0.1:8200";
/** KV v2 mount that relative secret paths live under: `secret/`, as `vault server -dev` mounts it. */
export const DEFAULT_VAULT_KV_MOUNT = "secret";
/** Mount of the AppRole auth method: `vault auth enable approle` mounts it at `approle/`. */
export const DEFAULT_VAULT_APPROLE_MOUNT = "approle";
/** How often every secret Steward uses is read again (5 min, Vault Agent's static-secret render interval): a token rotated in Vault reaches Steward well before the old one is revoked. */
export const VAULT_SECRET_REFRESH_MS = 5 * 60_000;
/** Share of the refresh period used as jitter (±10 %): replicas do not read Vault in lockstep. */
export const VAULT_REFRESH_JITTER_FRACTION = 0.1;
/** Share of its TTL after which Steward renews its own token (about 2/3, like Vault's lifetime watcher): a failed renewal still leaves a third of the TTL to retry in. */
export const VAULT_TOKEN_RENEW_FRACTION = 2 / 3;
/** First delay after a failed Vault call (login, renewal, read); doubled per failure, never shorter than this. */
export const VAULT_RETRY_BASE_MS = 1_000;
/** Longest delay between failed Vault calls (1 min): a Vault back from a restart or a seal is used again within a minute. */
export const VAULT_RETRY_CAP_MS = 60_000;

// ── Registry (sources/registry.ts, model/tag-policy.ts) ──

/** Tag pattern of the build-number policy when none is given: CI tags each build `build-<n>`, as the seed workflow does. */
export const DEFAULT_BUILD_NUMBER_PATTERN = "^build-(\\d+)$";
/** Lifetime assumed for a registry token that states none (60 s, the Docker token spec's default for a missing `expires_in`). */
export const REGISTRY_TOKEN_DEFAULT_TTL_S = 60;
/** A cached registry token is dropped this long before it expires (10 s): a call started just before expiry does not reach the registry with a dead token. */
export const REGISTRY_TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** Most tag-list pages followed through `Link` in one listing (100): a registry whose `Link` loops cannot keep a pass busy forever. */
export const REGISTRY_MAX_TAG_PAGES = 100;
/** Largest manifest read when a registry omits `Docker-Content-Digest` (4 MiB, distribution's own manifest size limit). */
export const REGISTRY_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// ── Promotion (reconciler/promotion/, actuators/journal.ts, service.yaml `promotion`) ──

/** Consul KV prefix of the promotion journal, one key per `<service>/<digest>`, as DESIGN.md lays out. */
export const CONSUL_PROMOTION_JOURNAL_PREFIX = "steward/journal/promotion/";
/** KV prefix of the healing journal: one record per incident at `<prefix><pool>/<nodeId>` (DESIGN's layout). */
export const CONSUL_HEALING_JOURNAL_PREFIX = "steward/journal/healing/";
/** History lines kept per journal record (50): a whole promotion through a few stages and gates, with room for re-issues, in a few KiB. */
export const JOURNAL_HISTORY_LIMIT = 50;
/** Finished records (promoted or superseded) kept per service (20): enough history for status and rollbacks; failed ones are always kept, since they bar the digest. */
export const JOURNAL_FINISHED_RECORDS_KEPT = 20;
/** Oldest snapshot the promotion planner acts on (30 s): older caches may hide a failed deployment or a newer candidate. */
export const PROMOTION_MAX_SNAPSHOT_AGE_MS = 30_000;
/** Re-check period while a registration, deployment or gate is pending (5 s): events usually come first; this is the safety net. */
export const PROMOTION_RECHECK_MS = 5_000;
/** Default timeout of a verify, http or prometheus gate (10 min): long enough for a test suite, short enough that a hung check fails the digest the same day. */
export const DEFAULT_GATE_TIMEOUT_MS = 10 * 60_000;
/** Status an http gate expects by default: plain success. */
export const DEFAULT_HTTP_GATE_STATUS = 200;
/** Wait before a key whose registry login was refused (401/403) is retried (1 min): credentials rotated in Vault are picked up soon, a wrong password does not hammer the registry. */
export const REGISTRY_AUTH_RETRY_AFTER_MS = 60_000;
/** How often each promoted service's tags are listed when no notification came (1 min): the safety net under `POST /hooks/registry`, cheap for a registry. */
export const PROMOTION_POLL_INTERVAL_MS = 60_000;
/** First wait after a failed registry poll (1 s), doubled per failure with full jitter, never below Retry-After. */
export const PROMOTION_POLL_BACKOFF_BASE_MS = 1_000;
/** Longest wait between registry polls after failures (5 min): a registry down for long is still noticed back within minutes. */
export const PROMOTION_POLL_BACKOFF_CAP_MS = 5 * 60_000;
/** Wait before listing again when a notified digest is not listed yet (100 ms): docker-registry notifies before it links the tag, by a few ms. */
export const PROMOTION_NOTIFIED_RECHECK_MS = 100;
/** Quick re-listings for a notified digest before giving up on it until the next poll (20, i.e. 2 s): a tag outside the newest ones is never listed as a candidate. */
export const PROMOTION_NOTIFIED_RECHECKS = 20;
/** Newest tags resolved to digests per poll (3): a HEAD each; older tags can only be superseded, so resolving them would only cost calls. */
export const PROMOTION_CANDIDATES_RESOLVED = 3;
/** Most journal steps one promotion pass takes before yielding (20): a pass walks a whole chain of recorded steps, but cannot spin. */
export const PROMOTION_MAX_STEPS_PER_PASS = 20;
/** History lines per service shown in `/api/status` and `steward status` (20): the latest promotion and the one before, readable in a terminal. */
export const PROMOTION_STATUS_HISTORY = 20;
/** Header of `POST /hooks/registry` that carries the shared secret, as `Bearer <secret>` (the registry's endpoint `headers` config sends it). */
export const REGISTRY_HOOK_HEADER = "Authorization";

// ── Sync loop ──

/** Longest a new leader waits for every environment's jobs list before acting (30 s): long enough for a healthy cluster, short enough that one unreachable cluster does not stall the others. */
export const LEAD_SYNC_WAIT_MS = 30_000;

/** How soon a key that waits for its environment's first jobs list looks again (1 s); the list's arrival wakes it sooner. */
export const SYNC_LIST_WAIT_RECHECK_MS = 1_000;

// ── Gates and approvals (reconciler/promotion/gates.ts, sources/gate-probes.ts, sources/approvals.ts) ──

/** KV prefix of manual approvals, one key per `<service>/<digest>`, as DESIGN.md lays out. */
export const CONSUL_APPROVALS_PREFIX = "steward/approvals/";
/** Period of an http gate's probe (5 s): a service that just turned healthy is seen within one promotion recheck. */
export const HTTP_GATE_INTERVAL_MS = 5_000;
/** Timeout of one http gate probe (5 s): a health endpoint slower than this is not healthy; shorter than the interval, so probes never overlap. */
export const HTTP_GATE_PROBE_TIMEOUT_MS = 5_000;
/** Period of a prometheus gate's query (15 s, Prometheus's default scrape interval): querying faster only re-reads the same samples. */
export const PROMETHEUS_GATE_INTERVAL_MS = 15_000;
/** Period at which a verification job's state is read (2 s): batch jobs run for seconds to minutes, so this adds little to a gate's time. */
export const VERIFY_GATE_POLL_MS = 2_000;

// ── Terraform (actuators/terraform.ts, reconciler/healing/budget.ts) ──

/** The terraform binary, looked up on PATH: the machine image installs it there. */
export const TERRAFORM_BINARY = "terraform";
/** Longest a `terraform apply` may run before Steward interrupts it (15 min): above aws_instance's own 10 min create timeout plus a delete, so only a hung apply is stopped (the provider never times out a hung EC2 call itself). */
export const TERRAFORM_APPLY_TIMEOUT_MS = 15 * 60_000;
/** Longest a `plan`, `show` or `init` may run (5 min): they make no changes, and an offline init takes seconds. */
export const TERRAFORM_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** After the interrupt, how long Terraform gets to cancel its calls, write state and release the lock before it is killed (60 s): that takes seconds, a kill may leave a remote lock behind. */
export const TERRAFORM_INTERRUPT_GRACE_MS = 60_000;
/** `-lock-timeout` of plan and apply (30 s): rides out a colleague's quick plan; a longer hold is reported as a lock error and retried with backoff. */
export const TERRAFORM_LOCK_TIMEOUT_MS = 30_000;
/** Window of the apply budget (10 min): a few replacements an hour per pool is plenty, a storm of applies is not. */
export const TERRAFORM_APPLY_BUDGET_WINDOW_MS = 10 * 60_000;
/** Applies per working directory per window (2): several lost nodes of one pool go into one apply with several -replace flags anyway. */
export const TERRAFORM_APPLY_BUDGET_PER_DIR = 2;
/** Applies across all working directories per window (6): the cloud API's rate limit is per account, shared by every pool. */
export const TERRAFORM_APPLY_BUDGET_GLOBAL = 6;
// ── Live UI (server/live-*.ts, ui/) ──

/** Stream messages kept for a page's Last-Event-ID resume (1,000): a page that lost its connection for a failover or a few seconds resumes without a full snapshot; a longer gap just gets one. */
export const LIVE_EVENT_BUFFER = 1_000;
/** Collection items the resume buffer may hold across its patches (5,000): a re-diff of 10,000 cells is 4–8 MB of objects nobody may ever ask for again; a page that missed such a patch gets a snapshot, which it would nearly be anyway. */
export const LIVE_BUFFER_ITEMS = 5_000;
/** Longest a status change waits to be batched into one patch (50 ms): a revision touching 2,000 jobs is one message, yet a single change reaches the page well under a human's notice. */
export const LIVE_FLUSH_MS = 50;
/** Period of the check of the small sections (1 s): who leads changes without any loop event; comparing a few hundred bytes of JSON each second costs nothing. */
export const LIVE_SECTION_TICK_MS = 1_000;
/** SSE comment sent on an idle stream (15 s): proxies and load balancers close connections silent for 30-60 s. */
export const LIVE_HEARTBEAT_MS = 15_000;
/** The page's EventSource reconnect delay (1 s, sent as `retry:`): after a failover it reconnects within about a second of the server answering again. */
export const LIVE_RETRY_MS = 1_000;
/** A stream whose unsent data passes this is closed (4 MiB); the page reconnects and resumes or gets a snapshot, instead of the server buffering for a stalled reader. */
export const LIVE_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Largest action request body read (16 KiB): an action names a service, an environment, a reason. */
export const LIVE_MAX_ACTION_BODY_BYTES = 16 * 1024;

// ── Healing (reconciler/healing/) ──

/** Server-side wait of the nodes and serfHealth blocking queries of healing (60 s): as long as the other watches. */
export const HEALING_WATCH_WAIT_MS = 60_000;
/** How old the Terraform state view may get before it is read again (60 s): instances change only through applies, which re-read it at once. */
export const HEALING_STATE_MAX_AGE_MS = 60_000;
/** How long after a successful apply the new node may take to be ready before it is reported slow (10 min): cloud-init installs agents. */
export const HEALING_BOOT_TIMEOUT_MS = 10 * 60_000;
/** First retry delay after a failed apply (30 s), doubled per failure: an apply is expensive and a cloud API that refused is throttled or short of capacity. */
export const HEALING_APPLY_BACKOFF_BASE_MS = 30_000;
/** Longest retry delay after failed applies (30 min). */
export const HEALING_APPLY_BACKOFF_CAP_MS = 30 * 60_000;
/** Finished incidents kept per pool in the journal (20): enough for cooldown and for the status to show recent replacements. */
export const HEALING_DONE_RECORDS_KEPT = 20;
/** How often the healing loop re-plans every pool without an event (30 s): a lost node's timer is the main wake-up; this catches the rest. */
export const HEALING_RESYNC_INTERVAL_MS = 30_000;
/** Terraform progress lines kept per pool for the UI (20): the latest apply's last steps fit on the pool page; a line is at most a few hundred bytes. */
export const HEALING_PROGRESS_LINES = 20;
/** Longest Terraform progress line shown (300 characters): a resource message with its address fits; a pasted provider error is cut. */
export const HEALING_PROGRESS_LINE_CHARS = 300;
/** Lifetime of a read session of the live UI when reads need the token (12 h): a working day; rotating the action token ends every session sooner. */
export const LIVE_SESSION_TTL_MS = 12 * 60 * 60_000;

// ── Instances and deployments on the overview (reconciler/core/presence.ts, sources/instances.ts, sources/nomad-deployments.ts) ──

/** KV prefix of the instances' presence keys (`<prefix><instanceId>`), each held by its instance's session with behavior delete: Consul removes the key when the instance dies. */
export const CONSUL_INSTANCES_PREFIX = "steward/instances/";
/** Presence session TTL (15 s, as the leader's): a killed instance leaves the list within about 2 x TTL (Consul ends sessions at up to twice their TTL). */
export const PRESENCE_SESSION_TTL_MS = 15_000;
/** First delay after a failed presence session create or key write; doubled per failure with full jitter. */
export const PRESENCE_RETRY_BASE_MS = 500;
/** Longest delay between failed presence writes (15 s, one TTL). */
export const PRESENCE_RETRY_CAP_MS = 15_000;
/** Least time between two deployments-list reads of one environment (1 s): the list is for display, and during a big rollout every allocation's health moves its index; a second keeps the parse of a 1,000-job namespace's list off the hot path. */
export const DEPLOYMENTS_WATCH_MIN_INTERVAL_MS = 1_000;

/** Where operators' requests to retry a failed gate live (`<prefix><service>/<digest>`): beside the approvals, a per-digest human decision too. */
export const CONSUL_GATE_RETRIES_PREFIX = "steward/gate-retries/";
