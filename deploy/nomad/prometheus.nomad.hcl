# Prometheus for the platform, scraping Nomad, Consul and Steward found
# through Consul service discovery, with Steward's alert and recording rules.
# The two templates below hold deploy/prometheus/prometheus.yml and
# deploy/prometheus/rules/steward.rules.yml unchanged (test/deploy keeps them
# equal: edit those files, then paste them here). The templates use `[[ ]]`
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

      resources {
        cpu    = 500
        memory = 1024
      }
    }
  }
}
