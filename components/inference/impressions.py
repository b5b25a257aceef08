"""The impression log: one JSON line per /rerank response, a file per UTC day.

The field names are a contract (the ETL ingests these files as a bronze kind, clicks join back
by `request_id`), so the field lists are read from the contract (`components/common/contract.py`).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from components.common.contract import CLICK_RULES, IMPRESSION_RULES

IMPRESSION_FIELDS = tuple(rule.name for rule in IMPRESSION_RULES)  # the contract the ETL checks them against
CLICK_FIELDS = tuple(rule.name for rule in CLICK_RULES)


class ImpressionLog:
    """Appends impression lines to `<dir>/impressions-YYYY-MM-DD.jsonl` (and shadow scores beside them)."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, TextIO]] = {}

    def _handle(self, kind: str, day: str) -> TextIO:
        current = self._files.get(kind)
        if current and current[0] == day:
            return current[1]
        if current:
            current[1].close()
        self.dir.mkdir(parents=True, exist_ok=True)
        handle = (self.dir / f"{kind}-{day}.jsonl").open("a", encoding="utf-8")
        self._files[kind] = (day, handle)
        return handle

    def write(self, row: dict[str, Any], kind: str = "impressions") -> None:
        """Append one row (flushed, so a reader sees whole lines); the day comes from the row's `ts`."""
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            handle = self._handle(kind, row["ts"][:10])
            handle.write(line)
            handle.flush()

    def close(self) -> None:
        with self._lock:
            for _, handle in self._files.values():
                handle.close()
            self._files.clear()


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
