"""Serving section of the configuration: the online ranker's limits and batch scoring knobs."""

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from components.common.model import StrictModel


class ExperimentSettings(StrictModel):
    """One online experiment between two registry versions of serving's model (see `inference/experiments.py`)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # `champion: 3` in YAML is version "3"

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Names the log rows and the report.")
    mode: Literal["shadow", "ab", "interleave"]
    champion: str = Field(min_length=1, description="Must be the version the ranker serves, or the experiment idles.")
    challenger: str = Field(min_length=1)
    share: float = Field(0.5, gt=0, lt=1, description="ab: share of sessions assigned to the challenger.")
    latency_budget_ms: float = Field(50.0, gt=0, description="A slower (or failing) challenger falls back to the "
                                     "champion for that request.")


class ServingSettings(StrictModel):
    """Request limits of the online ranker (over-limit requests get a 4xx) and batch-scoring sizes."""

    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    model_name: str | None = Field(None, description="Registered model; None = registry.model_name.")
    model_alias: str = "champion"
    model_version: str | None = Field(None, description="Pin a registry version (wins over the alias).")
    reload_interval_s: float = Field(30.0, ge=0, description="Alias poll period; 0 turns the poll off.")
    startup_wait_s: float = Field(30.0, ge=0, description="How long start-up waits for the first model load before "
                                  "serving /healthz anyway (well under the startup probe's 300 s).")
    registry_timeout_s: int = Field(10, gt=0, description="MLflow request timeout in the ranker (MLflow's own: 120 s).")
    registry_retries: int = Field(2, ge=0, description="MLflow request retries in the ranker (MLflow's own: 7).")
    feature_service: str = "ranker_v1"
    max_candidates: int = Field(200, gt=0)
    max_query_chars: int = Field(512, gt=0)
    max_candidate_id_chars: int = Field(64, gt=0)
    max_body_bytes: int = Field(64 * 1024, gt=0)
    reject_unknown_ids: bool = Field(True, description="404 when a candidate is not in the feature store.")
    torch_threads: int | None = Field(1, gt=0, description="torch intra-op threads in the ranker process; measured "
                                      "on 2 shared cores: 1 thread p50 25-30 ms vs 100-250 ms with 2 (oversubscription).")
    concurrency: int = Field(1, gt=0, description="Requests a replica scores at once; the rest wait their turn. "
                             "Two at once share the GIL and the cores and both run ~2x slower (the p99 tail); "
                             "scale with replicas instead.")
    autocast_bf16: bool = Field(False, description="bf16 autocast for torch models (batch and online alike). "
                                "Off: on the 2-core box it was not faster and changed the top-10 of 19/20 queries.")
    cache_documents: int = Field(20_000, ge=0, description="Online ranker: documents whose encoding and lexical terms "
                                 "are kept (LRU, keyed by the text; ~5 KB each at 40 words); 0 = the pyfunc path.")
    batch_size: int = Field(256, gt=0, description="Pairs per model call in batch scoring (the model buckets inside).")
    batch_min_partition_rows: int = Field(10_000, gt=0, description="Batch scoring uses one partition per task "
                                          "slot, fewer when each would get fewer pairs than this.")
    batch_arrow_records: int = Field(10_000, gt=0, description="Pairs per Arrow batch sent to a scoring task "
                                     "(spark.sql.execution.arrow.maxRecordsPerBatch while scoring).")
    scored_table: str = "inference/scored"
    experiment: ExperimentSettings | None = Field(None, description="The running experiment; None = champion only.")
    experiment_file: str | None = Field(None, description="YAML holding the experiment section (an overlay's "
                                        "ConfigMap mount); re-read when its mtime changes, wins over `experiment`.")
    experiment_check_s: float = Field(2.0, ge=0, description="How often a request may stat `experiment_file`.")
    impression_log_dir: str | None = Field("serving/impressions", description="One JSON line per response "
                                           "(under home unless absolute); None = no log. In the cluster each "
                                           "replica writes its own sub-folder of it on the lakehouse volume.")
    impression_rotate_s: float = Field(300.0, gt=0, description="An impression file is closed (`.open` -> "
                                       "`.jsonl`, then collectable) once it is this old or ...")
    impression_rotate_bytes: int = Field(64 << 20, gt=0, description="... this big (bytes).")
    impression_stale_s: float = Field(3600.0, gt=0, description="The collector closes an `.open` file untouched "
                                      "this long (its replica died); must exceed impression_rotate_s.")
    shadow_keep_s: float = Field(30 * 86400.0, gt=0, description="The collector deletes closed shadow-score files "
                                 "last written longer ago than this (only `experiment report` reads them); must "
                                 "exceed impression_stale_s.")

    @model_validator(mode="after")
    def _stale_after_rotation(self) -> "ServingSettings":
        if self.impression_stale_s <= self.impression_rotate_s + 30:
            raise ValueError("impression_stale_s must exceed impression_rotate_s by more than 30 s (a live "
                             "replica's open file would be closed under it)")
        if self.shadow_keep_s <= self.impression_stale_s:
            raise ValueError("shadow_keep_s must exceed impression_stale_s (a shadow file would be deleted before "
                             "its dead replica's last one is closed)")
        return self
