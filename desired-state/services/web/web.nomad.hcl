# The public web front end. Steward sets var.image to repository@sha256:digest.

variable "image" {
  type        = string
  description = "The container image, pinned by digest (set by Steward)."
}

variable "count" {
  type        = number
  default     = 1
  description = "Number of web instances."
}

job "web" {
  type        = "service"
  datacenters = ["dc1"]

  group "web" {
    count = var.count

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"
      tags = ["urlprefix-/"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    update {
      max_parallel      = 1
      canary            = 0
      min_healthy_time  = "10s"
      healthy_deadline  = "3m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    task "web" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
