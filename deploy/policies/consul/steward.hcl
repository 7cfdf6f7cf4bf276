# Steward's Consul ACL policy: its own keys, the desired-state tree read-only,
# and sessions for the leader lock (test/deploy/policies.test.ts derives the
# KV paths and endpoints from src/ and checks this file against them).
#
#   consul acl policy create -name steward -rules @deploy/policies/consul/steward.hcl
#   consul acl token create -description steward -policy-name steward

# steward/leader (the lock), steward/control/ (runtime switches; a standby
# writes sync-now to pass a webhook on), steward/state/sync/ (what was registered).
key_prefix "steward/" {
  policy = "write"
}

# A desired-state tree kept in Consul KV: Steward only reads it (CI writes it).
key_prefix "steward/desired-state/" {
  policy = "read"
}

# The leader lock's session, created on the node of the agent each instance
# talks to: any client may run an instance.
session_prefix "" {
  policy = "write"
}
