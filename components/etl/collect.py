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

from components.inference.impressions import FRAGMENT_SUFFIX, OPEN_SUFFIX, seal

KIND = "impressions"
SHADOW = "shadow"  # the challenger's scores of a shadow experiment (components/inference/server.py)


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


def seal_stale(spool: Path, folder: Path, kind: str, *, stale_s: float, now: float, result: dict[str, Any]) -> int:
    """Close `folder`'s open `kind` files untouched for `stale_s` (their replica died); return how many are live."""
    live = 0
    for open_file in sorted(folder.glob(f"{kind}-*.jsonl{OPEN_SUFFIX}")):
        if now - open_file.stat().st_mtime < stale_s:
            live += 1
            continue
        closed = seal(open_file)
        result["sealed"].append(str(open_file.relative_to(spool)))
        fragment = closed.with_name(closed.name + FRAGMENT_SUFFIX)
        if fragment.exists():
            result["fragments"].append(str(fragment.relative_to(spool)))
    return live


def prune_shadow(spool: Path, folder: Path, *, keep_s: float, now: float) -> list[str]:
    """Delete closed shadow-score files (and their fragments) last written more than `keep_s` ago: the
    experiment report reads them where the ranker wrote them, nothing ingests them, so they would pile up."""
    pruned = []
    for old in sorted(folder.glob(f"{SHADOW}-*.jsonl")) + sorted(folder.glob(f"{SHADOW}-*.jsonl{FRAGMENT_SUFFIX}")):
        if now - old.stat().st_mtime > keep_s:
            old.unlink()
            pruned.append(str(old.relative_to(spool)))
    return pruned


def collect_impressions(spool: str | Path, landing: str | Path, *, stale_s: float, batch: str | None = None,
                        shadow_keep_s: float | None = None, now: float | None = None) -> dict[str, Any]:
    """Move every closed impression file of `spool` into `<landing>/<batch>/impressions/`; with
    `shadow_keep_s`, also close a dead replica's shadow file and delete shadow files older than that.

    `batch` defaults to ``ranker-<UTC date>``. Returns what moved (landing-relative paths and their
    line count), which stale files were closed, how many open impression files were left to their
    writers, and which shadow files were deleted.
    """
    spool, landing = Path(spool), Path(landing)
    now = time.time() if now is None else now
    batch = batch or f"ranker-{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"
    result: dict[str, Any] = {"spool": str(spool), "landing": str(landing), "batch": batch, "moved": [],
                              "already_landed": [], "sealed": [], "fragments": [], "open": 0, "lines": 0,
                              "pruned_shadow": []}
    if not spool.is_dir():
        return result
    target = landing / batch / KIND
    for replica, folder in replica_dirs(spool):
        result["open"] += seal_stale(spool, folder, KIND, stale_s=stale_s, now=now, result=result)
        if shadow_keep_s is not None:
            seal_stale(spool, folder, SHADOW, stale_s=stale_s, now=now, result=result)
            result["pruned_shadow"] += prune_shadow(spool, folder, keep_s=shadow_keep_s, now=now)
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
