# Steward, the reconciling controller, as a Nomad system job: one instance on
# every eligible client of the cluster that hosts the platform. Every instance
# watches; the one holding the Consul lock `steward/leader` (a session with a
# TTL and lock-delay) is the only one that writes, and a stopped leader hands
# over within about the lock-delay. Variables, secrets and policies:
# deploy/nomad/README.md and docs/deploying.md.
#
#   nomad job run -var git_url=https://git.example.com/platform/desired.git \
#     -var image=registry.service.consul:5000/steward@sha256:... deploy/nomad/steward.nomad.hcl

variable "image" {
  type        = string
  description = "Steward's container image; pin it by digest."
}

variable "git_url" {
  type        = string
  description = "The git repository holding the desired-state tree."
}

variable "git_branch" {
  type        = string
  default     = "main"
  description = "The branch Steward follows."
}

variable "datacenters" {
  type        = list(string)
  default     = ["dc1"]
  description = "Datacenters whose clients run an instance."
}

variable "node_pool" {
  type        = string
  default     = "default"
  description = "Node pool whose clients run an instance (a system job runs on every eligible client of it)."
}

job "steward" {
  type        = "system"
  datacenters = var.datacenters
  node_pool   = var.node_pool
  # Above ordinary services: the controller must find room when the cluster is full.
  priority = 80

  # One instance at a time, waiting for its checks: the rollout never stops
  # the leader and every standby together, and each handover is a graceful one.
  update {
    max_parallel     = 1
    stagger          = "30s"
    health_check     = "checks"
    min_healthy_time = "20s"
    healthy_deadline = "3m"
  }

  group "steward" {
    network {
      port "http" {
        to = 8080
      }
    }

    # A crash loop backs off instead of hammering Consul with sessions;
    # the other instances lead meanwhile.
    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    # The git mirror survives an in-place update of the allocation.
    ephemeral_disk {
      sticky = true
      size   = 300
    }

    service {
      name = "steward"
      port = "http"
      # `prometheus`: deploy/prometheus/prometheus.yml scrapes every instance
      # with this tag. `urlprefix-/hooks/`: Fabio sends webhooks (git, and the
      # registry's notifications) to the ready instances; a standby passes a
      # git hook on to the leader through the steward/control/sync-now switch.
      tags = ["prometheus", "urlprefix-/hooks/"]

      meta {
        metrics_path = "/metrics"
      }

      # Alive: the process answers. Failing it three times restarts the task.
      check {
        name     = "steward-alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "30s"
        }
      }

      # Ready: the desired state is loaded and every environment was read.
      # Not ready keeps webhooks away from the instance without restarting it.
      check {
        name     = "steward-ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "steward" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
        args  = ["run", "--config", "/local/steward.yaml"]
      }

      # The workload identity logs in to Vault's JWT auth role `steward`
      # (policy deploy/policies/vault/steward.hcl). Only the templates below
      # use the Vault token: Steward's process never sees it.
      vault {
        role         = "steward"
        env          = false
        disable_file = true
        change_mode  = "noop"
      }

      # Tokens into the environment (the config names them with `env:`).
      # A rotated token restarts the task; the splay keeps the instances
      # from restarting together.
      template {
        destination = "secrets/tokens.env"
        env         = true
        change_mode = "restart"
        splay       = "30s"
        data        = <<EOT
{{ with secret "secret/data/steward/consul" }}CONSUL_HTTP_TOKEN={{ .Data.data.token }}{{ end }}
{{ with secret "secret/data/steward/nomad-qa" }}NOMAD_TOKEN_QA={{ .Data.data.token }}{{ end }}
{{ with secret "secret/data/steward/nomad-prod" }}NOMAD_TOKEN_PROD={{ .Data.data.token }}{{ end }}
EOT
      }

      # The webhook secret into a file (the config names it with `file:`).
      template {
        destination = "secrets/webhook-secret"
        perms       = "0400"
        change_mode = "restart"
        splay       = "30s"
        data        = <<EOT
{{ with secret "secret/data/steward/webhook" }}{{ .Data.data.secret }}{{ end }}
EOT
      }

      # Steward's configuration (src/config/schema.ts). The Consul agent is
      # the one on this client; each instance is named after its node.
      template {
        destination = "local/steward.yaml"
        change_mode = "restart"
        data        = <<EOT
source:
  git:
    url: ${var.git_url}
    branch: ${var.git_branch}
    subdir: desired-state
    fetchIntervalMs: 30000
consul:
  address: http://{{ env "NOMAD_IP_http" }}:8500
  token:
    env: CONSUL_HTTP_TOKEN
statePrefix: steward
http:
  listen: 0.0.0.0:8080
webhookSecret:
  file: /secrets/webhook-secret
instanceId: {{ env "node.unique.name" }}
dataDir: /alloc/data/steward
EOT
      }

      # Stopping releases the leader lock and destroys the session (the
      # graceful handover); give it longer than the lock-delay.
      kill_signal  = "SIGTERM"
      kill_timeout = "20s"

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
