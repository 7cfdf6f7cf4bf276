# Vault policy of Fabio's job (role `fabio`): its Consul token.
#
#   vault policy write fabio deploy/policies/vault/fabio.hcl
path "secret/data/fabio/consul" {
  capabilities = ["read"]
}
