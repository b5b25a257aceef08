#!/usr/bin/env bash
# `make images`: build the CPU image from docker/Dockerfile on this machine with buildah (layers
# cached: a rebuild with unchanged dependencies takes seconds) and tag it as the compiled pipeline
# specs reference it (ghcr.io/rankops/rankops:<package version>) and by git sha when the tree is clean.
# - Base: BASE_IMAGE when given (e.g. the public python:3.11.11-slim-bookworm where registries are
#   reachable), else a Debian base built here with debootstrap (docker/build-base.sh).
# - The system CA bundle is mounted over the image's, so pip trusts a TLS-intercepting proxy.
# - Earlier images of the repository lose their tags (see the end), so a machine that builds every commit
#   does not keep every commit's layers.
# - torch: when the machine's pip configuration names a wheel directory (find-links) holding the CPU
#   build of torch 2.13.0, it is mounted and used; otherwise the PyTorch CPU index.
# Prints the image id on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}
for tool in buildah podman; do
  command -v "$tool" >/dev/null || { echo "make images: $tool not found: run \`make container-tools\`" >&2; exit 1; }
done
version=$(sed -n 's/^VERSION = "\(.*\)"$/\1/p' components/common/image.py)
image=${IMAGE:-ghcr.io/rankops/rankops:$version}
args=(--layers --isolation chroot --network host --format docker -f docker/Dockerfile -t "$image")

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  docker/build-base.sh
  base=localhost/rankops-base:bookworm
fi
args+=(--build-arg "BASE_IMAGE=$base")

ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$ca" ] && args+=(-v "$ca:/etc/ssl/certs/ca-certificates.crt:ro")

wheels=${TORCH_WHEELS:-$(pip config get global.find-links 2>/dev/null || true)}
if [ -n "$wheels" ] && compgen -G "$wheels/torch-2.13.0+cpu-*.whl" >/dev/null; then
  args+=(-v "$wheels:/wheels:ro" --build-arg TORCH_FIND_LINKS=/wheels --build-arg TORCH_INDEX=https://pypi.org/simple)
fi

# The commit the image is built from, "unknown" from a dirty tree (gitinfo reads it: a registered model's lineage).
rev=unknown branch=unknown
sha=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$sha" != unknown ] && [ -z "$(git status --porcelain 2>/dev/null)" ]; then
  rev=$sha branch=$(git rev-parse --abbrev-ref HEAD)
  args+=(-t "${image%:*}:$sha")
fi
# The source label marks every stage's image as this repository's: the clean-up at the end removes only those.
source=https://github.com/rankops/rankops
args+=(--label "org.opencontainers.image.source=$source")
# Set on the committed image too: buildah's layer cache ignores a changed ARG that feeds only ENV/LABEL
# (containers/buildah#5501), so a cached rebuild kept the previous commit's sha.
args+=(--build-arg "GIT_SHA=$rev" --build-arg "GIT_BRANCH=$branch" --label "org.opencontainers.image.revision=$rev"
       --env "RANKOPS_GIT_SHA=$rev" --env "RANKOPS_GIT_BRANCH=$branch" --env "RANKOPS_IMAGE_TAG=$rev")

started=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! buildah bud "${args[@]}" . >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "make images: buildah bud failed (last lines above)" >&2
  exit 1
fi
# grep -c exits 1 when it counts 0 (a first build, nothing cached): under pipefail that ended the script
echo "  layers from cache: $(grep -cE -- '--> Using cache' "$log" || true)"
echo "built $image in $((SECONDS - started)) s"

# A machine that builds every commit (CI) would keep each one's sha tag, and with it its layers (GBs whenever
# the dependencies changed). Only this build's tags of the repository stay; then the repository's images that no
# tag names any more (the one the rebuilt tag named, the other stages' last images) are removed, with the cached
# layers only they used. This build's layers stay: they are its parents. Other projects' images are left alone,
# and so is an image a container uses (podman refuses). A failed clean-up never fails the build.
repo=${image%:*} keep=("$image")
[ "$rev" != unknown ] && keep+=("$repo:$sha")
# the reference filter also matches other repositories that start alike (…/rankops-gpu): compare exactly
for ref in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo" 2>/dev/null || true); do
  [ "${ref%:*}" = "$repo" ] && [ "${ref##*:}" != "<none>" ] || continue
  [[ " ${keep[*]} " == *" $ref "* ]] || podman rmi "$ref" >/dev/null 2>&1 || true
done
podman image prune -f --filter "label=org.opencontainers.image.source=$source" >/dev/null 2>&1 || true
podman image inspect --format '{{.Id}}' "$image"
