#!/usr/bin/env bash
# Builds hello's image WITHOUT a Docker daemon and pushes it to a registry:
# Debian's umoci writes an OCI image layout from the files (`umoci init`,
# `new`, `insert`, `config`), and skopeo copies it to the registry, which
# answers with the manifest digest (printed last).
#
#   BUILD_NUMBER=42 REGISTRY=127.0.0.1:5000 examples/hello/ci/push-image.sh [build|push|all]
#
# Environment:
#   BUILD_NUMBER      required: the CI's build number; the tag is build-$BUILD_NUMBER
#   REGISTRY          required for push: host:port of the registry
#   IMAGE_NAME        repository name in the registry (default: hello)
#   BASE_IMAGE        an image to build on, as skopeo names it (CI: docker://docker.io/library/node:20-alpine);
#                     without it the image holds only the app's files (enough to test the pipeline offline)
#   DEST_TLS_VERIFY   false for a registry on plain HTTP (default: true)
#   REGISTRY_CREDS    user:password for the registry, when it asks
#   OCI_DIR           where the OCI layout is kept between `build` and `push` (default: .oci beside the app)
set -euo pipefail

step="${1:-all}"
app_dir="$(cd "$(dirname "$0")/.." && pwd)"
: "${BUILD_NUMBER:?set BUILD_NUMBER (the CI build number)}"
tag="build-${BUILD_NUMBER}"
name="${IMAGE_NAME:-hello}"
oci="${OCI_DIR:-$app_dir/.oci}"

for tool in umoci skopeo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "push-image: $tool is missing (Debian: apt-get install -y umoci skopeo)" >&2; exit 2; }
done

# skopeo reads a signature policy; a runner without /etc/containers/policy.json gets one that accepts any image.
policy=()
if [ ! -f /etc/containers/policy.json ] && [ ! -f "${HOME:-/nonexistent}/.config/containers/policy.json" ]; then
  policy_file="$(mktemp)"
  trap 'rm -f "$policy_file"' EXIT
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy_file"
  policy=(--policy "$policy_file")
fi

build() {
  rm -rf "$oci"
  if [ -n "${BASE_IMAGE:-}" ]; then
    skopeo "${policy[@]}" copy "$BASE_IMAGE" "oci:$oci:base" >&2
    umoci tag --image "$oci:base" "$tag"
  else
    umoci init --layout "$oci"
    umoci new --image "$oci:$tag"
  fi
  # --rootless: files owned by the builder, no root needed on the runner.
  umoci insert --rootless --image "$oci:$tag" "$app_dir/package.json" /app/package.json
  umoci insert --rootless --image "$oci:$tag" "$app_dir/server.js" /app/server.js
  umoci config --image "$oci:$tag" \
    --config.workingdir /app \
    --config.env PORT=8080 --config.env "VERSION=$tag" \
    --config.exposedports 8080/tcp \
    --config.cmd node --config.cmd server.js \
    --config.label "org.opencontainers.image.version=$tag" \
    --config.label "org.opencontainers.image.title=$name"
  umoci gc --layout "$oci"
  echo "push-image: built $name:$tag in $oci" >&2
}

push() {
  : "${REGISTRY:?set REGISTRY (host:port of the registry)}"
  digest_file="$(mktemp)"
  creds=()
  [ -n "${REGISTRY_CREDS:-}" ] && creds=(--dest-creds "$REGISTRY_CREDS")
  skopeo "${policy[@]}" copy --dest-tls-verify="${DEST_TLS_VERIFY:-true}" "${creds[@]}" \
    --digestfile "$digest_file" "oci:$oci:$tag" "docker://$REGISTRY/$name:$tag" >&2
  echo "push-image: pushed $REGISTRY/$name:$tag" >&2
  # The last line is the digest Steward pins: repository@digest.
  echo "$REGISTRY/$name@$(cat "$digest_file")"
  rm -f "$digest_file"
}

case "$step" in
  build) build ;;
  push) push ;;
  all) build && push ;;
  *) echo "usage: $0 [build|push|all]" >&2; exit 2 ;;
esac
