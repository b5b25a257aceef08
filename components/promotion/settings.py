"""Promotion section of the configuration: the GitOps repository, the forge, the registry prod reads."""

from pydantic import Field, model_validator

from components.common.model import StrictModel
from components.registry.settings import ForgeSettings


class TargetRegistry(StrictModel):
    """The MLflow registry the prod overlay's ranker reads, when it is not this environment's own."""

    tracking_uri: str = Field(description="Tracking + registry URI of the target environment's MLflow.")
    artifact_location: str | None = Field(
        None, description="Artifact root for the copies' experiment (None: the target server's default).")
    experiment: str = Field("rankops-promotions", description="Target experiment holding one run per copied version.")
    username_env: str = Field("TARGET_MLFLOW_TRACKING_USERNAME", description="Variable with the target server's "
                              "basic-auth user (optional Secret rankops-prod-mlflow-client); empty: no auth.")
    password_env: str = Field("TARGET_MLFLOW_TRACKING_PASSWORD", description="Variable with that user's password.")


class PromotionSettings(StrictModel):
    """Where the prod overlay pin lives; a relative git_repo is the current checkout."""

    git_repo: str = "."
    git_url: str | None = Field(
        None, description="Remote GitOps repo; when set, a cached bare clone under RANKOPS_HOME is synced from it "
        "before every step and pushed to (cluster pods have no checkout). Tokens come from env, e.g. ${GIT_TOKEN}.")
    prod_overlay: str = "manifests/overlays/prod"
    main_branch: str = "main"
    git_remote: str = Field("origin", description="Remote pushed to (branches, main) when it exists.")
    history_file: str = Field("manifests/promotions/history.jsonl", description="Append-only audit trail in git_repo.")
    requests_dir: str = Field("manifests/promotions/requests", description="Request records inside git_repo.")
    lock_timeout_s: float = Field(5.0, ge=0, description="How long a promotion waits for another one to finish.")
    staging_queries: int = Field(20, gt=0, description="Fixed set of test queries batch-scored by the staging checks.")
    latency_budget_ms: float = Field(1000.0, gt=0, description="p95 budget (ms) for scoring one query's candidates.")
    require_online_evidence: bool = Field(
        False, description="A request must carry an experiment report (--online-evidence) that is fresh and does not "
        "find the champion better; waived while there is no champion to run an experiment against.")
    online_evidence_max_age_days: float = Field(14.0, gt=0, description="Older online evidence is stale.")
    forge: ForgeSettings = Field(
        default_factory=ForgeSettings, description="github: a request is a pull request whose merge by the CODEOWNERS "
        "approves it and `promote sync` completes; local: a branch decided by `rankops promote approve`.")
    target: TargetRegistry | None = Field(
        None, description="The registry prod reads; a request copies the version there (artifacts + lineage) and "
        "pins the copy's number. None: prod reads this environment's registry.")

    @model_validator(mode="after")
    def _forge_works_on_the_remote(self) -> "PromotionSettings":
        if self.forge.kind != "local" and not self.git_url:
            raise ValueError(f"forge kind {self.forge.kind!r} reads merges from the remote: set git_url "
                             "(the GitOps repository the pull requests are opened on)")
        return self
