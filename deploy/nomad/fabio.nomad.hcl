# Fabio, the load balancer: one instance on every client (a system job), each
# building its routing table from the `urlprefix-` tags of the healthy
# services in Consul (`urlprefix-/` for web, `urlprefix-/hooks/` for Steward's
# webhooks). Point the outside load balancer or DNS at port 9999 of the clients.
#
#   nomad job run deploy/nomad/fabio.nomad.hcl

variable "image" {
  type        = string
  default     = "fabiolb/fabio:1.6.3"
  description = "Fabio's container image."
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "node_pool" {
  type    = string
  default = "all"
}

job "fabio" {
  type        = "system"
  datacenters = var.datacenters
  node_pool   = var.node_pool
  priority    = 80

  update {
    max_parallel = 1
    stagger      = "10s"
  }

  group "fabio" {
    network {
      port "lb" {
        static = 9999
      }
      port "ui" {
        static = 9998
      }
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "5s"
      mode     = "delay"
    }

    service {
      name = "fabio"
      port = "lb"
      tags = ["lb"]

      check {
        name     = "fabio-health"
        type     = "http"
        port     = "ui"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "fabio" {
      driver = "docker"

      config {
        image        = var.image
        network_mode = "host"
        ports        = ["lb", "ui"]
      }

      # Reads Fabio's Consul token (policies deploy/policies/vault/fabio.hcl
      # and deploy/policies/consul/fabio.hcl).
      vault {
        role         = "fabio"
        env          = false
        disable_file = true
        change_mode  = "noop"
      }

      template {
        destination = "secrets/consul.env"
        env         = true
        change_mode = "restart"
        splay       = "10s"
        data        = <<EOT
{{ with secret "secret/data/fabio/consul" }}FABIO_REGISTRY_CONSUL_TOKEN={{ .Data.data.token }}{{ end }}
EOT
      }

      env {
        FABIO_REGISTRY_CONSUL_ADDR = "${attr.unique.network.ip-address}:8500"
        # Nomad registers Fabio's service and its check; Fabio does not register itself.
        FABIO_REGISTRY_CONSUL_REGISTER_ENABLED = "false"
        # Route only to instances whose every check passes: Steward's /readyz
        # as well as /healthz (Fabio's default is any one check).
        FABIO_REGISTRY_CONSUL_CHECKSREQUIRED = "all"
        FABIO_PROXY_ADDR                     = ":9999"
        FABIO_UI_ADDR                        = ":9998"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
