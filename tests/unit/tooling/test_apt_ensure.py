"""scripts/apt-ensure.sh: what `make services` (and other install targets) do on a fresh machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "apt-ensure.sh"


def run(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT), *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_installed_packages_need_nothing() -> None:
    done = run("services", "bash", "coreutils")  # essential packages: always installed
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to act as another user")
def test_non_root_without_sudo_fails_at_once_with_the_command_to_run(tmp_path: Path) -> None:
    # `nobody` has no passwordless sudo: the script must not try apt-get, and must say what to run.
    done = run("services", "bash", "rankops-no-such-package", user="nobody")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "make services: needs the Debian packages rankops-no-such-package and this user cannot install them: "
        "run `sudo make services` (or `sudo apt-get install rankops-no-such-package`), then retry"
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="the install path runs as root")
def test_unreachable_package_index_fails_with_one_line(tmp_path: Path) -> None:
    # A stand-in apt-get that answers as Debian's does when no index lists the package.
    fake = tmp_path / "apt-get"
    fake.write_text('#!/bin/sh\n[ "$1" = update ] && exit 0\nfor last; do :; done\n'
                    'echo "E: Unable to locate package $last" >&2\nexit 100\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run([str(SCRIPT), "services", "rankops-no-such-package"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "make services: apt-get could not install rankops-no-such-package (E: Unable to locate package "
        "rankops-no-such-package): make a Debian package index reachable, run "
        "`apt-get install rankops-no-such-package`, then retry"
    )
