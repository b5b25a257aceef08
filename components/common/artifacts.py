"""What one step tells the next through a KFP artifact's metadata: the keys and their types, in one place.

Every stage reads and writes these through the models below, so no stage imports another stage's
`kfp_io` to learn a key, and a renamed key is a type error rather than a silent `None` downstream.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class SnapshotMeta(BaseModel):
    """A Dataset artifact that stands for one lakehouse snapshot (`table@snapshot_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str
    table: str
    snapshot_id: str

    @classmethod
    def of_ref(cls, ref: str) -> SnapshotMeta:
        table, sep, snapshot_id = ref.partition("@")
        if not (table and sep and snapshot_id):
            raise ValueError(f"snapshot ref {ref!r} is not of the form table@snapshot_id")
        return cls(ref=ref, table=table, snapshot_id=snapshot_id)

    def to_metadata(self, **extra: Any) -> dict[str, Any]:
        return {**self.model_dump(), **extra}


class ModelMeta(BaseModel):
    """A Model artifact: the MLflow model it stands for and the run and data that made it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_uri: str
    run_id: str | None = None
    tracking_uri: str | None = None
    training_set: str | None = None

    def to_metadata(self, **extra: Any) -> dict[str, Any]:
        return {**self.model_dump(exclude_none=True), **extra}


def metadata_of(artifact: Any) -> dict[str, Any]:
    """An artifact's metadata as a plain dict ({} for a missing optional input)."""
    return dict(getattr(artifact, "metadata", None) or {}) if artifact is not None else {}


def snapshot_ref_of(artifact: Any) -> str | None:
    """`table@id` of a snapshot artifact (an optional input: None when absent or not a snapshot)."""
    meta = metadata_of(artifact)
    for key in ("ref", "snapshot_ref", "training_set"):
        if meta.get(key):
            return str(meta[key])
    if meta.get("table") and meta.get("snapshot_id"):
        return f"{meta['table']}@{meta['snapshot_id']}"
    return None


def model_uri_of(artifact: Any) -> str:
    """The MLflow URI a Model artifact carries; a clear error names the artifact when it carries none."""
    uri = metadata_of(artifact).get("model_uri")
    if not uri:
        raise ValueError(
            f"model artifact {getattr(artifact, 'uri', artifact)} has no 'model_uri' in its metadata "
            "(expected from train_op)"
        )
    return str(uri)


def gold_refs_of(artifact: Any) -> dict[str, str] | None:
    """{gold table: snapshot_id} of a gold Dataset (`gold_snapshots` or `snapshots`), else None."""
    meta = metadata_of(artifact)
    found = meta.get("gold_snapshots") or meta.get("snapshots")
    if not isinstance(found, dict):
        return None
    return {t: str(v).partition("@")[2] or str(v) for t, v in found.items() if str(t).startswith("gold/")}
