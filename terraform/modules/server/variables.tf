variable "servers" {
  description = <<-EOT
    The Consul and Nomad servers, by a stable name (3 or 5 for quorum). Each
    is one instance at module.<name>.aws_instance.server["<name>"], replaced
    on its own with `terraform apply -replace` (one at a time, quorum kept).
    private_ip fixes the server's address, which every agent's retry_join
    names, so a replaced server comes back where the cluster looks for it.
  EOT
  type = map(object({
    subnet_id     = string
    private_ip    = optional(string)
    instance_type = optional(string)
  }))

  validation {
    condition     = alltrue([for k in keys(var.servers) : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", k))])
    error_message = "Server names must be lower-case letters, digits and dashes (they become node names and tag values)."
  }
  validation {
    condition     = length(var.servers) % 2 == 1
    error_message = "Run an odd number of servers (1, 3 or 5): Raft needs a majority, and an even count adds no fault tolerance."
  }
}

variable "agents" {
  description = "The cluster's agent settings (see modules/cloud-init, variable agents); server_addresses should be these servers' fixed addresses."
  type = object({
    region            = optional(string, "global")
    server_addresses  = list(string)
    consul_gossip_key = optional(string)
    nomad_gossip_key  = optional(string)
    acls              = optional(bool, true)
    vault_address     = optional(string)
    vault_ca_cert     = optional(string)
    install           = optional(bool, true)
    consul_version    = optional(string, "1.20.2")
    nomad_version     = optional(string, "1.9.5")
    vault_version     = optional(string, "1.18.3")
  })
}

variable "pool" {
  description = "The Steward pool of the servers (tag steward:pool, Nomad meta steward_pool); a pool file with role: server selects it."
  type        = string
  default     = "servers"
}

variable "cluster" {
  description = "The Nomad cluster (environment) the servers form (tag nomad_cluster)."
  type        = string
}

variable "datacenter" {
  description = "The Consul and Nomad datacenter (tag nomad_datacenter)."
  type        = string
  default     = "dc1"
}

variable "node_pool" {
  description = "The Nomad node pool of the servers' own clients: a pool of their own keeps workloads off the servers unless a job asks for it."
  type        = string
  default     = "servers"
}

variable "name_prefix" {
  description = "Prefix of each server's Name tag and node name: <name_prefix>-<name>."
  type        = string
}

variable "ami" {
  description = "The machine image: one that runs cloud-init (Ubuntu 22.04 or later when agents.install is true)."
  type        = string
}

variable "instance_type" {
  description = "The instance type, unless a server sets its own."
  type        = string
  default     = "t3.medium"
}

variable "elastic_ips" {
  description = "Give each server an Elastic IP (aws_eip.server[\"<name>\"]) that stays when the instance is replaced: a stable public address for operators and for agents outside the VPC. Needs public subnets."
  type        = bool
  default     = false
}

variable "security_group_ids" {
  description = "Security groups of the servers (empty: the VPC default group)."
  type        = list(string)
  default     = []
}

variable "iam_instance_profile" {
  description = "Instance profile of the servers (null: none)."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair for SSH (null: none; prefer SSM Session Manager)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags for every server."
  type        = map(string)
  default     = {}
}
