"""A tiny hand-written interleaving log and its real report (`run_report`), for the online-evidence tests.

12 impressions, one click each on position 1 or 2, so the challenger or the champion wins 12-0: a two-sided
sign test gives p = 2 * 0.5**12.
"""

from __future__ import annotations

import json
from pathlib import Path

from components.experiments.report import run_report

P_12_0 = 2 * 0.5 ** 12


def write_log(folder: Path, *, champion: str, challenger: str, clicked_team: str, name: str = "exp") -> Path:
    """12 interleaved impressions of experiment `name`; every click lands on `clicked_team`'s video."""
    folder.mkdir(parents=True, exist_ok=True)
    imps, clicks = [], []
    for i in range(12):
        rid = f"{name}-r{i}"
        imps.append({"request_id": rid, "ts": f"2026-11-30T10:00:{i:02d}.000Z", "session_id": f"s{i}",
                     "query_id": None, "query": "lofi", "experiment": name, "mode": "interleave", "arm": None,
                     "champion_version": champion, "challenger_version": challenger, "video_ids": ["a", "b"],
                     "teams": ["challenger", "champion"], "latency_ms": 3.0, "fallback": False,
                     "fallback_reason": None})
        position = 1 if clicked_team == "challenger" else 2
        clicks.append({"request_id": rid, "video_id": "ab"[position - 1], "position": position,
                       "ts": f"2026-11-30T10:01:{i:02d}.000Z"})
    (folder / "impressions-20261130T100000000000Z.jsonl").write_text("".join(json.dumps(r) + "\n" for r in imps))
    (folder / "clicks-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clicks))
    return folder


def report_of(tmp_path: Path, out: Path, *, registry: str | None = None, **log) -> dict:
    """The report `rankops experiment report` writes into `out` for a log made by `write_log(**log)`."""
    name = log.pop("name", "exp")
    logs = write_log(tmp_path / f"logs-{out.name}", name=name, **log)
    return run_report(name, out, logs, registry=registry)
