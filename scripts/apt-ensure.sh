#!/usr/bin/env bash
# Install the Debian packages a make target needs, once; say in one line what to run when we cannot.
# Usage: scripts/apt-ensure.sh TARGET PACKAGE...
set -uo pipefail
target=$1; shift
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "make $target: needs the Debian packages ${missing[*]} and this user cannot install them: run \`sudo make $target\` (or \`sudo apt-get install ${missing[*]}\`), then retry" >&2
  exit 1
fi
echo "make $target: installing ${missing[*]} (apt-get)" >&2
log=$(mktemp)
if ! { "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "make $target: apt-get could not install ${missing[*]} ($(grep -m1 -E '^(E|W):' "$log" || tail -n1 "$log")): make a Debian package index reachable, run \`apt-get install ${missing[*]}\`, then retry" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
