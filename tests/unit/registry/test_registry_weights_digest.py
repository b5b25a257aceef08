"""The weights hash a promotion checks covers every family's weights: ELECTRA's tensors and LightGBM boosters."""

import hashlib

import pytest

from components.registry.transfer import TransferError, weights_digest


def expected(files: dict[str, bytes]) -> str:
    """SHA-256 over "<relative path>\\0<sha256 of its bytes>\\n" lines in path order (the documented layout)."""
    lines = "".join(f"{path}\0{hashlib.sha256(data).hexdigest()}\n" for path, data in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


@pytest.mark.parametrize("weights", [
    {"artifacts/model/model.safetensors": b"\x01\x02"},  # ELECTRA
    {"artifacts/model/model.txt": b"tree\nTree=0\n"},  # LambdaMART / a project's boosted trees
])
def test_the_digest_covers_the_weight_files_of_either_family(tmp_path, weights):
    for path, data in {**weights, "MLmodel": b"flavors: {}\n", "requirements.txt": b"mlflow\n"}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    assert weights_digest(tmp_path) == expected(weights)


def test_a_package_without_weights_is_refused_by_name(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(TransferError, match=r"no weight files \(\*\.safetensors, model\.txt\) in the model package at "):
        weights_digest(tmp_path)
