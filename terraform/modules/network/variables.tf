variable "create" {
  description = "Create the VPC, its subnets, routes and the cluster's security group (true), or hand through an existing network named by existing (false): the module's outputs are the same either way."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of the network's resources (Name tags, security group name)."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range (create = true)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "subnets" {
  description = <<-EOT
    The subnets to create (create = true), by a short key that nodes name
    (servers pick their subnet by key, so their fixed private IPs fall inside
    it): availability zone and address range. One per zone spreads the
    servers' quorum over zones.
  EOT
  type = map(object({
    availability_zone = string
    cidr_block        = string
  }))
  default = {}
}

variable "existing" {
  description = "The network to use when create = false: VPC id, subnet ids by the same short keys nodes name, and security groups for every node (may be empty)."
  type = object({
    vpc_id             = string
    subnet_ids         = map(string)
    security_group_ids = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.existing == null || length(try(var.existing.subnet_ids, {})) > 0
    error_message = "existing.subnet_ids must name at least one subnet."
  }
}

variable "admin_cidrs" {
  description = "Addresses that may reach SSH, the Consul (8500), Nomad (4646) and Vault (8200) APIs and the registry (5000) from outside the cluster: operators and CI (create = true)."
  type        = list(string)
  default     = []
}

variable "ingress_cidrs" {
  description = "Addresses that may reach Fabio, the cluster's HTTP entry (9999) (create = true)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
