# The Consul and Nomad servers: fixed instances, one per name. for_each keeps
# each server's address stable, so Steward (or an operator) replaces exactly
# one with `terraform apply -replace='module.<m>.aws_instance.server["<name>"]'`.
#
# Terraform never rolls servers on its own: a new image or a changed
# cloud-init would otherwise replace every server in one apply and lose
# quorum. Both take effect when a server is replaced, one at a time.
module "node" {
  source   = "../cloud-init"
  for_each = var.servers

  role          = "server"
  node_name     = "${var.name_prefix}-${each.key}"
  cluster       = var.cluster
  datacenter    = var.datacenter
  pool          = var.pool
  terraform_key = each.key
  node_pool     = var.node_pool
  agents        = var.agents
}

resource "aws_instance" "server" {
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

# An Elastic IP per server, re-associated with the new instance when the
# server is replaced (the address itself is never released by a -replace).
resource "aws_eip" "server" {
  for_each = var.elastic_ips ? var.servers : {}

  domain   = "vpc"
  instance = aws_instance.server[each.key].id

  tags = merge(var.tags, { Name = "${var.name_prefix}-${each.key}", terraform_key = each.key })
}
