"""Model registry section of the configuration."""

from components.common.model import StrictModel


class RegistrySettings(StrictModel):
    """Name the model is registered under and the aliases the promotion flow moves."""

    model_name: str = "rankops-ranker"
    challenger_alias: str = "challenger"
    champion_alias: str = "champion"
