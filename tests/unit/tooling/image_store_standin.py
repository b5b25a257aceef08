"""Stand-ins for buildah and podman over a JSON image store (build-image.sh's tests).

The store is {image id: {"tags": [...], "labels": {...}}}. Run as `image_store_standin.py buildah|podman ARGS`
from a wrapper named after the tool; each call is appended to `calls` beside the store (both in STANDIN_DIR).
buildah accepts only `bud`: it prints BUILD_LOG and gives BUILT_ID its `-t` tags (taken from any other image)
and `--label`s. podman behaves as podman does where the script relies on it: `rmi TAG` untags, and the image
goes with its last tag; `image prune -f --filter label=K=V` removes the untagged images with that label; an
image a container uses (the id "busy") is neither removed nor untagged. Any other command is refused; with
CLEANUP_FAILS, `images`, `rmi` and `image prune` fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

Store = dict[str, dict]


def buildah(store: Store, args: list[str]) -> None:
    if args[0] != "bud":
        sys.exit(f"unknown command {args[0]}")
    tags = [args[i + 1] for i, arg in enumerate(args) if arg == "-t"]
    labels = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--label")
    for image in store.values():
        image["tags"] = [t for t in image["tags"] if t not in tags]
    store[os.environ["BUILT_ID"]] = {"tags": tags, "labels": labels}
    print(os.environ["BUILD_LOG"])


def podman(store: Store, args: list[str]) -> None:
    if os.environ.get("CLEANUP_FAILS") and args[0] in ("images", "rmi", "image") and args[:2] != ["image", "inspect"]:
        sys.exit(125)
    if args[:3] == ["image", "inspect", "--format"] and args[3] == "{{.Id}}" and len(args) == 5:
        found = [image for image, info in store.items() if args[4] in info["tags"]]
        if not found:
            sys.exit(f"Error: {args[4]}: image not known")
        print(found[0])
    elif args[:4] == ["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter"] and len(args) == 5:
        prefix = args[4].removeprefix("reference=")  # podman's filter matches by prefix too
        for info in store.values():
            print("\n".join(t for t in info["tags"] if t.startswith(prefix)) or f"{prefix}:<none>")
    elif args[:4] == ["image", "prune", "-f", "--filter"] and args[4].startswith("label=") and len(args) == 5:
        key, value = args[4].removeprefix("label=").split("=", 1)
        for image in [i for i, info in store.items() if not info["tags"] and info["labels"].get(key) == value]:
            if image != "busy":
                del store[image]
    elif args[0] == "rmi" and len(args) == 2:
        found = [image for image, info in store.items() if args[1] in info["tags"]]
        if not found or found[0] == "busy":
            sys.exit(2)
        store[found[0]]["tags"].remove(args[1])
        if not store[found[0]]["tags"]:
            del store[found[0]]
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
