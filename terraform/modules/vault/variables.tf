variable "servers" {
  description = <<-EOT
    The Vault servers, by a stable name (1 for a small cluster, 3 or 5 for HA
    with integrated Raft storage). Each is module.<m>.aws_instance.vault["<name>"].
    private_ip fixes the server's address: its api_addr, and what its Raft
    peers join.
  EOT
  type = map(object({
    subnet_id     = string
    private_ip    = string
    instance_type = optional(string)
  }))

  validation {
    condition     = alltrue([for k in keys(var.servers) : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", k))])
    error_message = "Vault server names must be lower-case letters, digits and dashes."
  }
}

variable "agents" {
  description = "The cluster's agent settings (see modules/cloud-init, variable agents): the Vault hosts run a Consul client that registers the vault service."
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

variable "kms_key_id" {
  description = "An AWS KMS key for auto-unseal (the instance profile must allow kms:Encrypt, kms:Decrypt, kms:DescribeKey on it); null: Shamir seal, unsealed by hand after every start."
  type        = string
  default     = null
}

variable "region" {
  description = "The AWS region of the KMS key."
  type        = string
  default     = null
}

variable "cluster" {
  description = "The cluster (environment) name: Vault cluster_name and tag nomad_cluster."
  type        = string
}

variable "datacenter" {
  description = "The Consul datacenter of the Vault hosts' agents."
  type        = string
  default     = "dc1"
}

variable "name_prefix" {
  description = "Prefix of each Vault server's Name tag, node name and Raft node id: <name_prefix>-<name>."
  type        = string
}

variable "ami" {
  description = "The machine image: one that runs cloud-init (Ubuntu 22.04 or later when agents.install is true)."
  type        = string
}

variable "instance_type" {
  description = "The instance type, unless a server sets its own."
  type        = string
  default     = "t3.small"
}

variable "security_group_ids" {
  description = "Security groups of the Vault servers (empty: the VPC default group)."
  type        = list(string)
  default     = []
}

variable "iam_instance_profile" {
  description = "Instance profile of the Vault servers (needed for KMS auto-unseal)."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair for SSH (null: none; prefer SSM Session Manager)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags for every Vault server."
  type        = map(string)
  default     = {}
}
