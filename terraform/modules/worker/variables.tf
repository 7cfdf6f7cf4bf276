variable "workers" {
  description = <<-EOT
    The workers of the pool, by a stable key (the key addresses one node:
    module.<name>.aws_instance.worker["<key>"], which `terraform apply -replace`
    targets to replace that node alone). Per-worker settings override the pool's.
  EOT
  type = map(object({
    instance_type = optional(string)
    node_class    = optional(string)
    meta          = optional(map(string), {})
    subnet_id     = optional(string)
  }))

  validation {
    condition     = alltrue([for k in keys(var.workers) : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", k))])
    error_message = "Worker keys must be lower-case letters, digits and dashes (they become node names and tag values)."
  }
}

variable "pool" {
  description = "The Steward pool these workers belong to (tag steward:pool)."
  type        = string
}

variable "cluster" {
  description = "The Nomad cluster (environment) the workers join (tag nomad_cluster)."
  type        = string
}

variable "node_pool" {
  description = "The Nomad node pool of the clients (tag nomad_node_pool)."
  type        = string
  default     = "default"
}

variable "node_class" {
  description = "The Nomad node class of the clients (tag nomad_node_class), unless a worker sets its own."
  type        = string
  default     = ""
}

variable "datacenter" {
  description = "The Nomad datacenter of the clients (tag nomad_datacenter)."
  type        = string
  default     = "dc1"
}

variable "name_prefix" {
  description = "Prefix of each worker's Name tag and node name: <name_prefix>-<key>."
  type        = string
}

variable "ami" {
  description = "The machine image: one that runs cloud-init and has the Nomad and Consul agents installed."
  type        = string
}

variable "instance_type" {
  description = "The instance type, unless a worker sets its own."
  type        = string
  default     = "t3.small"
}

variable "subnet_id" {
  description = "The subnet the workers are launched in, unless a worker sets its own subnet_id."
  type        = string
}

variable "user_data" {
  description = "cloud-init user data for every worker, when the module does not render it (agents = null). It may read the instance's tags."
  type        = string
  default     = null
}

variable "agents" {
  description = "The cluster's agent settings (see modules/cloud-init, variable agents): when set, each worker gets its own cloud-init, which configures the Consul and Nomad clients with the same node pool, class and meta as its tags; user_data is then ignored."
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
  default = null
}

variable "host_volumes" {
  description = "Nomad host volumes of every worker, name => directory (needs agents), e.g. { registry = \"/opt/registry/data\" }."
  type        = map(string)
  default     = {}
}

variable "security_group_ids" {
  description = "Security groups of the workers (empty: the subnet's VPC default group)."
  type        = list(string)
  default     = []
}

variable "iam_instance_profile" {
  description = "Instance profile of the workers (null: none)."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair for SSH (null: none; prefer SSM Session Manager)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags for every worker."
  type        = map(string)
  default     = {}
}
