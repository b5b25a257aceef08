"""Stand-ins for buildah and podman over a JSON image store {image id: [tags]} (build-image.sh's tests).

Run as `image_store_standin.py buildah|podman ARGS` from a wrapper named after the tool. Each call is appended to `calls` beside the store
(both in STANDIN_DIR).
buildah accepts only `bud`: it prints BUILD_LOG and gives BUILT_ID the `-t` tags, taking them from any
other image. podman behaves as podman does where the script relies on it: `rmi TAG` untags and the image
goes with its last tag; `rmi ID` is refused while several tags name the image, and for an image a container
uses (the id "busy"). Any other command is refused; with CLEANUP_FAILS, `images` and `rmi` fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def find(store: dict[str, list[str]], ref: str) -> str | None:
    return ref if ref in store else next((image for image, tags in store.items() if ref in tags), None)


def buildah(store: dict[str, list[str]], args: list[str]) -> None:
    if args[0] != "bud":
        sys.exit(f"unknown command {args[0]}")
    tags = [args[i + 1] for i, arg in enumerate(args) if arg == "-t"]
    for image_tags in store.values():
        image_tags[:] = [t for t in image_tags if t not in tags]
    store[os.environ["BUILT_ID"]] = tags
    print(os.environ["BUILD_LOG"])


def podman(store: dict[str, list[str]], args: list[str]) -> None:
    if args[:3] == ["image", "inspect", "--format"] and len(args) == 5:
        image = find(store, args[4])
        if image is None:
            sys.exit(f"Error: {args[4]}: image not known")
        print({"{{.Id}}": image, '{{join .RepoTags " "}}': " ".join(store[image])}[args[3]])
    elif args[:4] == ["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter"] and len(args) == 5:
        prefix = args[4].removeprefix("reference=")  # podman's filter matches by prefix too
        for tags in store.values():
            print("\n".join(t for t in tags if t.startswith(prefix)) or f"{prefix}:<none>")
    elif os.environ.get("CLEANUP_FAILS") and args[0] in ("images", "rmi"):
        sys.exit(125)
    elif args[0] == "rmi" and len(args) == 2:
        image = find(store, args[1])
        if image is None or image == "busy":
            sys.exit(2)
        if args[1] == image and len(store[image]) > 1:
            sys.exit("Error: unable to delete image by ID with more than one tag")
        if args[1] in store[image]:
            store[image].remove(args[1])
        if args[1] == image or not store[image]:
            del store[image]
    else:
        sys.exit("unknown command " + " ".join(args))


def main() -> None:
    tool, args = sys.argv[1], sys.argv[2:]
    here = Path(os.environ["STANDIN_DIR"])
    with (here / "calls").open("a") as calls:
        calls.write(" ".join([tool, *args]) + "\n")
    store = json.loads((here / "store.json").read_text())
    {"buildah": buildah, "podman": podman}[tool](store, args)
    (here / "store.json").write_text(json.dumps(store))


if __name__ == "__main__":
    main()
