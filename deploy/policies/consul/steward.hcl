# Steward's Consul ACL policy: its own keys, the desired-state tree read-only,
# and sessions for the leader lock (test/deploy/policies.test.ts derives the
# KV paths and endpoints from src/ and checks this file against them).
#
#   consul acl policy create -name steward -rules @deploy/policies/consul/steward.hcl
#   consul acl token create -description steward -policy-name steward

# steward/leader (the lock), steward/control/ (runtime switches; a standby
# writes sync-now to pass a webhook on), steward/state/sync/ (what was
# registered), steward/journal/promotion/ and steward/journal/healing/ (each
# loop's journal, written with CAS before each step), steward/approvals/
# (manual approvals of promotion gates), steward/gate-retries/ (operators'
# requests to retry a failed gate), steward/instances/ (each instance's
# presence key, held by its own session; every instance lists the prefix).
key_prefix "steward/" {
  policy = "write"
}

# A desired-state tree kept in Consul KV: Steward only reads it (CI writes it).
key_prefix "steward/desired-state/" {
  policy = "read"
}

# The leader lock's session and each instance's presence session, created on
# the node of the agent each instance talks to: any client may run an instance.
session_prefix "" {
  policy = "write"
}

# Healing: list the catalog's nodes (server pools' members), read every
# node's serfHealth check (/v1/health/state/any and /v1/catalog/nodes are
# filtered by the token; serfHealth is a node check) and deregister a
# replaced node from the catalog (node:write on that node is enough for a
# whole-node deregistration). Any node: a pool's nodes are found by their
# Nomad node meta, not by a name prefix.
node_prefix "" {
  policy = "write"
}

# Server pools: Raft configuration and autopilot health before replacing a server.
operator = "read"
