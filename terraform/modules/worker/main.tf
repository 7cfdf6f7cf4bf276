# One EC2 instance per worker. for_each (not count) keeps each worker's
# address stable, so one node can be replaced without touching the others.
#
# The tags are the contract with the node's cloud-init (and sim/ec2, which
# boots a Nomad client from them): nomad_cluster, nomad_datacenter,
# nomad_node_pool, nomad_node_class, and nomad_meta:<key> for client meta.
# steward:pool and terraform_key let Steward map a Nomad node back to the
# Terraform address that replaces it. modules/cloud-init renders both the
# tags and (when agents is set) the user data from the same values.
#
# A new image or cloud-init reaches a worker when it is replaced, never
# through an in-place update: a plain apply that recreates one lost worker
# must not also restart every other worker of the pool.
module "node" {
  source   = "../cloud-init"
  for_each = var.workers

  role          = "client"
  node_name     = "${var.name_prefix}-${each.key}"
  cluster       = var.cluster
  datacenter    = var.datacenter
  pool          = var.pool
  terraform_key = each.key
  node_pool     = var.node_pool
  node_class    = each.value.node_class != null ? each.value.node_class : var.node_class
  meta          = each.value.meta
  host_volumes  = var.host_volumes
  agents        = var.agents
}

resource "aws_instance" "worker" {
  for_each = var.workers

  ami                    = var.ami
  instance_type          = coalesce(each.value.instance_type, var.instance_type)
  subnet_id              = coalesce(each.value.subnet_id, var.subnet_id)
  vpc_security_group_ids = length(var.security_group_ids) > 0 ? var.security_group_ids : null
  iam_instance_profile   = var.iam_instance_profile
  key_name               = var.key_name
  user_data              = var.agents != null ? module.node[each.key].user_data : var.user_data

  tags = merge(var.tags, module.node[each.key].tags)

  lifecycle {
    ignore_changes = [ami, user_data]

    precondition {
      condition     = var.agents != null || var.user_data != null
      error_message = "Set agents (the module renders each worker's cloud-init) or user_data (one document for every worker)."
    }
  }
}
