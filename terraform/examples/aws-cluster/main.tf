# The whole cluster on AWS, as the seed describes it: a network, three
# Consul+Nomad servers at fixed addresses, a Vault server, the registry host
# and a pool of workers, each node configured by cloud-init from the same
# values as its tags.
#
# Every node is one resource instance under for_each, so Steward's healing
# loop (and an operator) replaces exactly one with
# `terraform apply -replace=<address>`; the addresses are in the outputs
# (pools, nodes) and follow the templates of desired-state/pools/*.yaml.
#
# The provider block holds only production settings. Tests point it at sim's
# EC2 and STS through the environment alone (AWS_ENDPOINT_URL_EC2,
# AWS_ENDPOINT_URL_STS, test credentials); see test/helpers/terraform.ts.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region

  # Attempts per API call, retries included. The SDK default (25) keeps a
  # throttled apply retrying for over an hour; Steward would rather see the
  # failure and back off on its own schedule and budget.
  max_retries = var.max_retries
}

module "network" {
  source = "../../modules/network"

  create        = var.create_network
  name          = var.cluster
  cidr_block    = var.vpc_cidr
  subnets       = var.subnets
  existing      = var.existing_network
  admin_cidrs   = var.admin_cidrs
  ingress_cidrs = var.ingress_cidrs
  tags          = var.tags
}

locals {
  subnet_ids  = module.network.subnet_ids
  subnet_keys = sort(keys(module.network.subnet_ids))

  # Every agent joins the servers at their fixed private addresses.
  agents = {
    region            = var.nomad_region
    server_addresses  = [for name in sort(keys(var.servers)) : var.servers[name].private_ip]
    consul_gossip_key = var.consul_gossip_key
    nomad_gossip_key  = var.nomad_gossip_key
    acls              = var.acls
    vault_address     = "https://vault.service.consul:8200"
    vault_ca_cert     = var.vault_ca_cert
    install           = var.install_agents
    consul_version    = var.consul_version
    nomad_version     = var.nomad_version
    vault_version     = var.vault_version
  }

  # Nodes without a subnet of their own are spread over the subnets in key order.
  spread = {
    for i, k in sort(keys(var.workers)) : k => local.subnet_keys[i % length(local.subnet_keys)]
  }
}

module "servers" {
  source = "../../modules/server"

  servers = {
    for name, s in var.servers : name => {
      subnet_id     = local.subnet_ids[s.subnet]
      private_ip    = s.private_ip
      instance_type = s.instance_type
    }
  }
  agents               = local.agents
  pool                 = "servers"
  cluster              = var.cluster
  datacenter           = var.datacenter
  node_pool            = "servers"
  name_prefix          = "${var.cluster}-servers"
  ami                  = var.ami
  instance_type        = var.server_instance_type
  elastic_ips          = var.server_elastic_ips
  security_group_ids   = module.network.security_group_ids
  iam_instance_profile = var.iam_instance_profile
  key_name             = var.key_name
  tags                 = var.tags
}

module "vault" {
  source = "../../modules/vault"

  servers = {
    for name, s in var.vault_servers : name => {
      subnet_id     = local.subnet_ids[s.subnet]
      private_ip    = s.private_ip
      instance_type = s.instance_type
    }
  }
  agents               = local.agents
  kms_key_id           = var.vault_kms_key_id
  region               = var.region
  cluster              = var.cluster
  datacenter           = var.datacenter
  name_prefix          = "${var.cluster}-vault"
  ami                  = var.ami
  instance_type        = var.vault_instance_type
  security_group_ids   = module.network.security_group_ids
  iam_instance_profile = var.iam_instance_profile
  key_name             = var.key_name
  tags                 = var.tags
}

# The registry host: a Nomad client in a node pool of its own with a host
# volume for the registry job's storage (deploy/nomad runs the registry).
module "registry" {
  source = "../../modules/worker"

  workers = {
    for k, r in var.registry_hosts : k => {
      instance_type = r.instance_type
      subnet_id     = local.subnet_ids[coalesce(r.subnet, local.subnet_keys[0])]
    }
  }
  pool                 = "registry"
  cluster              = var.cluster
  datacenter           = var.datacenter
  node_pool            = "registry"
  name_prefix          = "${var.cluster}-registry"
  ami                  = var.ami
  instance_type        = var.registry_instance_type
  subnet_id            = local.subnet_ids[local.subnet_keys[0]]
  agents               = local.agents
  host_volumes         = { registry = "/opt/registry/data" }
  security_group_ids   = module.network.security_group_ids
  iam_instance_profile = var.iam_instance_profile
  key_name             = var.key_name
  tags                 = var.tags
}

module "workers" {
  source = "../../modules/worker"

  workers = {
    for k, w in var.workers : k => {
      instance_type = w.instance_type
      node_class    = w.node_class
      meta          = w.meta
      subnet_id     = local.subnet_ids[coalesce(w.subnet, local.spread[k])]
    }
  }
  pool                 = "workers"
  cluster              = var.cluster
  datacenter           = var.datacenter
  node_pool            = var.worker_node_pool
  name_prefix          = "${var.cluster}-workers"
  ami                  = var.ami
  instance_type        = var.worker_instance_type
  subnet_id            = local.subnet_ids[local.subnet_keys[0]]
  agents               = local.agents
  security_group_ids   = module.network.security_group_ids
  iam_instance_profile = var.iam_instance_profile
  key_name             = var.key_name
  tags                 = var.tags
}
