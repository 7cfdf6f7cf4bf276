output "instances" {
  description = "Each server's instance, by name: id, private IP, private DNS name, node name, and its Elastic IP (null without elastic_ips)."
  value = {
    for k, i in aws_instance.server : k => {
      id          = i.id
      private_ip  = i.private_ip
      private_dns = i.private_dns
      node_name   = i.tags["Name"]
      public_ip   = var.elastic_ips ? aws_eip.server[k].public_ip : null
    }
  }
}

output "nodes" {
  description = "Each server's Nomad identity, by name: node name, node pool, node class and client meta (steward_pool, terraform_key). Known at plan time."
  value = {
    for k, n in module.node : k => {
      node_name  = n.tags["Name"]
      node_pool  = var.node_pool
      node_class = ""
      meta       = n.nomad_meta
    }
  }
}

output "cloud_init" {
  description = "The user data each instance boots with, by node name (sensitive: it may hold gossip keys)."
  sensitive   = true
  value       = { for k, n in module.node : n.tags["Name"] => n.user_data }
}
