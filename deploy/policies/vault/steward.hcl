# Vault policy of Steward's job (the JWT auth role `steward` of Nomad's
# workload identities): the KV v2 secrets its templates render, read only
# (test/deploy/policies.test.ts checks them against the job's templates).
#
#   vault policy write steward deploy/policies/vault/steward.hcl
#   vault kv put secret/steward/consul token=...        (Steward's Consul token)
#   vault kv put secret/steward/nomad-qa token=...      (one per environment)
#   vault kv put secret/steward/webhook secret=...      (the git webhook's secret)
#   vault kv put secret/steward/aws access_key_id=... secret_access_key=...
#                                                       (healing: Terraform and EC2 reads)
path "secret/data/steward/consul" {
  capabilities = ["read"]
}

path "secret/data/steward/nomad-qa" {
  capabilities = ["read"]
}

path "secret/data/steward/nomad-prod" {
  capabilities = ["read"]
}

path "secret/data/steward/webhook" {
  capabilities = ["read"]
}

# Healing's AWS credentials: an IAM user allowed what the pools' Terraform
# roots manage (EC2 instances, their EIPs and tags) and DescribeInstances.
path "secret/data/steward/aws" {
  capabilities = ["read"]
}
