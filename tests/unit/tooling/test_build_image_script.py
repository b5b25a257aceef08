"""docker/build-image.sh's own logic, with stand-ins for buildah and podman (the real build is
tests/integration/containers: minutes, and only its first run on a machine has no cached layer)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "docker" / "build-image.sh"
IMAGE_ID = "0123456789ab" * 5 + "cdef"  # what the stand-in buildah builds
TAGS = ("localhost/rankops:test", "localhost/rankops:0.0.9", "localhost/rankops:1f2e3d4c")  # this build's, then older
OURS = {"org.opencontainers.image.source": "https://github.com/rankops/rankops"}
# podman's images before the build, {id: tags and labels}: "prev" holds the tag this build takes over; "mine" is
# an old image of the repository that someone also tagged under another name; "stage" the last image of an
# earlier build's other stage; "busy" one a container uses; the rest are other repositories' and other projects'
# (one untagged, one untagged with the same revision label)
STORE = {"prev": {"tags": [TAGS[0]], "labels": OURS}, "old09": {"tags": [TAGS[1]], "labels": OURS},
         "mine": {"tags": [TAGS[2], "localhost/keep:me"], "labels": OURS}, "stage": {"tags": [], "labels": OURS},
         "busy": {"tags": ["localhost/rankops:0.0.7"], "labels": OURS},
         "gpu": {"tags": ["localhost/rankops-gpu:test"], "labels": {}}, "dangling": {"tags": [], "labels": {}},
         "theirs": {"tags": [], "labels": {"org.opencontainers.image.revision": "unknown"}}}
STANDIN = Path(__file__).with_name("image_store_standin.py")


def stand_ins(bin_dir: Path, store: dict[str, dict] = STORE) -> Path:
    """buildah and podman over a store of images (image_store_standin.py); returns the file of their calls."""
    bin_dir.mkdir()
    (bin_dir / "store.json").write_text(json.dumps(store))
    for tool in ("buildah", "podman"):
        (bin_dir / tool).write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" {tool} "$@"\n')
        (bin_dir / tool).chmod(0o755)
    return bin_dir / "calls"


def stored(bin_dir: Path) -> dict[str, list[str]]:
    """{image id: tags} of the images left."""
    return {image: info["tags"] for image, info in json.loads((bin_dir / "store.json").read_text()).items()}


def build(tmp_path: Path, build_log: str = "COMMIT", checkout: Path | None = None,
          **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with the stand-ins. Without `checkout` it runs from this repository but outside git
    (GIT_DIR names no repository: no sha tag, whether this checkout is clean or not)."""
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "BASE_IMAGE": "localhost/base:test",
           "IMAGE": TAGS[0], "STANDIN_DIR": str(tmp_path / "bin"), "BUILT_ID": IMAGE_ID, "BUILD_LOG": build_log,
           **({} if checkout else {"GIT_DIR": str(tmp_path / "not-a-repository")}), **env}
    script = (checkout or REPO) / "docker" / "build-image.sh"
    return subprocess.run([str(script)], capture_output=True, text=True, env=env, cwd=checkout or REPO, timeout=60)


@pytest.mark.parametrize(("build_log", "cached"), [
    ("STEP 1/9: FROM base\nSTEP 2/9: RUN pip install torch\n--> 4f3a2b\nCOMMIT", 0),  # a machine's first build
    ("STEP 1/9: FROM base\n--> Using cache 4f3a2b\n--> Using cache 9e8d7c\nCOMMIT", 2),
])
def test_the_script_ends_with_the_image_id_with_or_without_cached_layers(tmp_path: Path, build_log: str,
                                                                         cached: int) -> None:
    calls = stand_ins(tmp_path / "bin")
    done = build(tmp_path, build_log)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"  layers from cache: {cached}"
    assert lines[1].startswith(f"built {TAGS[0]} in ")
    assert lines[-1] == IMAGE_ID
    buildah = [call for call in calls.read_text().splitlines() if call.startswith("buildah")]
    assert len(buildah) == 1 and buildah[0].startswith("buildah bud --layers ") and f"-t {TAGS[0]}" in buildah[0]
    assert "--build-arg BASE_IMAGE=localhost/base:test" in buildah[0]


def test_only_the_repository_images_no_tag_names_any_more_are_removed(tmp_path: Path) -> None:
    """The image the rebuilt tag named, the older tags' images and an earlier build's stage image go; one still
    tagged elsewhere, one a container uses, other repositories' images and other projects' untagged images stay
    (a plain `podman image prune` removed those)."""
    calls = stand_ins(tmp_path / "bin")
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path / "bin") == {"mine": ["localhost/keep:me"], "busy": ["localhost/rankops:0.0.7"],
                                        "gpu": ["localhost/rankops-gpu:test"], "dangling": [], "theirs": [],
                                        IMAGE_ID: [TAGS[0]]}
    assert f"--label org.opencontainers.image.source={OURS['org.opencontainers.image.source']}" in calls.read_text()


def test_a_first_build_has_nothing_to_remove(tmp_path: Path) -> None:
    stand_ins(tmp_path / "bin", {"dangling": {"tags": [], "labels": {}}})
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path / "bin") == {"dangling": [], IMAGE_ID: [TAGS[0]]}


def test_a_clean_checkout_is_also_tagged_by_its_commit_and_keeps_only_that_sha_tag(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for path in ("docker/build-image.sh", "components/common/image.py"):
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, checkout / path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(checkout)], check=True)
    subprocess.run([*git, "add", "."], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-qm", "image"], cwd=checkout, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    calls = stand_ins(tmp_path / "bin")
    done = build(tmp_path, checkout=checkout)
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path / "bin")[IMAGE_ID] == [TAGS[0], f"localhost/rankops:{sha}"]
    assert "old09" not in stored(tmp_path / "bin") and stored(tmp_path / "bin")["mine"] == ["localhost/keep:me"]
    assert f"--label org.opencontainers.image.revision={sha}" in calls.read_text()


def test_a_failed_clean_up_does_not_fail_the_build(tmp_path: Path) -> None:
    stand_ins(tmp_path / "bin")
    done = build(tmp_path, CLEANUP_FAILS="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == IMAGE_ID


def test_a_failed_build_shows_its_last_lines(tmp_path: Path) -> None:
    stand_ins(tmp_path / "bin")
    (tmp_path / "bin" / "buildah").write_text('#!/bin/sh\necho "STEP 3/9: RUN pip install"\n'
                                              'echo "error: no space left on device"\nexit 1\n')
    done = build(tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == ["error: no space left on device",
                                             "make images: buildah bud failed (last lines above)"]
