"""Artifact metadata: what one step writes is what the next reads, with the old keys still understood."""

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from components.common.artifacts import ModelMeta, SnapshotMeta, gold_refs_of, model_uri_of, snapshot_ref_of


def artifact(metadata, uri="file:///tmp/a"):
    return SimpleNamespace(metadata=metadata, uri=uri)


def test_snapshot_meta_round_trips_through_an_artifact():
    meta = SnapshotMeta.of_ref("features/training_set_ranker@0007").to_metadata(rows=12)
    assert meta == {"ref": "features/training_set_ranker@0007", "table": "features/training_set_ranker",
                    "snapshot_id": "0007", "rows": 12}
    assert snapshot_ref_of(artifact(meta)) == "features/training_set_ranker@0007"


@pytest.mark.parametrize("meta, expected", [
    ({"snapshot_ref": "gold/pairs@3"}, "gold/pairs@3"),
    ({"training_set": "features/t@2"}, "features/t@2"),
    ({"table": "scores/s", "snapshot_id": "9"}, "scores/s@9"),
    ({"table": "scores/s"}, None),
    ({}, None),
])
def test_snapshot_ref_of_reads_every_key_a_step_writes(meta, expected):
    assert snapshot_ref_of(artifact(meta)) == expected


def test_an_absent_optional_input_has_no_ref():
    assert snapshot_ref_of(None) is None


@pytest.mark.parametrize("bad", ["gold/pairs", "@3", "gold/pairs@"])
def test_a_ref_without_table_and_id_is_refused(bad):
    with pytest.raises(ValueError, match="table@snapshot_id"):
        SnapshotMeta.of_ref(bad)


def test_model_meta_is_strict_and_drops_unknowns():
    meta = ModelMeta(model_uri="runs:/abc/model", run_id="abc").to_metadata(steps=30)
    assert meta == {"model_uri": "runs:/abc/model", "run_id": "abc", "steps": 30}
    assert model_uri_of(artifact(meta)) == "runs:/abc/model"
    with pytest.raises(ValidationError):
        ModelMeta(model_uri="runs:/abc/model", modeluri="typo")


def test_a_model_artifact_without_uri_names_the_artifact():
    with pytest.raises(ValueError, match=r"model artifact file:///tmp/m has no 'model_uri'"):
        model_uri_of(artifact({}, uri="file:///tmp/m"))


def test_gold_refs_keep_gold_tables_only_and_strip_the_table_from_refs():
    meta = {"snapshots": {"gold/pairs": "gold/pairs@5", "gold/videos": "6", "silver/impressions": "4"}}
    assert gold_refs_of(artifact(meta)) == {"gold/pairs": "5", "gold/videos": "6"}
    assert gold_refs_of(artifact({"snapshots": "gold/pairs@5"})) is None
