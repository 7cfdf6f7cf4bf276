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
