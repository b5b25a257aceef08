"""The I/O side of the registry KFP component."""

from __future__ import annotations

import shutil
from pathlib import Path

from components.common.kfp_step import kfp_step


@kfp_step
def run_register_op(model, *, card=None, card_html=None, env: str = "local", pipeline_run: str = "") -> str:
    from components.common.artifacts import model_uri_of
    from components.common.config import load_settings
    from components.registry.register import register_model

    settings = load_settings(env)
    result = register_model(settings, model_uri_of(model), pipeline_run=pipeline_run or None)
    if card is not None:
        copy_card(settings, result, card, card_html)
    return str(result["version"])


def copy_card(settings, result: dict, card, card_html) -> None:
    """The version's model card into the step's Markdown/HTML artifacts (fetched from MLflow on a rerun)."""
    from components.cards.card_io import fetch_card

    info = result.get("model_card") or {}
    if "skipped" in info:
        for out in (card, card_html):
            Path(out.path).write_text(f"No model card: {info['skipped']}\n", encoding="utf-8")
        return
    paths = info if "markdown" in info else fetch_card(settings, result["version"],
                                                       Path(card.path).parent / "model_card_download")
    shutil.copyfile(paths["markdown"], card.path)
    shutil.copyfile(paths["html"], card_html.path)
    card.metadata["artifact_uri"] = info.get("artifact_uri", "")
