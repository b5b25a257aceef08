"""The impression log: one JSON line per /rerank response, in rotated files.

The field names are a contract (the ETL ingests these files as a bronze kind, clicks join back
by `request_id`), so the field lists are read from the contract (`components/common/contract.py`).

A file is appended to as ``<kind>-<opened UTC>.jsonl.open`` and closed by renaming it to
``<kind>-<opened UTC>.jsonl`` once it is `rotate_s` old or `rotate_bytes` big, and at shutdown; the
leftovers of a killed process are closed at the next start (or by the collector) once untouched for
`stale_s`. So a reader that takes only ``*.jsonl`` files (the collector, `components/etl/collect.py`)
never sees a file that is still growing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from components.common.contract import CLICK_RULES, IMPRESSION_RULES

IMPRESSION_FIELDS = tuple(rule.name for rule in IMPRESSION_RULES)  # the contract the ETL checks them against
CLICK_FIELDS = tuple(rule.name for rule in CLICK_RULES)
OPEN_SUFFIX = ".open"
FRAGMENT_SUFFIX = ".fragment"


def impression_spool(settings: Any) -> Path:
    """The folder the ranker logs into, as the ETL and the report see it (the setting's default when
    the ranker's log is switched off, so collecting and reporting still know where to look)."""
    return Path(settings.resolve(settings.serving.impression_log_dir or "serving/impressions"))


def seal(path: Path) -> Path:
    """Close an `.open` file: rename it to its `.jsonl` name. A last line without its newline (a
    process killed mid-write) is cut off into `<name>.fragment` beside it, kept for people, never ingested."""
    closed = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    with path.open("rb+") as fh:
        data_end = fh.seek(0, os.SEEK_END)
        tail_start = data_end
        while tail_start > 0:
            step = min(tail_start, 1 << 16)
            fh.seek(tail_start - step)
            block = fh.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                tail_start = tail_start - step + cut + 1
                break
            tail_start -= step
        if tail_start < data_end:
            fh.seek(tail_start)
            closed.with_name(closed.name + FRAGMENT_SUFFIX).write_bytes(fh.read())
            fh.truncate(tail_start)
        fh.flush()
        os.fsync(fh.fileno())
    if tail_start == 0:  # nothing whole in it: no empty .jsonl (the ETL lists empty files as a problem)
        path.unlink()
        return closed
    os.replace(path, closed)
    return closed


class ImpressionLog:
    """Appends impression lines (and shadow scores, `kind="shadow"`) to rotated files in one directory.

    One writer per directory: in the cluster every replica gets its own (a `subPathExpr` on its pod name).
    """

    def __init__(self, directory: str | Path, *, rotate_s: float = 300.0, rotate_bytes: int = 64 << 20,
                 stale_s: float = 3600.0, clock=time.time):
        self.dir = Path(directory)
        self.rotate_s, self.rotate_bytes, self.stale_s, self._clock = rotate_s, rotate_bytes, stale_s, clock
        self._lock = threading.Lock()
        self._files: dict[str, tuple[Path, float, TextIO]] = {}  # kind -> (open path, opened at, handle)
        self._started = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _start(self) -> None:
        """Seal what a killed process of this directory left open, once untouched for `stale_s` (a younger
        `.open` file may belong to a live process sharing the folder, e.g. two local servers)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in sorted(self.dir.glob(f"*.jsonl{OPEN_SUFFIX}")):
            if self._clock() - leftover.stat().st_mtime >= self.stale_s:
                seal(leftover)
        self._started = True

    def _open(self, kind: str) -> TextIO:
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path, n = self.dir / f"{kind}-{stamp}.jsonl{OPEN_SUFFIX}", 1
        while path.exists() or path.with_name(path.name.removesuffix(OPEN_SUFFIX)).exists():
            path, n = self.dir / f"{kind}-{stamp}-{n}.jsonl{OPEN_SUFFIX}", n + 1
        handle = path.open("a", encoding="utf-8")
        self._files[kind] = (path, now, handle)
        return handle

    def _close(self, kind: str) -> Path:
        path, _, handle = self._files.pop(kind)
        handle.close()
        if not path.exists():  # the collector sealed it as stale (a long-stalled process): nothing left to do
            return path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        return seal(path)

    def _due(self, kind: str) -> bool:
        path, opened, handle = self._files[kind]
        return self._clock() - opened >= self.rotate_s or handle.tell() >= self.rotate_bytes

    def write(self, row: dict[str, Any], kind: str = "impressions") -> None:
        """Append one row (flushed, so a crash loses at most the line being written)."""
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if not self._started:
                self._start()
            if kind in self._files and self._due(kind):
                self._close(kind)
            handle = self._files[kind][2] if kind in self._files else self._open(kind)
            handle.write(line)
            handle.flush()

    def rotate_due(self) -> list[Path]:
        """Close every file that is old or big enough (also when no request comes); the closed paths."""
        with self._lock:
            return [self._close(kind) for kind in list(self._files) if self._due(kind)]

    def start_rotation(self, tick_s: float | None = None) -> None:
        """A daemon thread that runs `rotate_due` every `tick_s` (default: rotate_s / 10, 1..30 s)."""
        tick = tick_s if tick_s is not None else min(max(self.rotate_s / 10, 1.0), 30.0)

        def loop() -> None:
            while not self._stop.wait(tick):
                try:
                    self.rotate_due()
                except OSError:  # a full or vanished volume: the next write reports it
                    pass

        self._ticker = threading.Thread(target=loop, name="impression-rotation", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        """Stop the rotation thread and close (seal) every open file."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self._lock:
            for kind in list(self._files):
                self._close(kind)


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
