# Prometheus for the platform, scraping Nomad, Consul and Steward found
# through Consul service discovery, with Steward's alert and recording rules.
# The templates below hold deploy/prometheus/prometheus.yml and every file of
# deploy/prometheus/rules/ unchanged (test/deploy keeps them equal: edit those
# files, then paste them here). The templates use `[[ ]]`
# as delimiters, so the rules' own `{{ $labels }}` reach Prometheus as written.
#
#   nomad job run deploy/nomad/prometheus.nomad.hcl

variable "image" {
  type        = string
  default     = "prom/prometheus:v2.42.0"
  description = "Prometheus's image: the release the tests check the config and rules with (Debian's prometheus 2.42)."
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

job "prometheus" {
  type        = "service"
  datacenters = var.datacenters

  group "prometheus" {
    count = 1

    # The TSDB lives in the allocation's data dir, kept (and moved along)
    # when the allocation is replaced: no host volume to prepare.
    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 4000
    }

    # Host networking: the local Consul agent is at 127.0.0.1:8500, as the config says.
    network {
      mode = "host"
      port "http" {
        static = 9090
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    service {
      name = "prometheus"
      port = "http"
      check {
        name     = "prometheus-healthy"
        type     = "http"
        path     = "/-/healthy"
        interval = "10s"
        timeout  = "2s"
      }

      check {
        name     = "prometheus-ready"
        type     = "http"
        path     = "/-/ready"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "prometheus" {
      driver = "docker"

      config {
        image        = var.image
        network_mode = "host"
        ports        = ["http"]
        args = [
          "--config.file=/local/prometheus.yml",
          "--storage.tsdb.path=/alloc/data/prometheus",
          "--storage.tsdb.retention.time=15d",
          "--web.listen-address=:9090",
        ]
      }

      # Reads Prometheus's Consul token (policies deploy/policies/vault/prometheus.hcl
      # and deploy/policies/consul/prometheus.hcl).
      vault {
        role         = "prometheus"
        env          = false
        disable_file = true
        change_mode  = "noop"
      }

      # Read by Prometheus at every request (service discovery and the Consul scrape).
      template {
        destination = "secrets/consul-token"
        perms       = "0400"
        change_mode = "noop"
        data        = <<EOT
{{ with secret "secret/data/prometheus/consul" }}{{ .Data.data.token }}{{ end }}
EOT
      }

      template {
        destination     = "local/prometheus.yml"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        data            = <<EOT
# Prometheus for the platform: Nomad, Consul and Steward, all found through
# Consul service discovery. deploy/nomad/prometheus.nomad.hcl renders this
# file unchanged to /local/prometheus.yml (a test keeps the two equal), with
# the Consul token Vault hands the job in /secrets/consul-token.
global:
  scrape_interval: 15s
  evaluation_interval: 15s

rule_files:
  - rules/*.yml

alerting:
  alertmanagers:
    - consul_sd_configs:
        - server: 127.0.0.1:8500
          services: [alertmanager]
          authorization:
            credentials_file: /secrets/consul-token

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [127.0.0.1:9090]

  # Every Steward instance: the `steward` service, tagged `prometheus`, at the
  # metrics path its service meta names (deploy/nomad/steward.nomad.hcl).
  - job_name: steward
    consul_sd_configs:
      - server: 127.0.0.1:8500
        services: [steward]
        authorization:
          credentials_file: /secrets/consul-token
    relabel_configs:
      - source_labels: [__meta_consul_tags]
        regex: .*,prometheus,.*
        action: keep
      - source_labels: [__meta_consul_service_metadata_metrics_path]
        regex: (/.+)
        target_label: __metrics_path__
      - source_labels: [__meta_consul_node]
        target_label: node
      - source_labels: [__meta_consul_dc]
        target_label: dc

  # Nomad servers and clients register their HTTP port in Consul with the tag
  # `http`; their metrics need `telemetry { prometheus_metrics = true }`.
  - job_name: nomad
    metrics_path: /v1/metrics
    params:
      format: [prometheus]
    consul_sd_configs:
      - server: 127.0.0.1:8500
        services: [nomad, nomad-client]
        authorization:
          credentials_file: /secrets/consul-token
    relabel_configs:
      - source_labels: [__meta_consul_tags]
        regex: .*,http,.*
        action: keep
      - source_labels: [__meta_consul_service]
        target_label: role
      - source_labels: [__meta_consul_node]
        target_label: node
      - source_labels: [__meta_consul_dc]
        target_label: dc

  # Consul agents: the servers (service `consul`) and the agent on every Nomad
  # client (found through `nomad-client`), each on its node's HTTP port 8500.
  # Needs `telemetry { prometheus_retention_time = "1m" }` and agent:read.
  - job_name: consul
    metrics_path: /v1/agent/metrics
    params:
      format: [prometheus]
    authorization:
      credentials_file: /secrets/consul-token
    consul_sd_configs:
      - server: 127.0.0.1:8500
        services: [consul, nomad-client]
        authorization:
          credentials_file: /secrets/consul-token
    relabel_configs:
      - source_labels: [__meta_consul_tags]
        regex: .*,http,.*|,,
        action: keep
      - source_labels: [__meta_consul_address]
        regex: (.+)
        target_label: __address__
        replacement: $1:8500
      - source_labels: [__meta_consul_node]
        target_label: node
      - source_labels: [__meta_consul_dc]
        target_label: dc
EOT
      }

      template {
        destination     = "local/rules/steward.rules.yml"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        data            = <<EOT
# Steward's recording and alerting rules, over the metrics of src/metrics.ts.
# Checked by `promtool check rules`, unit-tested by tests/steward.test.yml, and
# loaded by the real Prometheus in test/deploy/prometheus-e2e.test.ts. What
# each alert means and what to do: docs/deploying.md, "Alerts".
#
# Every instance exports the sync loop's gauges, but only the leader's are
# current: per-job state is read from the instance with steward_leader == 1.
groups:
  - name: steward-recording
    rules:
      # How many instances hold the leader lock (normally exactly 1).
      - record: steward:leaders:sum
        expr: sum(steward_leader)

      # Failed reconcile passes per second, by loop and error kind.
      - record: loop_kind:steward_reconcile_errors:rate5m
        expr: sum by (loop, kind) (rate(steward_reconcile_errors_total[5m]))

      # Reconcile passes per second, by loop and outcome.
      - record: loop_result:steward_reconcile:rate5m
        expr: sum by (loop, result) (rate(steward_reconcile_total[5m]))

      # Jobs per environment and sync state, as the leader sees them.
      - record: env_state:steward_sync_jobs:leader
        expr: max by (env, state) (steward_sync_jobs * on (job, instance) group_left () (steward_leader == 1))

      # Failed watch or list calls per second, by source.
      - record: source:steward_source_errors:rate5m
        expr: sum by (source) (rate(steward_source_errors_total[5m]))

      # Share of HTTP attempts per target API that failed on the server's side
      # or never got an answer (5xx, 429, timeout, network).
      - record: target:steward_api_requests_failed:ratio_rate5m
        expr: |
          sum by (target) (rate(steward_api_requests_total{code=~"5..|429|timeout|network"}[5m]))
            /
          sum by (target) (rate(steward_api_requests_total[5m]))

  - name: steward-alerts
    rules:
      - alert: StewardLeaderMissing
        # No instance holds the lock, or no instance is scraped at all. A
        # handover takes about the lock-delay (5 s); a crashed leader is
        # replaced within about 2 x TTL + lock-delay (35 s).
        expr: steward:leaders:sum < 1 or absent(steward_leader)
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: No Steward instance leads
          description: "No instance has held steward/leader in Consul KV for 2 minutes: nothing is synced."
          runbook: docs/deploying.md#stewardleadermissing

      - alert: StewardMultipleLeaders
        expr: steward:leaders:sum > 1
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: "{{ $value }} Steward instances claim to lead"
          description: "More than one instance has reported steward_leader 1 for 2 minutes: two may write the same jobs."
          runbook: docs/deploying.md#stewardmultipleleaders

      - alert: StewardReconcileFailing
        expr: loop_kind:steward_reconcile_errors:rate5m > 0
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: "Steward's {{ $labels.loop }} loop keeps failing ({{ $labels.kind }} errors)"
          description: "Passes of the {{ $labels.loop }} loop have failed with {{ $labels.kind }} errors for 15 minutes; steward status names the jobs."
          runbook: docs/deploying.md#stewardreconcilefailing

      - alert: StewardDriftPersisting
        expr: env_state:steward_sync_jobs:leader{state="drifted"} > 0
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} job(s) in {{ $labels.env }} differ from the desired state"
          description: "Jobs in {{ $labels.env }} changed behind Steward's back have stayed changed for 30 minutes; steward status lists the fields."
          runbook: docs/deploying.md#stewarddriftpersisting

      - alert: StewardDesiredStateInvalid
        expr: min by (job) (steward_desired_state_valid) == 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: The newest desired-state revision is refused
          description: "The latest revision was refused and the last good one stays in force; steward validate lists the problems."
          runbook: docs/deploying.md#stewarddesiredstateinvalid

      - alert: StewardSourceFailing
        # Refused revisions count as source errors too; StewardDesiredStateInvalid covers those.
        expr: source:steward_source_errors:rate5m{source!="desired-state"} > 0
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: "Steward cannot read {{ $labels.source }}"
          description: "Calls to the {{ $labels.source }} source have failed for 15 minutes: Steward acts on stale knowledge."
          runbook: docs/deploying.md#stewardsourcefailing

      - alert: StewardApiErrors
        expr: target:steward_api_requests_failed:ratio_rate5m > 0.1
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value | humanizePercentage }} of Steward's calls to {{ $labels.target }} fail"
          description: "Over 10 % of Steward's HTTP attempts to {{ $labels.target }} have failed (5xx, 429, timeout, network) for 10 minutes."
          runbook: docs/deploying.md#stewardapierrors

      - alert: StewardInstanceDown
        expr: up{job="steward"} == 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Steward on {{ $labels.node }} does not answer /metrics"
          description: "Prometheus has not scraped {{ $labels.instance }} for 5 minutes; the other instances keep working."
          runbook: docs/deploying.md#stewardinstancedown
EOT
      }

      template {
        destination     = "local/rules/promotion.rules.yml"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        data            = <<EOT
# The promotion loop's rules, over steward_promotion_* (src/reconciler/promotion/metrics.ts).
# Checked by `promtool check rules`, unit-tested by tests/promotion.test.yml. Only the
# leader promotes, so the counters move on one instance at a time; sums over instances
# are what a service did. What each alert means and what to do: docs/deploying.md, "Alerts".
groups:
  - name: steward-promotion-recording
    rules:
      # Stage outcomes per hour (entered, passed, failed, rolled_back, superseded), by service and stage.
      - record: service_stage_result:steward_promotion_promotions:increase1h
        expr: sum by (service, stage, result) (increase(steward_promotion_promotions_total[1h]))

      # Median push -> prod healthy lead time over the last day, by service.
      - record: service:steward_promotion_lead_time_seconds:p50_1d
        expr: histogram_quantile(0.5, sum by (service, le) (rate(steward_promotion_lead_time_seconds_bucket[1d])))

      # Promotion stage outcomes in the last 10 minutes, by service, stage and
      # result (entered, passed, failed, rolled_back, superseded). A series is
      # born at its first event (prom-client has no zero for it), which
      # increase() cannot see: a series absent 10 minutes ago counts at its value.
      - record: service_stage_result:steward_promotion_promotions:increase10m
        expr: |
          sum by (service, stage, result) (
            (increase(steward_promotion_promotions_total[10m]) > 0)
              or
            (steward_promotion_promotions_total unless steward_promotion_promotions_total offset 10m)
          )

      # Gate results in the last 10 minutes, by service, stage, kind and result.
      - record: service_stage_kind_result:steward_promotion_gate_results:increase10m
        expr: |
          sum by (service, stage, kind, result) (
            (increase(steward_promotion_gate_results_total[10m]) > 0)
              or
            (steward_promotion_gate_results_total unless steward_promotion_gate_results_total offset 10m)
          )

      # When a digest last entered each stage, and when one last left it
      # (passed or failed), within a day. Only one digest is in a stage at a
      # time (the planner waits with StageOccupied), so a stage is in flight
      # exactly when its last entry is later than its last exit.
      - record: service_stage:steward_promotion_entered:last_timestamp
        expr: max by (service, stage) (max_over_time(timestamp(service_stage_result:steward_promotion_promotions:increase10m{result="entered"} > 0)[1d:1m]))
      - record: service_stage:steward_promotion_left:last_timestamp
        expr: max by (service, stage) (max_over_time(timestamp(service_stage_result:steward_promotion_promotions:increase10m{result=~"passed|failed"} > 0)[1d:1m]))

  - name: steward-promotion-alerts
    rules:
      - alert: StewardPromotionFailed
        # A build failed a stage's deployment or a gate: it is barred for good and the
        # stage went back to its last good digest. Worth a look, not a page.
        # A (service, stage, result) series is born at its first failure (prom-client
        # has no zero for it), which increase() cannot see: a series absent 15 minutes
        # ago counts at its value.
        expr: |
          sum by (service, stage) (
            (increase(steward_promotion_promotions_total{result="failed"}[15m]) > 0)
              or
            (steward_promotion_promotions_total{result="failed"} unless steward_promotion_promotions_total{result="failed"} offset 15m)
          ) > 0
        labels:
          severity: warning
        annotations:
          summary: "A build of {{ $labels.service }} failed in {{ $labels.stage }}"
          description: "A digest of {{ $labels.service }} failed its deployment or a gate in {{ $labels.stage }} and will never be promoted; the stage returned to its last good digest. `steward status` names the digest and the reason."
          runbook: docs/deploying.md#stewardpromotionfailed

      - alert: StewardPromotionStuck
        # A stage has been held (its deployment under way, or a failure's rollback not
        # decided) for 30 minutes: sync registers nothing for it meanwhile.
        expr: max by (service, stage) (steward_promotion_stage_digest_info{digest="hold"}) == 1
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.service }} in {{ $labels.stage }} has been held for 30 minutes"
          description: "The promotion of {{ $labels.service }} in {{ $labels.stage }} has waited on a Nomad deployment or a rollback for 30 minutes; sync does not touch the job meanwhile."
          runbook: docs/deploying.md#stewardpromotionstuck

      - alert: StewardPromotionOverdue
        # A digest in a stage, gates included, for 2 hours: longer than the
        # default gates allow (deployment progress deadline, 10 min per
        # verify/http/prometheus gate, soaks of minutes). Raise `for` above your
        # longest gate chain; a manual gate waits for its approval without a
        # timeout and shows here too. StewardPromotionStuck covers the
        # deployment part sooner.
        expr: |
          service_stage:steward_promotion_entered:last_timestamp
            unless on (service, stage)
          (service_stage:steward_promotion_left:last_timestamp >= on (service, stage) service_stage:steward_promotion_entered:last_timestamp)
        for: 2h
        labels:
          severity: warning
        annotations:
          summary: "A digest of {{ $labels.service }} has been in {{ $labels.stage }} for over 2 hours"
          description: "A digest entered {{ $labels.stage }} more than 2 hours ago and has neither passed nor failed its gates; steward status {{ $labels.service }} shows the gate it waits on."
          runbook: docs/deploying.md#stewardpromotionoverdue
EOT
      }

      template {
        destination     = "local/rules/healing.rules.yml"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        data            = <<EOT
# The healing loop's rules, over steward_healing_* (src/reconciler/healing/metrics.ts,
# registered on Steward's registry next to src/metrics.ts). Checked by `promtool check
# rules`, unit-tested by tests/healing.test.yml, loaded by the real Prometheus in
# test/deploy/prometheus-e2e.test.ts. What each alert means and what to do:
# docs/deploying.md, "Alerts".
#
# The gauges are current only on the leader (a standby keeps its last values): they
# are read from the instance with steward_leader == 1, as the sync gauges are.
groups:
  - name: steward-healing-recording
    rules:
      # The leader's view of each pool.
      - record: pool:steward_healing_unhealthy_nodes:leader
        expr: max by (pool) (steward_healing_unhealthy_nodes * on (job, instance) group_left () (steward_leader == 1))
      - record: pool:steward_healing_lost_nodes:leader
        expr: max by (pool) (steward_healing_lost_nodes * on (job, instance) group_left () (steward_leader == 1))
      - record: pool:steward_healing_short_circuited:leader
        expr: max by (pool) (steward_healing_short_circuited * on (job, instance) group_left () (steward_leader == 1))
      - record: pool:steward_healing_short_circuit_acknowledged:leader
        expr: max by (pool) (steward_healing_short_circuit_acknowledged * on (job, instance) group_left () (steward_leader == 1))
      - record: pool:steward_healing_budget_tokens:leader
        expr: max by (pool) (steward_healing_budget_tokens * on (job, instance) group_left () (steward_leader == 1))
      - record: pool:steward_healing_orphaned_instances:leader
        expr: max by (pool) (steward_healing_orphaned_instances * on (job, instance) group_left () (steward_leader == 1))

      # Terraform applies and replacements of the healing loop in the last hour, by pool and result
      # (the loop creates every pool's series at zero, so increase() sees the first one).
      - record: pool_result:steward_healing_applies:increase1h
        expr: sum by (pool, result) (increase(steward_healing_applies_total[1h]))
      - record: pool_result:steward_healing_replacements:increase1h
        expr: sum by (pool, result) (increase(steward_healing_replacements_total[1h]))


  - name: steward-healing-alerts
    rules:
      # An operator who acknowledged the short-circuit (steward ack-short-circuit) has looked: replacements
      # proceed within the other guards, and StewardTerraformApplyFailing still watches them.
      - alert: StewardHealingShortCircuit
        expr: pool:steward_healing_short_circuited:leader == 1 unless on (pool) pool:steward_healing_short_circuit_acknowledged:leader == 1
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: "Healing of pool {{ $labels.pool }} is short-circuited"
          description: "More of pool {{ $labels.pool }} is unhealthy than its maxUnhealthy allows, so Steward replaces nothing there: likely a network or control-plane fault, not dead nodes. steward status shows the pool; steward ack-short-circuit {{ $labels.pool }} lets replacements proceed once you know the nodes are really lost."
          runbook: docs/deploying.md#stewardhealingshortcircuit

      - alert: StewardTerraformApplyFailing
        expr: |
          sum by (pool) (pool_result:steward_healing_applies:increase1h{result!="succeeded"}) >= 2
            unless on (pool)
          pool_result:steward_healing_applies:increase1h{result="succeeded"} > 0
        labels:
          severity: warning
        annotations:
          summary: "Terraform applies for pool {{ $labels.pool }} keep failing"
          description: "At least 2 applies of pool {{ $labels.pool }} failed, timed out or found the state locked in the last hour, and none succeeded; lost nodes stay unreplaced. steward status shows the last error."
          runbook: docs/deploying.md#stewardterraformapplyfailing

      - alert: StewardReplacementFailed
        expr: pool_result:steward_healing_replacements:increase1h{result="failed"} > 0
        labels:
          severity: warning
        annotations:
          summary: "A node replacement in pool {{ $labels.pool }} failed"
          description: "Steward gave up replacing a node of pool {{ $labels.pool }} in the last hour; the pool runs short until someone looks. steward status shows the incident."
          runbook: docs/deploying.md#stewardreplacementfailed

      - alert: StewardHealingBudgetExhausted
        expr: pool:steward_healing_budget_tokens:leader < 1
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: "Pool {{ $labels.pool }} has no apply budget left"
          description: "For 15 minutes the apply budget of pool {{ $labels.pool }} (its Terraform directory's bucket or the global one) has been empty: replacements wait for tokens to refill."
          runbook: docs/deploying.md#stewardhealingbudgetexhausted

      - alert: StewardOrphanedInstances
        # An apply creates the instance before it writes the state: 30 minutes rides that out.
        expr: pool:steward_healing_orphaned_instances:leader > 0
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} instance(s) carry pool {{ $labels.pool }}'s tag but are not in its Terraform state"
          description: "Instances tagged for pool {{ $labels.pool }} that the Terraform state does not hold have run for 30 minutes: they cost money and Steward will not touch them. steward status lists their ids."
          runbook: docs/deploying.md#stewardorphanedinstances

      - alert: StewardLostNodeWaiting
        # A lost node that no apply has touched in 30 minutes, outside a
        # short-circuit: the planner holds it back. On server pools that is
        # the quorum check (QuorumAtRisk, QuorumUnknown); otherwise
        # maxConcurrent, cooldown or the budget.
        expr: |
          pool:steward_healing_lost_nodes:leader > 0
            unless on (pool) (sum by (pool) (pool_result:steward_healing_applies:increase1h) > 0)
            unless on (pool) (pool:steward_healing_short_circuited:leader == 1)
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} lost node(s) of pool {{ $labels.pool }} wait for replacement"
          description: "Pool {{ $labels.pool }} has had lost nodes for 30 minutes and no apply in the last hour; steward status shows why (QuorumAtRisk or QuorumUnknown on a server pool, MaxConcurrent, Cooldown, budget)."
          runbook: docs/deploying.md#stewardlostnodewaiting
EOT
      }

      resources {
        cpu    = 500
        memory = 1024
      }
    }
  }
}
