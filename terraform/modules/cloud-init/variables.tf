variable "role" {
  description = <<-EOT
    What the node runs:
    server: Consul server, Nomad server, and a Nomad client (in its own node pool, so workloads stay off it unless a job asks);
    client: Consul client and Nomad client with Docker (workers, the registry host);
    vault:  Consul client and a Vault server (integrated Raft storage); no Nomad.
  EOT
  type        = string

  validation {
    condition     = contains(["server", "client", "vault"], var.role)
    error_message = "role must be server, client or vault."
  }
}

variable "node_name" {
  description = "The node's name: hostname, Consul node_name and Nomad name (the Name tag, which sim also boots the node under)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$", var.node_name))
    error_message = "node_name must be 1..63 letters, digits and dashes (it is the hostname)."
  }
}

variable "pool" {
  description = "The Steward pool the node belongs to: Nomad meta steward_pool and tag steward:pool. null for a node no pool heals (Vault)."
  type        = string
  default     = null
}

variable "terraform_key" {
  description = "The node's for_each key: Nomad meta terraform_key and tag terraform_key, so a node names the resource address that replaces it."
  type        = string
}

variable "node_pool" {
  description = "Nomad node pool of the node's client (tag nomad_node_pool). Ignored for role vault."
  type        = string
  default     = "default"
}

variable "node_class" {
  description = "Nomad node class of the node's client (tag nomad_node_class); empty for Nomad's default class."
  type        = string
  default     = ""
}

variable "meta" {
  description = "Extra Nomad client meta (tags nomad_meta:<key>). steward_pool and terraform_key are added from pool and terraform_key."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.meta : can(regex("^[A-Za-z0-9_.-]{1,64}$", k)) && !strcontains(v, "$${") && !strcontains(v, "%%{")
    ])
    error_message = "meta keys must be letters, digits, _ . - (1..64); values must not contain template sequences ($${ or %%{)."
  }
  validation {
    condition     = length(setintersection(keys(var.meta), ["steward_pool", "terraform_key"])) == 0
    error_message = "steward_pool and terraform_key are set from pool and terraform_key, not from meta."
  }
}

variable "host_volumes" {
  description = "Nomad host volumes of a client, name => directory (created by cloud-init), e.g. { registry = \"/opt/registry/data\" }."
  type        = map(string)
  default     = {}
}

variable "cluster" {
  description = "The Nomad cluster (environment) the node joins: tag nomad_cluster, Vault cluster_name."
  type        = string
}

variable "datacenter" {
  description = "The Consul and Nomad datacenter of the node (tag nomad_datacenter)."
  type        = string
  default     = "dc1"
}

variable "agents" {
  description = <<-EOT
    What every node of one cluster shares, to render its cloud-init (null: tags only, no user data):
    region             the Nomad region;
    server_addresses   the Consul and Nomad servers' stable addresses (fixed private IPs or DNS names): retry_join of every agent, and bootstrap_expect of the servers;
    consul_gossip_key, nomad_gossip_key  base64 32-byte keys (`consul keygen`, `nomad operator gossip keyring generate`); null leaves gossip unencrypted;
    acls               enable Consul and Nomad ACLs (default deny; tokens are bootstrapped once, see docs/terraform.md);
    vault_address      where Nomad finds Vault (e.g. https://vault.service.consul:8200); null leaves the Nomad-Vault integration off;
    vault_ca_cert      PEM of the CA that signed Vault's certificate, written to /etc/vault.d/ca.pem and trusted by Nomad and Vault's Raft peers;
    install            install the agents from HashiCorp's apt repository (false: the image already has them);
    *_version          the apt package versions to pin (null: the repository's newest).
  EOT
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

  validation {
    condition     = var.agents == null || length(try(var.agents.server_addresses, [])) > 0
    error_message = "agents.server_addresses must name at least one server."
  }
  validation {
    condition = var.agents == null || alltrue([
      for k in compact([try(var.agents.consul_gossip_key, null), try(var.agents.nomad_gossip_key, null)]) : can(base64decode(k)) && length(k) == 44
    ])
    error_message = "Gossip keys are 32 random bytes in base64 (44 characters), e.g. from `consul keygen`."
  }
}

variable "vault" {
  description = <<-EOT
    Settings of a Vault server (role vault only):
    address     the server's own stable address (its fixed private IP or DNS name): api_addr https://<address>:8200, cluster_addr https://<address>:8201;
    node_id     its Raft node id (defaults to node_name);
    peers       the other Vault servers' API addresses (https://10.0.1.21:8200), for Raft retry_join;
    kms_key_id  an AWS KMS key for auto-unseal (null: Shamir seal, unsealed by hand);
    kms_region  the KMS key's region.
  EOT
  type = object({
    address    = optional(string)
    node_id    = optional(string)
    peers      = optional(list(string), [])
    kms_key_id = optional(string)
    kms_region = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.vault.kms_key_id == null || var.vault.kms_region != null
    error_message = "vault.kms_region is required with vault.kms_key_id."
  }
}
