# One EC2 instance per worker. for_each (not count) keeps each worker's
# address stable, so one node can be replaced without touching the others.
#
# The tags are the contract with the node's cloud-init (and sim/ec2, which
# boots a Nomad client from them): nomad_cluster, nomad_datacenter,
# nomad_node_pool, nomad_node_class, and nomad_meta:<key> for client meta.
# steward:pool and terraform_key let Steward map a Nomad node back to the
# Terraform address that replaces it.
locals {
  meta_tags = {
    for k, w in var.workers : k => { for mk, mv in w.meta : "nomad_meta:${mk}" => mv }
  }
  node_class = { for k, w in var.workers : k => w.node_class != null ? w.node_class : var.node_class }
  # An empty node class is left out rather than tagged "" (Nomad's default class is empty).
  class_tags = {
    for k, c in local.node_class : k => { for v in compact([c]) : "nomad_node_class" => v }
  }
}

resource "aws_instance" "worker" {
  for_each = var.workers

  ami           = var.ami
  instance_type = coalesce(each.value.instance_type, var.instance_type)
  subnet_id     = var.subnet_id
  user_data     = var.user_data

  tags = merge(
    var.tags,
    local.meta_tags[each.key],
    local.class_tags[each.key],
    {
      Name             = "${var.name_prefix}-${each.key}"
      "steward:pool"   = var.pool
      terraform_key    = each.key
      nomad_cluster    = var.cluster
      nomad_datacenter = var.datacenter
      nomad_node_pool  = var.node_pool
    },
  )
}
