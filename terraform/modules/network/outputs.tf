output "vpc_id" {
  description = "The VPC's id."
  value       = var.create ? aws_vpc.this["this"].id : var.existing.vpc_id

  precondition {
    condition     = var.create || var.existing != null
    error_message = "With create = false, existing must name the VPC and its subnets."
  }
}

output "subnet_ids" {
  description = "Subnet ids by their short key (the keys nodes name)."
  value       = var.create ? { for k, s in aws_subnet.this : k => s.id } : var.existing.subnet_ids

  precondition {
    condition     = !var.create || length(var.subnets) > 0
    error_message = "With create = true, subnets must list at least one subnet."
  }
}

output "security_group_ids" {
  description = "The security groups every node carries."
  value       = var.create ? [aws_security_group.cluster["this"].id] : var.existing.security_group_ids
}
