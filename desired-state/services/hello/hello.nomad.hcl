# The example microservice of examples/hello. Its CI pushes build-N tags to
# the registry; Steward sets var.image to repository@sha256:digest.

variable "image" {
  type        = string
  description = "The container image, pinned by digest (set by Steward)."
}

variable "count" {
  type        = number
  default     = 1
  description = "Number of hello instances."
}

job "hello" {
  type        = "service"
  datacenters = ["dc1"]

  group "hello" {
    count = var.count

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "hello"
      port = "http"
      # Fabio serves it under /hello and strips the prefix on the way in.
      tags = ["urlprefix-/hello strip=/hello"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    update {
      max_parallel     = 1
      min_healthy_time = "10s"
      healthy_deadline = "2m"
      auto_revert      = true
    }

    task "hello" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
      }

      env {
        PORT = "8080"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
