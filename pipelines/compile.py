"""Deterministic compilation of every pipeline to `pipelines/compiled/<name>.yaml`.

The committed specs reference the release image tag (`components/common/image.py`), so the
same source always compiles to the same bytes; a submission re-points them at one build, by
git-sha tag (`retag_spec`) or by digest (`repoint_spec`, what staging and prod require).

    python -m pipelines.compile            # or: rankops pipeline compile
    python -m pipelines.compile --check    # exit 1 when a committed spec is stale
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from pathlib import Path

from pipelines.catalogue import compiled_path, load_pipeline, pipeline_names

REGENERATE = "rankops pipeline compile   (or: make compile)"
# Our two images by tag or by digest (a spec re-pointed once can be re-pointed again).
IMAGE_RE = re.compile(r"(ghcr\.io/rankops/rankops(?:-gpu)?)(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?(?:@sha256:[0-9a-f]{64})?"
                      r"(?![A-Za-z0-9_.@/-])")
# An image reference: [registry/]repository, then :tag and/or @sha256:<64 hex>.
IMAGE_REF_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
                          r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
DIGEST_REF_RE = re.compile(r".+@sha256:[0-9a-f]{64}")
# Lines that legitimately differ between kfp patch releases (never part of a staleness verdict).
VOLATILE_RE = re.compile(r"^\s*sdkVersion: .*$|kfp==[0-9.]+", re.M)


class StaleSpecError(RuntimeError):
    """A committed spec differs from what its source compiles to."""


def _check_image_env() -> None:
    for var in ("RANKOPS_IMAGE", "RANKOPS_GPU_IMAGE"):
        if os.environ.get(var):
            raise RuntimeError(
                f"{var} is set: committed specs must reference the release tag; unset it and use "
                "`rankops pipeline submit --image-tag TAG` to point a submission at another build")


def compile_pipeline(name: str, out_dir: Path | None = None) -> Path:
    """Compile pipeline `name` to `<out_dir>/<name>.yaml` (default: where its spec is committed)."""
    from kfp import compiler

    _check_image_env()
    out = compiled_path(name, out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=load_pipeline(name), package_path=str(out))
    return out


def compile_all(out_dir: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Compile the given pipelines (default: every available one)."""
    return [compile_pipeline(name, out_dir) for name in (names or pipeline_names())]


def normalise(text: str) -> str:
    """The spec without the lines that change with the kfp patch version."""
    return VOLATILE_RE.sub("", text)


def stale_specs(names: list[str] | None = None, directory: Path | None = None) -> dict[str, str]:
    """name -> unified diff for every committed spec that differs from a fresh compile."""
    stale: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or pipeline_names():
            fresh = compile_pipeline(name, Path(tmp)).read_text()
            committed_file = compiled_path(name, directory)
            committed = committed_file.read_text() if committed_file.exists() else ""
            if normalise(fresh) != normalise(committed):
                diff = difflib.unified_diff(committed.splitlines(), fresh.splitlines(),
                                            f"{committed_file} (committed)", f"{name} (fresh compile)", lineterm="")
                stale[name] = "\n".join(list(diff)[:80])
    return stale


def retag_spec(text: str, tag: str) -> str:
    """The spec with every rankops image (CPU and GPU) pointed at `tag`, e.g. a git sha."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        raise ValueError(f"invalid image tag {tag!r}")
    return IMAGE_RE.sub(lambda m: f"{m.group(1)}:{tag}", text)


def is_digest_ref(ref: str) -> bool:
    """True for `repository@sha256:<64 hex>` (optionally with a tag before the digest)."""
    return bool(DIGEST_REF_RE.fullmatch(ref)) and bool(IMAGE_REF_RE.fullmatch(ref))


def repoint_spec(text: str, image: str, gpu_image: str) -> str:
    """The spec with the CPU image pointed at `image` and the GPU image at `gpu_image` (full references)."""
    for ref in (image, gpu_image):
        if not IMAGE_REF_RE.fullmatch(ref):
            raise ValueError(f"invalid image reference {ref!r}: expected REPOSITORY[:TAG][@sha256:DIGEST]")
    return IMAGE_RE.sub(lambda m: gpu_image if m.group(1).endswith("-gpu") else image, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="pipelines to compile (default: all)")
    parser.add_argument("--check", action="store_true", help="fail when a committed spec is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_specs(args.names or None)
        for name, diff in stale.items():
            print(f"{name}: stale\n{diff}", file=sys.stderr)
        if stale:
            print(f"regenerate with: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    for path in compile_all(names=args.names or None):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
