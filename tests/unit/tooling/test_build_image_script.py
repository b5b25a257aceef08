"""docker/build-image.sh's own logic, with stand-ins for buildah and podman (the real build is
tests/integration/containers: minutes, and only its first run on a machine has no cached layer)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "docker" / "build-image.sh"
IMAGE_ID = "0123456789ab" * 5 + "cdef"
TAGS = ("localhost/rankops:test", "localhost/rankops:0.0.9", "localhost/rankops:1f2e3d4c")  # this build's, then older
OTHERS = ("localhost/rankops-gpu:test", "localhost/rankops:<none>")  # what podman's reference filter also lists


def stand_ins(bin_dir: Path, build_log: str) -> Path:
    """buildah that accepts only `bud` and prints `build_log`; podman that knows the TAGS of one
    repository and refuses any other command. Each records its arguments."""
    bin_dir.mkdir()
    calls = bin_dir / "calls"
    (bin_dir / "buildah").write_text(
        f'#!/bin/sh\necho "buildah $*" >> {calls}\n[ "$1" = bud ] || {{ echo "unknown command $1" >&2; exit 125; }}\n'
        f"cat <<'LOG'\n{build_log}\nLOG\n")
    (bin_dir / "podman").write_text(f"""#!/bin/sh
echo "podman $*" >> {calls}
case "$1 $2" in
  "image inspect") echo {IMAGE_ID} ;;
  "image prune") [ "$3" = -f ] || exit 125 ;;
  "images --format") [ "$4 $5" = "--filter reference=localhost/rankops" ] || exit 125; printf '%s\\n' {' '.join(f"'{t}'" for t in TAGS + OTHERS)} ;;
  rmi*) [ $# -eq 2 ] || exit 125 ;;
  *) echo "unknown command $*" >&2; exit 125 ;;
esac
""")
    for tool in ("buildah", "podman"):
        (bin_dir / tool).chmod(0o755)
    return calls


def build(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "BASE_IMAGE": "localhost/base:test",
           "IMAGE": TAGS[0], **env}
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)


@pytest.mark.parametrize(("build_log", "cached"), [
    ("STEP 1/9: FROM base\nSTEP 2/9: RUN pip install torch\n--> 4f3a2b\nCOMMIT", 0),  # a machine's first build
    ("STEP 1/9: FROM base\n--> Using cache 4f3a2b\n--> Using cache 9e8d7c\nCOMMIT", 2),
])
def test_the_script_ends_with_the_image_id_with_or_without_cached_layers(tmp_path: Path, build_log: str,
                                                                         cached: int) -> None:
    calls = stand_ins(tmp_path / "bin", build_log)
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"  layers from cache: {cached}"
    assert lines[1].startswith(f"built {TAGS[0]} in ")
    assert lines[-1] == IMAGE_ID
    buildah, *podman = calls.read_text().splitlines()
    assert buildah.startswith("buildah bud --layers ") and f"-t {TAGS[0]}" in buildah
    assert "--build-arg BASE_IMAGE=localhost/base:test" in buildah
    # the older tags of the repository are dropped, this build's kept, then unused images pruned
    assert podman == ["podman images --format {{.Repository}}:{{.Tag}} --filter reference=localhost/rankops",
                      f"podman rmi {TAGS[1]}", f"podman rmi {TAGS[2]}", "podman image prune -f",
                      f"podman image inspect --format {{{{.Id}}}} {TAGS[0]}"]


def test_a_failed_clean_up_does_not_fail_the_build(tmp_path: Path) -> None:
    stand_ins(tmp_path / "bin", "COMMIT")
    podman = tmp_path / "bin" / "podman"
    podman.write_text(podman.read_text().replace("  rmi*) [ $# -eq 2 ] || exit 125 ;;", "  rmi*) exit 2 ;;")
                      .replace('[ "$3" = -f ] || exit 125', "exit 125"))
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == IMAGE_ID


def test_a_failed_build_shows_its_last_lines(tmp_path: Path) -> None:
    stand_ins(tmp_path / "bin", "")
    (tmp_path / "bin" / "buildah").write_text('#!/bin/sh\necho "STEP 3/9: RUN pip install"\n'
                                              'echo "error: no space left on device"\nexit 1\n')
    done = build(tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == ["error: no space left on device",
                                             "make images: buildah bud failed (last lines above)"]
