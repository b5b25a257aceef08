"""I/O of the backtest KFP components: the same functions `rankops backtest` calls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from components.common.kfp_step import kfp_step


@kfp_step
def run_plan_op(windows: int, horizon_days: float, training_set: str, env: str) -> list[dict[str, Any]]:
    from components.backtest.run import plan
    from components.common.config import load_settings

    planned = plan(load_settings(env), windows, horizon_days or None, training_set or None)
    return [{**w, "training_set": planned["training_set"]} for w in planned["windows"]]


@kfp_step
def run_origin_op(windows: list[dict[str, Any]], params_json: str, env: str) -> list[dict[str, Any]]:
    from components.backtest.run import train_origin
    from components.backtest.windows import Window
    from components.common.config import load_settings

    params = json.loads(params_json) if params_json else None
    uri = train_origin(load_settings(env), windows[0]["training_set"], Window.from_dict(windows[0]), params)
    return [{**w, "origin_uri": uri} for w in windows]


@kfp_step
def run_window_op(window: dict[str, Any], params_json: str, env: str) -> str:
    from components.backtest.run import run_window
    from components.backtest.windows import Window
    from components.common.config import load_settings
    from components.evaluation.run import finite

    params = json.loads(params_json) if params_json else None
    row = run_window(load_settings(env), window["training_set"], Window.from_dict(window), params,
                     window.get("origin_uri") or None)
    return json.dumps(finite(row), sort_keys=True, allow_nan=False)


@kfp_step
def run_summary_op(rows: list[str | dict[str, Any]], report, html_report, env: str) -> dict[str, Any]:
    from components.backtest.run import summarize
    from components.common.config import load_settings
    from components.evaluation.run import finite

    rows = [json.loads(r) if isinstance(r, str) else r for r in rows]
    out = Path(report.path).parent / "backtest"
    result = summarize(load_settings(env), rows[0]["training_set"], rows, out)
    shutil.copyfile(out / "backtest.md", report.path)
    shutil.copyfile(out / "backtest.html", html_report.path)
    return {k: v for k, v in finite(result["stability"]).items() if v is not None}  # KFP dicts hold no nulls
