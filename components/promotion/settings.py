"""Promotion section of the configuration: the GitOps repository and overlay."""

from components.common.model import StrictModel


class PromotionSettings(StrictModel):
    """Where the prod overlay pin lives; a relative git_repo is the current checkout."""

    git_repo: str = "."
    prod_overlay: str = "manifests/overlays/prod"
