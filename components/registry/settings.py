"""Model registry section of the configuration, and the forge (GitHub) both git flows open pull requests on."""

from typing import Literal

from pydantic import Field, model_validator

from components.cards.settings import CardSettings
from components.common.model import StrictModel


class ForgeSettings(StrictModel):
    """Where a git change becomes a pull request; `local` means no forge (a branch in the repo, nothing opened)."""

    kind: Literal["local", "github"] = Field(
        "local", description="local: branches only, decided with `rankops promote approve`; github: pull requests.")
    api_url: str = Field("https://api.github.com", description="REST API root (GitHub Enterprise: https://HOST/api/v3).")
    repository: str | None = Field(None, description="owner/name on the forge.")
    token_env: str = Field("GIT_TOKEN", description="Environment variable holding the API token (never in a profile).")
    labels: list[str] = Field(default_factory=list, description="Labels put on every pull request opened.")
    reviewers: list[str] = Field(default_factory=list, description="Users asked for review (CODEOWNERS also asks).")
    team_reviewers: list[str] = Field(default_factory=list, description="Team slugs asked for review.")
    timeout_s: float = Field(20.0, gt=0, description="Per-request HTTP timeout.")

    @model_validator(mode="after")
    def _repository_for_a_forge(self) -> "ForgeSettings":
        if self.kind != "local" and (not self.repository or self.repository.count("/") != 1):
            raise ValueError(f"forge kind {self.kind!r} needs repository: owner/name (got {self.repository!r})")
        return self


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
    write_back: bool = Field(True, description="Record models/<name>.json in git after registering.")
    forge: ForgeSettings = Field(
        default_factory=ForgeSettings, description="github: the write-back is a branch + pull request to the source "
        "branch, never a push to it; local: a commit on the source branch (pushed when the remote exists).")
    card: CardSettings = Field(default_factory=CardSettings, description="The model card written at registration.")
