# Vault policy of the registry's job (role `registry`): the bearer token its
# notifications to Steward carry.
#
#   vault policy write registry deploy/policies/vault/registry.hcl
path "secret/data/registry/notifications" {
  capabilities = ["read"]
}
