"""The `--summary PATH` contract: every producing command writes what it produced as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_summary(path: str | Path | None, summary: dict[str, Any]) -> None:
    """Write `summary` as JSON to `path` (parents created); no-op when path is None."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
