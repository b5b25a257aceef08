#!/usr/bin/env python3
"""Gate of a promotion pull request: in the prod overlay, only model.env may change.

    check_prod_change.py <base ref>      # e.g. origin/main; run at the pull request's head

Fails (exit 1, one line per problem) when the branch changes any file of manifests/overlays/prod/
other than model.env, or when model.env is not exactly `MODEL_NAME=rankops-ranker` and
`MODEL_VERSION=<n>`. Image pins of prod come from the release workflow in their own pull
requests, which do not touch model.env. Stdlib and git only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

OVERLAY = "manifests/overlays/prod"
PIN = f"{OVERLAY}/model.env"
PIN_RE = re.compile(r"MODEL_NAME=rankops-ranker\nMODEL_VERSION=[1-9][0-9]*\n")


def problems(base: str, repo: Path = Path(".")) -> list[str]:
    """What makes the change from `base` to HEAD not a pure promotion; [] when it is one."""
    diff = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", f"{base}...HEAD", "--", OVERLAY],
                          capture_output=True, text=True, check=True).stdout.split()
    out = [f"{path}: a promotion changes only {PIN}; put other prod overlay changes in their own pull request"
           for path in diff if path != PIN]
    if PIN not in diff:
        out.append(f"{PIN}: not changed, so this is no promotion")
    pin = repo / PIN
    text = pin.read_text() if pin.exists() else ""
    if not PIN_RE.fullmatch(text):
        out.append(f"{PIN}: must be exactly MODEL_NAME=rankops-ranker and MODEL_VERSION=<n> (two lines), got {text!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: check_prod_change.py <base ref>", file=sys.stderr)
        return 2
    found = problems(args[0])
    for line in found:
        print(f"::error::{line}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
