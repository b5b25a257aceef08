"""The I/O side of the promotion KFP component."""

from __future__ import annotations

import json


def run_promotion_request_op(version: str, decision, *, env: str = "local", requested_by: str = "pipeline") -> str:
    from components.common.config import load_settings
    from components.promotion.request import request_promotion

    with open(decision.path, encoding="utf-8") as fh:
        loaded = json.load(fh)
    return request_promotion(load_settings(env), version, decision=loaded, by=requested_by)["request_id"]
