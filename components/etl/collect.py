"""Collect the ranker's closed impression files into the ETL's landing folder, each exactly once.

The spool is `serving.impression_log_dir` as the ETL sees it on the lakehouse volume: in the
cluster one sub-folder per ranker replica (its pod name), locally the files may sit in the spool
itself. Only closed files (``impressions-*.jsonl``; the open one is ``….jsonl.open``) move, to
``<landing>/<batch>/impressions/impressions-<replica>--<opened>.jsonl``, so the next ETL run ingests
them as the ``impressions`` kind (and `rankops experiment report --impressions` can read that folder). A move is a hard link then an unlink (a copy through a hidden temp file across
file systems): a crash in between leaves the same bytes in both places, and the next run just drops
the spool's copy. An ``.open`` file untouched for `stale_s` (its replica died) is closed first; a half
line at its end goes to ``….fragment`` in the spool and is never ingested.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.inference.impressions import OPEN_SUFFIX, seal

KIND = "impressions"


class CollectError(RuntimeError):
    """A landing file with the same name but other content: nothing is overwritten."""


def replica_dirs(spool: Path) -> list[tuple[str, Path]]:
    """(replica name, folder): the spool itself ("") and each visible sub-folder."""
    subs = sorted(p for p in spool.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return [("", spool), *((p.name, p) for p in subs)]


def move_once(src: Path, dest: Path) -> bool:
    """Move `src` to `dest` without ever overwriting; True when moved, False when `dest` already held it."""
    if dest.exists():
        if not filecmp.cmp(src, dest, shallow=False):
            raise CollectError(f"{dest} exists with other content than {src}; move one of them away and rerun")
        src.unlink()
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        tmp = dest.with_name(f".{dest.name}.part")  # hidden: the ETL's landing scan skips dot files
        shutil.copyfile(src, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    src.unlink()
    return True


def collect_impressions(spool: str | Path, landing: str | Path, *, stale_s: float, batch: str | None = None,
                        now: float | None = None) -> dict[str, Any]:
    """Move every closed impression file of `spool` into `<landing>/<batch>/impressions/`.

    `batch` defaults to ``ranker-<UTC date>``. Returns what moved (landing-relative paths and their
    line count), which stale files were closed, and how many open files were left to their writers.
    """
    spool, landing = Path(spool), Path(landing)
    now = time.time() if now is None else now
    batch = batch or f"ranker-{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"
    result: dict[str, Any] = {"spool": str(spool), "landing": str(landing), "batch": batch, "moved": [],
                              "already_landed": [], "sealed": [], "fragments": [], "open": 0, "lines": 0}
    if not spool.is_dir():
        return result
    target = landing / batch / KIND
    for replica, folder in replica_dirs(spool):
        for open_file in sorted(folder.glob(f"{KIND}-*.jsonl{OPEN_SUFFIX}")):
            if now - open_file.stat().st_mtime < stale_s:
                result["open"] += 1
                continue
            closed = seal(open_file)
            result["sealed"].append(str(open_file.relative_to(spool)))
            fragment = closed.with_name(closed.name + ".fragment")
            if fragment.exists():
                result["fragments"].append(str(fragment.relative_to(spool)))
        for src in sorted(folder.glob(f"{KIND}-*.jsonl")):
            dest = target / (src.name.replace(f"{KIND}-", f"{KIND}-{replica}--", 1) if replica else src.name)
            with src.open("rb") as fh:
                lines = sum(1 for _ in fh)
            rel = str(dest.relative_to(landing))
            if move_once(src, dest):
                result["moved"].append(rel)
                result["lines"] += lines
            else:
                result["already_landed"].append(rel)
    return result
