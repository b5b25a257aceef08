"""Model card section of the configuration (nested under `registry.card`)."""

from pydantic import Field

from components.common.model import StrictModel


class CardSettings(StrictModel):
    """What every registered version's card states beyond the measured facts."""

    enabled: bool = Field(True, description="Write model_card.md/.html into the version's run at registration.")
    intended_use: str = Field(
        "Re-rank the candidate videos of one search query by relevance (ELECTRA cross-encoder over query, title and "
        "description, fused with engagement features). Candidates come from a first-stage retriever.",
        description="What the model is for, as the card states it.")
    out_of_scope: str = Field(
        "Retrieval over the whole catalogue, languages or domains absent from the training data, and any decision "
        "about people (the scores rank videos, they do not judge users or creators).",
        description="Uses the card warns against.")
    approvers: list[str] = Field(default_factory=lambda: ["@rankops/data-experts"],
                                 description="Who approves a promotion (the CODEOWNERS of the prod overlay).")
    importance_repeats: int = Field(3, gt=0, description="Shuffles per feature of the permutation importance.")
    importance_seed: int = 0
    importance_max_queries: int = Field(100, gt=0, description="Validation queries the importance is measured on "
                                        "(the first ones by id): it scores them repeats x features times.")
