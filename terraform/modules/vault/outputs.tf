output "instances" {
  description = "Each Vault server's instance, by name: id, private IP, private DNS name, node name."
  value = {
    for k, i in aws_instance.vault : k => {
      id          = i.id
      private_ip  = i.private_ip
      private_dns = i.private_dns
      node_name   = i.tags["Name"]
    }
  }
}

output "api_addresses" {
  description = "Each Vault server's API address (https://<fixed private ip>:8200), by name; known at plan time."
  value       = local.api_addr
}

output "cloud_init" {
  description = "The user data each instance boots with, by node name (sensitive: it may hold gossip keys)."
  sensitive   = true
  value       = { for k, n in module.node : n.tags["Name"] => n.user_data }
}
