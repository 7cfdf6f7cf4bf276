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
  description = "The subnet the workers are launched in."
  type        = string
}

variable "user_data" {
  description = "cloud-init user data that configures and starts the Nomad client and Consul agent (it may read the instance's tags)."
  type        = string
}

variable "tags" {
  description = "Extra tags for every worker."
  type        = map(string)
  default     = {}
}
