#!/usr/bin/env bash
# Stop before an install when the disk cannot hold it, saying how much is free and how much it needs
# (pip's own "No space left on device" comes minutes in and names neither).
# Usage: scripts/disk-ensure.sh TARGET GIB [DIR]
set -uo pipefail
target=$1 need_gib=$2 dir=${3:-.}
read -r free_kib mount < <(df -Pk "$dir" | awk 'NR == 2 {print $4, $6}')
if [ -n "$free_kib" ] && [ "$free_kib" -lt $((need_gib * 1024 * 1024)) ]; then
  echo "make $target: needs about ${need_gib} GiB free on $mount and $((free_kib / 1024)) MiB are: free some space, then retry" >&2
  exit 1
fi
