"""Model registry section of the configuration."""

from pydantic import Field

from components.common.model import StrictModel


class RegistrySettings(StrictModel):
    """Name the model is registered under, the aliases the promotion flow moves, the git write-back."""

    model_name: str = "rankops-ranker"
    challenger_alias: str = "challenger"
    champion_alias: str = "champion"
    git_repo: str = Field(".", description="Code repository the version is written back to; relative = current dir.")
    git_url: str | None = Field(None, description="Code repo URL; when set, a cached bare clone is synced from it, "
                                "written to and pushed (pods have no checkout). Tokens come from env, e.g. ${GIT_TOKEN}.")
    git_remote: str = Field("origin", description="Remote pushed to after the write-back, when it exists.")
    models_dir: str = Field("models", description="Tracked folder of models/<name>.json inside git_repo.")
    write_back: bool = Field(True, description="Commit models/<name>.json on the source branch after registering.")
