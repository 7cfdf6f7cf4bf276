# Fabio's Consul ACL policy: it reads the healthy services and their tags
# (routes from `urlprefix-`), its manual overrides under fabio/, and the agent
# (its datacenter). Nomad registers Fabio's own service, so no write.
#
#   consul acl policy create -name fabio -rules @deploy/policies/consul/fabio.hcl
service_prefix "" {
  policy = "read"
}

node_prefix "" {
  policy = "read"
}

agent_prefix "" {
  policy = "read"
}

key_prefix "fabio/" {
  policy = "read"
}
