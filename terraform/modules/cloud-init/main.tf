# One node's identity, rendered twice from the same values: as the instance
# tags (what sim/ec2 boots a node from, and what an operator filters on) and
# as the cloud-init user data that configures the real agents. Keeping both
# here is what keeps them from drifting apart.
locals {
  nomad_meta = merge(
    var.meta,
    var.pool != null ? { steward_pool = var.pool } : {},
    { terraform_key = var.terraform_key },
  )

  # The tag contract (sim/ec2/README.md, "Tags"). An empty node class is left
  # out rather than tagged "" (Nomad's default class is empty).
  tags = merge(
    { for k, v in var.meta : "nomad_meta:${k}" => v },
    { for c in compact([var.node_class]) : "nomad_node_class" => c },
    var.pool != null ? { "steward:pool" = var.pool } : {},
    {
      Name             = var.node_name
      terraform_key    = var.terraform_key
      "steward:role"   = var.role
      nomad_cluster    = var.cluster
      nomad_datacenter = var.datacenter
    },
    var.role != "vault" ? { nomad_node_pool = var.node_pool } : {},
  )

  render    = var.agents != null
  server    = var.role == "server"
  has_nomad = var.role != "vault"
  vault_ca  = try(var.agents.vault_ca_cert, null) != null ? "/etc/vault.d/ca.pem" : null

  consul_hcl = local.render ? templatefile("${path.module}/templates/consul.hcl.tftpl", {
    node_name        = var.node_name
    datacenter       = var.datacenter
    server           = local.server
    bootstrap_expect = length(var.agents.server_addresses)
    retry_join       = var.agents.server_addresses
    gossip_key       = var.agents.consul_gossip_key
    acls             = var.agents.acls
  }) : null

  nomad_hcl = local.render && local.has_nomad ? templatefile("${path.module}/templates/nomad.hcl.tftpl", {
    node_name        = var.node_name
    region           = var.agents.region
    datacenter       = var.datacenter
    server           = local.server
    bootstrap_expect = length(var.agents.server_addresses)
    retry_join       = var.agents.server_addresses
    gossip_key       = var.agents.nomad_gossip_key
    acls             = var.agents.acls
    node_pool        = var.node_pool
    node_class       = var.node_class
    meta             = local.nomad_meta
    host_volumes     = var.host_volumes
    docker           = !local.server
    vault_address    = var.agents.vault_address
    vault_ca_file    = local.vault_ca
  }) : null

  vault_hcl = local.render && var.role == "vault" ? templatefile("${path.module}/templates/vault.hcl.tftpl", {
    cluster_name = var.cluster
    address      = var.vault.address
    node_id      = coalesce(var.vault.node_id, var.node_name)
    peers        = var.vault.peers
    ca_file      = local.vault_ca
    kms_key_id   = var.vault.kms_key_id
    kms_region   = var.vault.kms_region
  }) : null

  # Files cloud-init writes after the packages are installed (defer), so the
  # agents' users exist to own them. Keyed by path.
  files = !local.render ? {} : merge(
    {
      "/etc/consul.d/consul.hcl" = { content = local.consul_hcl, owner = "consul:consul", permissions = "0640" }
      # Send *.consul lookups to the local Consul agent (vault.service.consul, nomad.service.consul).
      "/etc/systemd/resolved.conf.d/consul.conf" = {
        content     = "[Resolve]\nDNS=127.0.0.1:8600\nDNSSEC=false\nDomains=~consul\n"
        owner       = "root:root"
        permissions = "0644"
      }
    },
    local.has_nomad ? { "/etc/nomad.d/nomad.hcl" = { content = local.nomad_hcl, owner = "root:root", permissions = "0640" } } : {},
    var.role == "vault" ? { "/etc/vault.d/vault.hcl" = { content = local.vault_hcl, owner = "vault:vault", permissions = "0640" } } : {},
    local.vault_ca != null ? { (local.vault_ca) = { content = var.agents.vault_ca_cert, owner = "root:root", permissions = "0644" } } : {},
  )

  services = concat(["consul"], local.has_nomad ? ["nomad"] : [], var.role == "vault" ? ["vault"] : [])

  # apt packages, pinned as [name, version] when a version is given
  # (HashiCorp's packages are versioned <version>-1).
  hashicorp_packages = !local.render ? [] : concat(
    [{ name = "consul", version = var.agents.consul_version }],
    local.has_nomad ? [{ name = "nomad", version = var.agents.nomad_version }] : [],
    var.role == "vault" ? [{ name = "vault", version = var.agents.vault_version }] : [],
  )
  packages = concat(
    try(var.agents.install, false) ? [for p in local.hashicorp_packages : p.version != null ? [p.name, "${p.version}-1"] : [p.name]] : [],
    local.render && local.has_nomad && !local.server ? [["docker.io"]] : [],
  )

  user_data = local.render ? templatefile("${path.module}/templates/cloud-config.yaml.tftpl", {
    node_name    = var.node_name
    role         = var.role
    install      = var.agents.install
    packages     = local.packages
    files        = local.files
    host_volumes = var.host_volumes
    services     = local.services
  }) : null
}
