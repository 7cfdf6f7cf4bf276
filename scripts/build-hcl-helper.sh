#!/usr/bin/env bash
# Builds sim's jobspec helper (sim/nomad/parse/hcl-helper, Go) into
# .cache/hcl-helper/hcl-helper, offline, in GOPATH mode against the Go sources
# Debian installs under /usr/share/gocode (hcl/v2, go-cty, x/crypto). Safe to
# run concurrently: the binary is replaced atomically.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

src=$root/sim/nomad/parse/hcl-helper
out=$root/.cache/hcl-helper
gocode=/usr/share/gocode

if ! command -v go >/dev/null 2>&1 || [ ! -d "$gocode/src/github.com/hashicorp/hcl/v2" ] || [ ! -d "$gocode/src/github.com/zclconf/go-cty" ]; then
  echo "build-hcl-helper: needs the Go toolchain and hcl/v2 sources (Debian packages golang-go," \
    "golang-github-hashicorp-hcl-v2-dev, golang-github-zclconf-go-cty-dev): run bash scripts/setup.sh" >&2
  exit 2
fi

mkdir -p "$out/gopath" "$out/go-build"
tmp=$(mktemp "$out/hcl-helper.XXXXXX")
trap 'rm -f "$tmp"' EXIT
(
  cd "$src"
  GO111MODULE=off GOPATH="$gocode:$out/gopath" GOCACHE="$out/go-build" GOFLAGS= CGO_ENABLED=0 \
    go build -trimpath -o "$tmp" .
)
chmod +x "$tmp"
mv -f "$tmp" "$out/hcl-helper"
trap - EXIT
