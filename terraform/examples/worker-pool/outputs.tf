output "instances" {
  description = "Each worker's instance, by worker key."
  value       = module.workers.instances
}

output "replace_addresses" {
  description = "The address to pass to `terraform apply -replace=...` to replace one worker, by worker key."
  value       = { for k in keys(var.workers) : k => "module.workers.aws_instance.worker[\"${k}\"]" }
}
