output "instances" {
  description = "Each worker's instance: id, private IP and private DNS name, by worker key."
  value = {
    for k, i in aws_instance.worker : k => {
      id          = i.id
      private_ip  = i.private_ip
      private_dns = i.private_dns
      node_name   = i.tags["Name"]
    }
  }
}

output "nodes" {
  description = "Each worker's Nomad identity, by worker key: node name, node pool, node class and the client meta it registers with (steward_pool, terraform_key, and the worker's meta). Known at plan time."
  value = {
    for k, n in module.node : k => {
      node_name  = n.tags["Name"]
      node_pool  = var.node_pool
      node_class = lookup(n.tags, "nomad_node_class", "")
      meta       = n.nomad_meta
    }
  }
}

output "cloud_init" {
  description = "The user data each instance boots with, by node name (sensitive: it may hold gossip keys)."
  sensitive   = true
  value       = { for k, n in module.node : n.tags["Name"] => var.agents != null ? n.user_data : var.user_data }
}
