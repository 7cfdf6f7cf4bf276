# The API and its queue worker: one image, two groups.

variable "image" {
  type        = string
  description = "The container image, pinned by digest (set by Steward)."
}

variable "api_count" {
  type = number
}

variable "worker_count" {
  type    = number
  default = 1
}

variable "log_level" {
  type    = string
  default = "info"
}

job "api" {
  type        = "service"
  datacenters = ["dc1"]

  update {
    max_parallel     = 1
    canary           = 0
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  group "api" {
    count = var.api_count

    network {
      port "http" {
        to = 9090
      }
    }

    service {
      name = "api"
      port = "http"

      check {
        type     = "http"
        path     = "/v1/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "api" {
      driver = "docker"

      config {
        image = var.image
        args  = ["serve", "--port", "9090"]
        ports = ["http"]
      }

      env {
        LOG_LEVEL = var.log_level
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }

  group "worker" {
    count = var.worker_count

    task "worker" {
      driver = "docker"

      config {
        image = var.image
        args  = ["work", "--queue", "default"]
      }

      env {
        LOG_LEVEL = var.log_level
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
