# The Docker registry CI pushes to (examples/hello/ci/), with notifications
# sent to Steward's /hooks/registry so a pushed tag is seen at once.
#
# /hooks/registry comes with the promotion loop (issue 4); Steward answers
# 404 there until then. The registry keeps undelivered events in memory and
# retries them for ever, so the endpoint is off (`notify_steward = false`)
# until the Steward you run serves the hook. Pushes never wait for it.
#
#   nomad job run [-var notify_steward=true] deploy/nomad/registry.nomad.hcl

variable "image" {
  type        = string
  default     = "registry:2.8.3"
  description = "The registry's container image (the distribution 2.8 series, as sim's registry and Debian's docker-registry)."
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "notify_steward" {
  type        = bool
  default     = false
  description = "Send push notifications to Steward's /hooks/registry (turn on once Steward serves it, issue 4)."
}

variable "node_pool" {
  type        = string
  default     = "registry"
  description = "The node pool of the registry's host (terraform/examples/aws-cluster's registry module)."
}

variable "host_volume" {
  type        = string
  default     = "registry"
  description = "The client host volume holding the registry's storage (the registry host's `registry` volume in terraform/)."
}

job "registry" {
  type        = "service"
  datacenters = var.datacenters
  node_pool   = var.node_pool

  group "registry" {
    count = 1

    # The storage lives on one client's disk: keep the registry there.
    volume "data" {
      type   = "host"
      source = var.host_volume
    }

    network {
      port "http" {
        static = 5000
      }
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    service {
      name = "registry"
      port = "http"
      tags = ["urlprefix-registry.service.consul/"]

      check {
        name     = "registry-api"
        type     = "http"
        path     = "/v2/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "registry" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]

        mount {
          type     = "bind"
          source   = "local/config.yml"
          target   = "/etc/docker/registry/config.yml"
          readonly = true
        }
      }

      volume_mount {
        volume      = "data"
        destination = "/var/lib/registry"
      }

      # Reads the notification token (policy deploy/policies/vault/registry.hcl).
      vault {
        role         = "registry"
        env          = false
        disable_file = true
        change_mode  = "noop"
      }

      # The registry's config. Notifications go through Fabio on this client
      # (port 9999, the `urlprefix-/hooks/` route of Steward's service), so any
      # ready Steward instance receives them; the bearer token lets Steward
      # tell the registry from anyone else.
      template {
        destination = "local/config.yml"
        change_mode = "restart"
        data        = <<EOT
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: false
http:
  addr: :5000
notifications:
  endpoints:
    - name: steward
      disabled: ${!var.notify_steward}
      url: http://{{ env "NOMAD_IP_http" }}:9999/hooks/registry
      headers:
        Authorization:
          - Bearer {{ with secret "secret/data/registry/notifications" }}{{ .Data.data.token }}{{ end }}
      timeout: 2s
      threshold: 5
      backoff: 10s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        actions:
          - pull
EOT
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
