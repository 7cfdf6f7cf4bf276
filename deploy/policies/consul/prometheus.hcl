# Prometheus's Consul ACL policy: service discovery (services and nodes) and
# the agents' /v1/agent/metrics (agent:read).
#
#   consul acl policy create -name prometheus -rules @deploy/policies/consul/prometheus.hcl
service_prefix "" {
  policy = "read"
}

node_prefix "" {
  policy = "read"
}

agent_prefix "" {
  policy = "read"
}
