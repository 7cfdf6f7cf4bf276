# A worker pool as production runs it. The provider block holds only
# production settings: no endpoints and no credentials. Tests point it at
# sim's EC2 and STS through the environment alone (AWS_ENDPOINT_URL_EC2,
# AWS_ENDPOINT_URL_STS, AWS_ACCESS_KEY_ID, ...); see test/helpers/terraform.ts.
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
  # failure and back off on its own schedule.
  max_retries = var.max_retries
}

module "workers" {
  source = "../../modules/worker"

  workers       = var.workers
  pool          = var.pool
  cluster       = var.cluster
  node_pool     = var.node_pool
  name_prefix   = var.pool
  ami           = var.ami
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  user_data     = templatefile("${path.module}/user-data.sh.tftpl", { cluster = var.cluster, node_pool = var.node_pool })
}
