# Vault policy of Prometheus's job (role `prometheus`): its Consul token.
#
#   vault policy write prometheus deploy/policies/vault/prometheus.hcl
path "secret/data/prometheus/consul" {
  capabilities = ["read"]
}
