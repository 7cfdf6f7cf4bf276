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

variable "terraform_version" {
  type        = string
  default     = "1.11.4"
  description = "The Terraform release healing runs (fetched from releases.hashicorp.com, checked against its SHA256SUMS)."
}

variable "infra_git_url" {
  type        = string
  default     = ""
  description = "The git repository holding the Terraform roots the pools name (terraform.dir, relative to its top); empty: git_url."
}

variable "infra_git_ref" {
  type        = string
  default     = "main"
  description = "The branch or tag of infra_git_url checked out for healing."
}

variable "aws_region" {
  type        = string
  default     = "us-east-1"
  description = "The AWS region of the pools' instances (Terraform's provider and Steward's EC2 reads)."
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

    # The git mirror and Terraform's providers (the AWS provider unpacks to
    # about 700 MB) survive an in-place update of the allocation.
    ephemeral_disk {
      sticky = true
      size   = 2048
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

      # How the daemon's memory stays small (src/config/defaults.ts,
      # DAEMON_NODE_OPTIONS and DAEMON_MALLOC_ENV, which the memory bench
      # starts it with too): a 2 MB young generation, and glibc malloc giving
      # freed memory back instead of keeping it after a large revision.
      env {
        NODE_OPTIONS           = "--max-semi-space-size=2"
        MALLOC_ARENA_MAX       = "2"
        MALLOC_MMAP_THRESHOLD_ = "32768"
        MALLOC_TRIM_THRESHOLD_ = "131072"
      }

      # Healing runs Terraform: the release binary, checked against HashiCorp's
      # published checksums, and the Terraform roots the pools name. The state
      # must live in a remote backend with locking (S3 with use_lockfile, or
      # the on-premise equivalent): leadership moves between instances, and a
      # local state in /local would move with nothing.
      artifact {
        source      = "https://releases.hashicorp.com/terraform/${var.terraform_version}/terraform_${var.terraform_version}_linux_amd64.zip"
        destination = "local/bin"
        options {
          checksum = "file:https://releases.hashicorp.com/terraform/${var.terraform_version}/terraform_${var.terraform_version}_SHA256SUMS"
        }
      }

      artifact {
        source      = "git::${var.infra_git_url != "" ? var.infra_git_url : var.git_url}"
        destination = "local/infra"
        options {
          ref   = var.infra_git_ref
          depth = 1
        }
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

      # Tokens into the environment (the config names them with `env:`), and
      # the AWS credentials healing's Terraform and EC2 reads use (Terraform
      # inherits Steward's environment).
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
{{ with secret "secret/data/steward/aws" }}AWS_ACCESS_KEY_ID={{ .Data.data.access_key_id }}
AWS_SECRET_ACCESS_KEY={{ .Data.data.secret_access_key }}{{ end }}
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
healing:
  terraformRoot: /local/infra
  binary: /local/bin/terraform
  env:
    AWS_REGION: ${var.aws_region}
    TF_IN_AUTOMATION: "1"
    TF_PLUGIN_CACHE_DIR: /alloc/data/terraform-plugins
    TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE: "1"
EOT
      }

      # Stopping releases the leader lock and destroys the session (the
      # graceful handover); give it longer than the lock-delay.
      kill_signal  = "SIGTERM"
      kill_timeout = "20s"

      # Steward itself needs about 200 MB; a Terraform apply with the AWS
      # provider takes up to about 500 MB more while healing runs one.
      resources {
        cpu    = 500
        memory = 768
      }
    }
  }
}
