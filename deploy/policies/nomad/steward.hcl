# Steward's Nomad ACL policy: the capabilities of the endpoints Steward's code
# calls, and nothing else (test/deploy/policies.test.ts derives the endpoints
# from src/ and checks this file against them, both ways).
#
#   GET  /v1/jobs                 list-jobs   the jobs list with Meta (blocking query)
#   GET  /v1/job/:id              read-job    one job (drift checks, stop's check-and-set)
#   POST /v1/jobs/parse           parse-job   each job file, by the environment's own parser
#   POST /v1/job/:id/plan         submit-job  what a register would change
#   PUT  /v1/jobs                 submit-job  register (EnforceIndex)
#   DELETE /v1/job/:id            submit-job  stop (prune)
#   GET  /v1/job/:id/allocations  read-job    batch gates, rollout health
#   GET  /v1/job/:id/deployments  read-job    promotion's rollout health
#   GET  /v1/deployments          read-job    the UI's deployment status per job (blocking query)
#
#   GET  /v1/nodes, /v1/node/:id  node read   healing watches every node (blocking query)
#   POST /v1/node/:id/drain       node write  healing drains a lost node before replacing it
#   POST /v1/node/:id/purge       node write  healing removes the replaced node for good
#   GET  /v1/operator/autopilot/health  operator read  server pools: quorum before a replacement
#
# Nomad's /v1/operator/raft/configuration needs a management token, so healing
# counts the voters from autopilot health instead.
#
# One token per environment's cluster, each with this policy; add a namespace
# block for every namespace steward.yaml names.
#
#   nomad acl policy apply -description "Steward" steward deploy/policies/nomad/steward.hcl
#   nomad acl token create -name steward -policy steward
namespace "default" {
  capabilities = ["list-jobs", "read-job", "parse-job", "submit-job"]
}

# Drain and purge lost nodes (healing); reading nodes comes with it.
node {
  policy = "write"
}

# Autopilot health of the servers (healing of server pools).
operator {
  policy = "read"
}
