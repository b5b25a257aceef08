"""scripts/disk-ensure.sh: `make install` stops at once, saying why, when the disk cannot hold the venv."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "disk-ensure.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_enough_space_says_nothing(tmp_path: Path) -> None:
    done = run("install", "0", str(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_too_little_space_fails_with_what_is_free(tmp_path: Path) -> None:
    done = run("install", "1000000", str(tmp_path))  # a million GiB: no disk here has it
    assert done.returncode == 1
    match = re.fullmatch(r"make install: needs about 1000000 GiB free on (\S+) and (\d+) MiB are: "
                         r"free some space, then retry\n", done.stderr)
    assert match, done.stderr
    fs = os.statvfs(tmp_path)
    free_mib = fs.f_bavail * fs.f_frsize // 2**20  # what df calls available
    assert abs(int(match[2]) - free_mib) <= 64  # other writers may move it a little between the two reads
    assert Path(tmp_path).resolve().is_relative_to(match[1])
