#!/usr/bin/env python3
"""Pin an environment's overlay to one build of the images, by digest.

    pin_images.py manifests/overlays/staging --tag <git sha> \
        --image-digest sha256:<64 hex> --gpu-image-digest sha256:<64 hex>

Rewrites, in the overlay's kustomization.yaml, the `images:` entry of ghcr.io/rankops/rankops
(newTag + digest: what every pod runs) and the RANKOPS_KFP__IMAGE / RANKOPS_KFP__GPU_IMAGE
literals (what pipeline submissions to that environment run on), so the two cannot drift apart.
Edits the lines in place (comments kept); stdlib only, so it runs on a bare CI runner.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = "ghcr.io/rankops/rankops"
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
IMAGE_ENTRY_RE = re.compile(rf'(  - name: {re.escape(REPO)}\n    newTag: )"[^"\n]*"(\n    digest: )sha256:[0-9a-f]{{64}}')


def pin(text: str, tag: str, digest: str, gpu_digest: str) -> str:
    """`text` (a kustomization.yaml) with the rankops images pinned to `tag`@`digest`."""
    for value, what in ((digest, "--image-digest"), (gpu_digest, "--gpu-image-digest")):
        if not DIGEST_RE.fullmatch(value):
            raise ValueError(f"{what} {value!r}: expected sha256:<64 hex>")
    if not TAG_RE.fullmatch(tag):
        raise ValueError(f"--tag {tag!r}: not a valid image tag")
    text, entries = IMAGE_ENTRY_RE.subn(lambda m: f'{m.group(1)}"{tag}"{m.group(2)}{digest}', text)
    replacements = {"RANKOPS_KFP__IMAGE": f"{REPO}:{tag}@{digest}",
                    "RANKOPS_KFP__GPU_IMAGE": f"{REPO}-gpu:{tag}@{gpu_digest}"}
    counts = {}
    for key, ref in replacements.items():
        text, counts[key] = re.subn(rf"(\n\s+- {key}=)\S+", lambda m, ref=ref: m.group(1) + ref, text)
    missing = [k for k, n in {"images: " + REPO: entries, **counts}.items() if n != 1]
    if missing:
        raise ValueError(f"expected exactly one of each, not found or repeated: {', '.join(missing)}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overlay", type=Path)
    parser.add_argument("--tag", required=True, help="the git sha the images were built from")
    parser.add_argument("--image-digest", required=True)
    parser.add_argument("--gpu-image-digest", required=True)
    args = parser.parse_args(argv)
    path = args.overlay / "kustomization.yaml"
    try:
        path.write_text(pin(path.read_text(), args.tag, args.image_digest, args.gpu_image_digest))
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {REPO}:{args.tag}@{args.image_digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
