"""A real ranker process over `serving_data` tables: `python -m tests.support.experiment_server TABLES PORT`.

The same app `rankops serve` runs (create_app + uvicorn on 127.0.0.1), with the tables' in-memory
feature source instead of Feast, so the online-experiment tests need no feature store build.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(tables_dir: str, port: str) -> None:
    import pandas as pd
    import uvicorn

    from components.common.config import load_settings
    from components.inference.features import FrameFeatures
    from components.inference.model import model_uri_of
    from components.inference.server import create_app
    from components.inference.state import ModelHolder
    from tests.support.serving_data import FEATURES

    settings = load_settings()
    tables = {name: pd.read_parquet(Path(tables_dir) / f"{name}.parquet") for name in ("queries", "videos", "pairs")}
    source = FrameFeatures(tables["queries"], tables["videos"], tables["pairs"], features=FEATURES)
    app = create_app(settings, ModelHolder(settings, model_uri_of(settings)), source)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
