# The network the cluster runs in. With create = true: a VPC, one public
# subnet per entry of var.subnets (public so nodes reach HashiCorp's apt
# repository without a NAT gateway; put them behind NAT for a closed
# network), an internet gateway and the one security group every node
# carries. With create = false nothing is created or read: the ids in
# var.existing are handed through, so a root module can run against an
# account (or an emulator) that only offers instances.
locals {
  create = var.create ? { this = true } : {}
}

resource "aws_vpc" "this" {
  for_each = local.create

  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  for_each = local.create

  vpc_id = aws_vpc.this["this"].id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "this" {
  for_each = var.create ? var.subnets : {}

  vpc_id                  = aws_vpc.this["this"].id
  availability_zone       = each.value.availability_zone
  cidr_block              = each.value.cidr_block
  map_public_ip_on_launch = true

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_route_table" "public" {
  for_each = local.create

  vpc_id = aws_vpc.this["this"].id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "internet" {
  for_each = local.create

  route_table_id         = aws_route_table.public["this"].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this["this"].id
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.this

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public["this"].id
}

# Every node carries this group: the nodes talk to each other freely
# (Consul and Nomad gossip, RPC, Raft, Vault, dynamic ports of Nomad
# tasks); from outside only what admin_cidrs and ingress_cidrs allow.
resource "aws_security_group" "cluster" {
  for_each = local.create

  name        = "${var.name}-cluster"
  description = "Nodes of the ${var.name} cluster"
  vpc_id      = aws_vpc.this["this"].id
  tags        = merge(var.tags, { Name = "${var.name}-cluster" })
}

resource "aws_vpc_security_group_ingress_rule" "intra_cluster" {
  for_each = local.create

  security_group_id            = aws_security_group.cluster["this"].id
  referenced_security_group_id = aws_security_group.cluster["this"].id
  ip_protocol                  = "-1"
  description                  = "Node to node"
}

locals {
  admin_ports   = { ssh = 22, consul = 8500, nomad = 4646, vault = 8200, registry = 5000 }
  ingress_ports = { fabio = 9999 }
  admin_rules = var.create ? merge([
    for cidr in var.admin_cidrs : { for name, port in local.admin_ports : "${name} ${cidr}" => { port = port, cidr = cidr } }
  ]...) : {}
  ingress_rules = var.create ? merge([
    for cidr in var.ingress_cidrs : { for name, port in local.ingress_ports : "${name} ${cidr}" => { port = port, cidr = cidr } }
  ]...) : {}
}

resource "aws_vpc_security_group_ingress_rule" "from_outside" {
  for_each = merge(local.admin_rules, local.ingress_rules)

  security_group_id = aws_security_group.cluster["this"].id
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  description       = each.key
}

resource "aws_vpc_security_group_egress_rule" "all" {
  for_each = local.create

  security_group_id = aws_security_group.cluster["this"].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "Anywhere (apt repositories, registries, AWS APIs)"
}
