variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"
}

variable "max_retries" {
  description = "Attempts per AWS API call (the AWS SDK counts the first one too). Small, so that a throttled apply fails after a few seconds of retries and Steward's own backoff and apply budget take over; the provider's default (25) keeps one apply retrying for over an hour."
  type        = number
  default     = 3

  validation {
    condition     = var.max_retries >= 1 && var.max_retries <= 10
    error_message = "max_retries is 1..10 attempts (0 would mean the provider's 25)."
  }
}

variable "cluster" {
  description = "The Nomad cluster (environment) this root builds, e.g. prod or qa: tag nomad_cluster, and the prefix of every name."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.cluster))
    error_message = "cluster is 1..32 lower-case letters, digits and dashes (an environment name of desired-state/steward.yaml)."
  }
}

variable "datacenter" {
  description = "The Consul and Nomad datacenter."
  type        = string
  default     = "dc1"
}

variable "nomad_region" {
  description = "The Nomad region."
  type        = string
  default     = "global"
}

variable "ami" {
  description = "Machine image of every node: Ubuntu 22.04 or later (cloud-init installs Consul, Nomad, Vault and Docker from apt), or an image that already has them with install_agents = false."
  type        = string
}

# --- network -----------------------------------------------------------

variable "create_network" {
  description = "Create the VPC, subnets and security group (true), or run in the network that existing_network names (false)."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "The VPC's address range (create_network = true)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "subnets" {
  description = "Subnets to create, by the short key nodes name: zone and range. The servers' default private IPs lie in these ranges."
  type = map(object({
    availability_zone = string
    cidr_block        = string
  }))
  default = {
    a = { availability_zone = "us-east-1a", cidr_block = "10.0.1.0/24" }
    b = { availability_zone = "us-east-1b", cidr_block = "10.0.2.0/24" }
    c = { availability_zone = "us-east-1c", cidr_block = "10.0.3.0/24" }
  }
}

variable "existing_network" {
  description = "The network to run in when create_network = false: VPC id, subnet ids by key (the keys servers and workers name), security groups."
  type = object({
    vpc_id             = string
    subnet_ids         = map(string)
    security_group_ids = optional(list(string), [])
  })
  default = null
}

variable "admin_cidrs" {
  description = "Addresses allowed to SSH, the Consul, Nomad and Vault APIs and the registry: operators and CI (create_network = true)."
  type        = list(string)
  default     = []
}

variable "ingress_cidrs" {
  description = "Addresses allowed to Fabio, the HTTP entry of the services (9999) (create_network = true)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- nodes ---------------------------------------------------------------

variable "servers" {
  description = "The Consul+Nomad servers by name: subnet key and fixed private IP (inside that subnet). Every agent's retry_join names these addresses, so a replaced server comes back at the same one."
  type = map(object({
    subnet        = string
    private_ip    = string
    instance_type = optional(string)
  }))
  default = {
    "server-1" = { subnet = "a", private_ip = "10.0.1.10" }
    "server-2" = { subnet = "b", private_ip = "10.0.2.10" }
    "server-3" = { subnet = "c", private_ip = "10.0.3.10" }
  }
}

variable "server_elastic_ips" {
  description = "Give each server an Elastic IP that survives its replacement (needs public subnets)."
  type        = bool
  default     = true
}

variable "server_instance_type" {
  description = "Instance type of the servers."
  type        = string
  default     = "t3.medium"
}

variable "vault_servers" {
  description = "The Vault servers by name: subnet key and fixed private IP. One is enough to start; three give Raft HA."
  type = map(object({
    subnet        = string
    private_ip    = string
    instance_type = optional(string)
  }))
  default = {
    "vault-1" = { subnet = "a", private_ip = "10.0.1.20" }
  }
}

variable "vault_instance_type" {
  description = "Instance type of the Vault servers."
  type        = string
  default     = "t3.small"
}

variable "vault_kms_key_id" {
  description = "KMS key for Vault auto-unseal (the instance profile must allow it); null: unseal by hand."
  type        = string
  default     = null
}

variable "vault_ca_cert" {
  description = "PEM of the CA that signed Vault's TLS certificate; Nomad and Vault's Raft peers trust it. null: the nodes' system trust store."
  type        = string
  default     = null
}

variable "registry_hosts" {
  description = "The registry host(s) by key; each is a Nomad client in node pool registry with host volume registry."
  type = map(object({
    subnet        = optional(string)
    instance_type = optional(string)
  }))
  default = {
    a = {}
  }
}

variable "registry_instance_type" {
  description = "Instance type of the registry host."
  type        = string
  default     = "t3.medium"
}

variable "workers" {
  description = "The workers of pool workers, by a stable key (module.workers.aws_instance.worker[\"<key>\"]); see modules/worker. subnet names a subnet key (default: spread over the subnets)."
  type = map(object({
    instance_type = optional(string)
    node_class    = optional(string)
    meta          = optional(map(string), {})
    subnet        = optional(string)
  }))
  default = {
    a = {}
    b = {}
    c = {}
  }
}

variable "worker_node_pool" {
  description = "Nomad node pool of the workers."
  type        = string
  default     = "default"
}

variable "worker_instance_type" {
  description = "Default instance type of a worker."
  type        = string
  default     = "t3.large"
}

# --- agents ------------------------------------------------------------

variable "consul_gossip_key" {
  description = "Consul's gossip encryption key (`consul keygen`). It ends up in the nodes' user data and in the Terraform state: keep the state encrypted and access-controlled."
  type        = string
  sensitive   = true
}

variable "nomad_gossip_key" {
  description = "Nomad's gossip encryption key (`nomad operator gossip keyring generate`); in user data and state like consul_gossip_key."
  type        = string
  sensitive   = true
}

variable "acls" {
  description = "Enable Consul and Nomad ACLs (default deny). Bootstrap them once after the first apply (docs/terraform.md)."
  type        = bool
  default     = true
}

variable "install_agents" {
  description = "Install Consul, Nomad, Vault and Docker at first boot from apt (false: the image has them)."
  type        = bool
  default     = true
}

variable "consul_version" {
  description = "Consul version to install."
  type        = string
  default     = "1.20.2"
}

variable "nomad_version" {
  description = "Nomad version to install."
  type        = string
  default     = "1.9.5"
}

variable "vault_version" {
  description = "Vault version to install."
  type        = string
  default     = "1.18.3"
}

variable "iam_instance_profile" {
  description = "Instance profile of every node (needed for Vault's KMS auto-unseal); null: none."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair for SSH; null: none (prefer SSM Session Manager)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
