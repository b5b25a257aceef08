"""The two git-tracked texts promotion edits: the overlay pin (model.env) and the audit history (JSONL).

Pure string in, string out, so the rules (only MODEL_VERSION changes; history only grows)
are tested without git.
"""

from __future__ import annotations

import json
from typing import Any

PIN_KEY = "MODEL_VERSION"


class HistoryCorrupt(ValueError):
    """The history file cannot be parsed (the message names the line)."""


def read_pin(env_text: str | None) -> str | None:
    """MODEL_VERSION of a model.env text, None when absent."""
    for line in (env_text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == PIN_KEY:
            return value.strip() or None
    return None


def set_pin(env_text: str | None, version: str, model_name: str | None = None) -> str:
    """model.env with MODEL_VERSION=<version>; every other line kept as it was."""
    lines = (env_text or "").splitlines()
    out, seen_version, seen_name = [], False, False
    for line in lines:
        key = line.partition("=")[0].strip()
        if key == PIN_KEY:
            out.append(f"{PIN_KEY}={version}")
            seen_version = True
        else:
            seen_name = seen_name or key == "MODEL_NAME"
            out.append(line)
    if model_name and not seen_name:
        out.insert(0, f"MODEL_NAME={model_name}")
    if not seen_version:
        out.append(f"{PIN_KEY}={version}")
    return "\n".join(out) + "\n"


def parse_history(text: str | None, where: str = "history") -> list[dict[str, Any]]:
    """Entries of the JSONL history, oldest first."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise HistoryCorrupt(f"{where}:{number}: not JSON ({exc.msg})") from None
    return entries


def append_entry(text: str | None, entry: dict[str, Any]) -> str:
    """The history with `entry` appended (seq = previous + 1); earlier lines are never rewritten."""
    text = text or ""
    if text and not text.endswith("\n"):
        text += "\n"
    entries = parse_history(text)
    entry = {"seq": (entries[-1].get("seq", len(entries)) + 1) if entries else 1, **entry}
    return text + json.dumps(entry, sort_keys=True, default=str) + "\n"


def decided(entries: list[dict[str, Any]], request_id: str) -> dict[str, Any] | None:
    """The approve/reject entry of a request, if it was already decided."""
    for entry in entries:
        if entry.get("request_id") == request_id and entry.get("action") in ("approve", "reject"):
            return entry
    return None


def previous_champion(entries: list[dict[str, Any]], current: str | None) -> str | None:
    """The version that was champion before `current` (latest approve/rollback that installed it)."""
    for entry in reversed(entries):
        if entry.get("action") in ("approve", "rollback") and str(entry.get("to_version")) == str(current):
            return entry.get("from_version")
    return None
