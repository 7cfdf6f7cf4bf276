variable "region" {
  description = "AWS region of the pool."
  type        = string
  default     = "us-east-1"
}

variable "max_retries" {
  description = "Attempts per AWS API call (the AWS SDK counts the first one too)."
  type        = number
  default     = 3
}

variable "pool" {
  description = "Steward pool name; also the prefix of node names."
  type        = string
  default     = "workers"
}

variable "cluster" {
  description = "The Nomad cluster the workers join."
  type        = string
  default     = "prod"
}

variable "node_pool" {
  description = "The Nomad node pool of the workers."
  type        = string
  default     = "default"
}

variable "workers" {
  description = "Workers by key; see modules/worker."
  type = map(object({
    instance_type = optional(string)
    node_class    = optional(string)
    meta          = optional(map(string), {})
  }))
  default = {
    a = {}
    b = {}
  }
}

variable "ami" {
  description = "Machine image with cloud-init, Nomad and Consul."
  type        = string
}

variable "instance_type" {
  description = "Default instance type of a worker."
  type        = string
  default     = "t3.small"
}

variable "subnet_id" {
  description = "Subnet of the workers."
  type        = string
}
