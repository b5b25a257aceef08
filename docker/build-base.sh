#!/usr/bin/env bash
# Build the base image `localhost/rankops-base:bookworm` from Debian packages, for machines that
# cannot pull images: debootstrap (bookworm, minbase + python3 + python3-venv + ca-certificates)
# from the mirror apt already uses, then `podman import`. Skipped when the image exists.
# Usage: docker/build-base.sh [--force]     (env: DEBIAN_MIRROR, BASE_IMAGE)
set -euo pipefail
image=${BASE_IMAGE:-localhost/rankops-base:bookworm}
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "docker/build-base.sh: $tool not found: run \`make container-tools\`" >&2; exit 1; }
done
if [ "${1:-}" != "--force" ] && podman image exists "$image"; then
  echo "base image $image exists (docker/build-base.sh --force rebuilds it)"
  exit 0
fi
mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$2 == "bookworm" {print $1; exit}')}
mirror=${mirror:-http://deb.debian.org/debian/}
root=$(mktemp -d "${TMPDIR:-/tmp}/rankops-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror -> $image"
started=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" \
  >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "built $image in $((SECONDS - started)) s"
