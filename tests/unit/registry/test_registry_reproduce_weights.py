"""`reproduce` compares the weight files a promotion hashes: LightGBM's model.txt as bytes, safetensors per tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.registry.reproduce import compare_weights, load_weights

TREES = "tree\nversion=v4\nTree=0\nleaf_value=0.5 -0.25\n\nend of trees\n"


def package(root: Path, files: dict[str, bytes | dict[str, np.ndarray]]) -> str:
    """A model package directory (MLmodel + files); a dict value is written as a safetensors file."""
    from safetensors.numpy import save_file

    root.mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, dict):
            save_file(data, str(path))
        else:
            path.write_bytes(data)
    return str(root)


def test_a_lightgbm_package_is_compared_by_its_model_txt(tmp_path):
    a = load_weights(package(tmp_path / "a", {"artifacts/ranker/model.txt": TREES.encode()}))
    b = load_weights(package(tmp_path / "b", {"artifacts/other/model.txt": TREES.encode()}))
    c = load_weights(package(tmp_path / "c", {"artifacts/ranker/model.txt": TREES.replace("0.5", "0.75").encode()}))
    assert a == {"model.txt": TREES.encode()}
    same = compare_weights(a, b)
    assert (same["identical"], same["tensors"]) == (True, 1)
    differs = compare_weights(a, c)
    assert differs["identical"] is False and "model.txt" in differs["detail"] and "line 4" in differs["detail"]


def test_safetensors_are_still_compared_tensor_by_tensor(tmp_path):
    w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    bias = np.array([0.5], dtype=np.float32)
    a = load_weights(package(tmp_path / "a", {"artifacts/m/model.safetensors": {"w": w, "b": bias}}))
    b = load_weights(package(tmp_path / "b", {"artifacts/m/model.safetensors": {"w": w, "b": bias + 0.25}}))
    assert sorted(a) == ["model.safetensors:b", "model.safetensors:w"]
    assert compare_weights(a, a) == {"identical": True, "tensors": 2, "max_abs_diff": 0.0}
    assert compare_weights(a, b) == {"identical": False, "tensors": 2, "max_abs_diff": 0.25}


def test_a_package_without_weight_files_is_never_identical(tmp_path):
    empty = load_weights(package(tmp_path / "a", {"artifacts/notes.txt": b"x"}))
    out = compare_weights(empty, empty)
    assert out["identical"] is False and "no weight files" in out["detail"]
