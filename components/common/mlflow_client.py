"""The one place MLflow is pointed at a tracking store: every stage calls `use_mlflow`.

MLflow keeps the tracking and registry URIs as process globals; setting both together, here only,
is what keeps a step from logging a run to one store and registering its model in another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings


def use_mlflow(target: Settings | str) -> MlflowClient:
    """Point MLflow (tracking + registry) at the profile's store, or at a tracking URI; return a client."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = target if isinstance(target, str) else target.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)
