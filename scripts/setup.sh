#!/usr/bin/env bash
# Installs what Steward's commands need on a fresh machine, and nothing when
# it is already there: npm packages, and the Debian packages for the real
# registry, Prometheus, and the Go toolchain + hcl/v2 that sim's jobspec
# parser is built from, Chromium for the UI tests; then the UI's build.
# Safe to run again; fast when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/github.com/hashicorp/hcl/v2 ] || need_apt+=(golang-github-hashicorp-hcl-v2-dev)
[ -d /usr/share/gocode/src/github.com/zclconf/go-cty ] || need_apt+=(golang-github-zclconf-go-cty-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)
# OCI images without a Docker daemon: examples/hello/ci/push-image.sh (umoci builds, skopeo pushes).
command -v umoci >/dev/null 2>&1 || need_apt+=(umoci)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
# The UI's end-to-end tests drive Debian's Chromium through playwright-core (its own browser download does not work here).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The live UI's production build (dist/ui, served at /ui/), when missing or older than its sources.
if [ ! -f dist/ui/index.html ] || [ -n "$(find ui src/server/live-types.ts package-lock.json -newer dist/ui/index.html -print -quit)" ]; then
  echo "setup: building the UI (npm run build)" >&2
  npm run build --silent
fi
