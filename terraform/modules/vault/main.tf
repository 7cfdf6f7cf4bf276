# Vault servers with integrated Raft storage, one instance per name. Vault
# runs outside Nomad (Nomad's own workload identities depend on it), with a
# Consul client beside it that registers vault.service.consul.
#
# As for the Consul and Nomad servers, Terraform never rolls them on its own:
# a new image or configuration takes effect when a server is replaced.
locals {
  api_addr = { for k, s in var.servers : k => "https://${s.private_ip}:8200" }
}

module "node" {
  source   = "../cloud-init"
  for_each = var.servers

  role          = "vault"
  node_name     = "${var.name_prefix}-${each.key}"
  cluster       = var.cluster
  datacenter    = var.datacenter
  terraform_key = each.key
  agents        = var.agents
  vault = {
    address = each.value.private_ip
    # Raft retry_join names the other servers; with one server there is none.
    peers      = [for k, a in local.api_addr : a if k != each.key]
    kms_key_id = var.kms_key_id
    kms_region = var.region
  }
}

resource "aws_instance" "vault" {
  for_each = var.servers

  ami                    = var.ami
  instance_type          = coalesce(each.value.instance_type, var.instance_type)
  subnet_id              = each.value.subnet_id
  private_ip             = each.value.private_ip
  vpc_security_group_ids = length(var.security_group_ids) > 0 ? var.security_group_ids : null
  iam_instance_profile   = var.iam_instance_profile
  key_name               = var.key_name
  user_data              = module.node[each.key].user_data

  tags = merge(var.tags, module.node[each.key].tags)

  lifecycle {
    ignore_changes = [ami, user_data]
  }
}
