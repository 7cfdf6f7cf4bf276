output "user_data" {
  description = "The cloud-config document (#cloud-config YAML) that installs, configures and starts the node's agents; null when agents is null."
  value       = local.user_data

  precondition {
    condition     = var.role != "vault" || var.vault.address != null
    error_message = "A Vault server needs vault.address (its fixed IP or DNS name): Raft and clients reach it there."
  }
}

output "tags" {
  description = "The node's identity as instance tags (sim/ec2/README.md, \"Tags\"): Name, terraform_key, steward:pool, steward:role, nomad_cluster, nomad_datacenter, nomad_node_pool, nomad_node_class, nomad_meta:<key>."
  value       = local.tags
}

output "nomad_meta" {
  description = "The Nomad client meta the node registers with (what a pool's select.meta and address template read); empty for role vault."
  value       = local.has_nomad ? local.nomad_meta : {}
}

output "files" {
  description = "Every file the cloud-config writes, by path: content, owner, permissions."
  value       = local.files
}
