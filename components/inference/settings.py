"""Serving section of the configuration: the online ranker's limits."""

from pydantic import Field

from components.common.model import StrictModel


class ServingSettings(StrictModel):
    """Request limits of the online ranker; over-limit requests get a 4xx."""

    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    model_alias: str = "champion"
    max_candidates: int = Field(200, gt=0)
    max_query_chars: int = Field(512, gt=0)
