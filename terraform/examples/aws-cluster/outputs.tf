# What desired-state/pools/*.yaml and desired-state/steward.yaml need from
# this root: the resource address of every Nomad node, the node meta a pool
# selects on, the address templates, and where the APIs are.
locals {
  # The resource addresses of the node modules, by pool. The module names
  # here are the ones in main.tf: renaming a module call changes every
  # address Steward knows.
  pool_modules = {
    servers  = { role = "server", address_template = "module.servers.aws_instance.server[\"$${meta.terraform_key}\"]", nodes = module.servers.nodes }
    registry = { role = "worker", address_template = "module.registry.aws_instance.worker[\"$${meta.terraform_key}\"]", nodes = module.registry.nodes }
    workers  = { role = "worker", address_template = "module.workers.aws_instance.worker[\"$${meta.terraform_key}\"]", nodes = module.workers.nodes }
  }

  nodes = merge([
    for pool, p in local.pool_modules : {
      for key, n in p.nodes : n.node_name => merge(n, {
        pool    = pool
        role    = p.role
        address = replace(p.address_template, "$${meta.terraform_key}", key)
      })
    }
  ]...)
}

output "pools" {
  description = "Each Steward pool this root builds: role, the select a pool file uses (meta steward_pool), the Terraform address template over node meta, and the address of each node by terraform_key."
  value = {
    for pool, p in local.pool_modules : pool => {
      role             = p.role
      select           = { meta = { steward_pool = pool } }
      address_template = p.address_template
      addresses        = { for key, n in p.nodes : key => replace(p.address_template, "$${meta.terraform_key}", key) }
    }
  }
}

output "nodes" {
  description = "Every Nomad node this root builds, by node name: pool, role, resource address (for `terraform apply -replace`), node pool, node class and the client meta it registers with. Known at plan time."
  value       = local.nodes
}

output "replace_addresses" {
  description = "The address to pass to `terraform apply -replace=...` to replace one node, by node name (Vault servers included)."
  value = merge(
    { for name, n in local.nodes : name => n.address },
    { for k, i in module.vault.instances : i.node_name => "module.vault.aws_instance.vault[\"${k}\"]" },
  )
}

output "servers" {
  description = "The Consul+Nomad servers by name: instance id, fixed private IP, Elastic IP (null without server_elastic_ips)."
  value       = module.servers.instances
}

output "vault" {
  description = "The Vault servers by name: instance id and private IP."
  value       = module.vault.instances
}

output "endpoints" {
  description = "API addresses for desired-state/steward.yaml and the CLIs (NOMAD_ADDR, CONSUL_HTTP_ADDR, VAULT_ADDR), on the first server's fixed private IP."
  value = {
    nomad  = "http://${local.agents.server_addresses[0]}:4646"
    consul = "http://${local.agents.server_addresses[0]}:8500"
    vault  = values(module.vault.api_addresses)[0]
  }
}

output "cloud_init" {
  description = "The cloud-config each node boots with, by node name (it holds the gossip keys, hence sensitive: `terraform output -json cloud_init`)."
  sensitive   = true
  value       = merge(module.servers.cloud_init, module.vault.cloud_init, module.registry.cloud_init, module.workers.cloud_init)
}
