"""`rankops reproduce VERSION`: rebuild a registered model from its recorded code and data, compare weights.

The code state is checked out in a temporary git worktree at the version's commit and the
training runs there in a subprocess (so that commit's code, not today's, trains); the data
is the exact training-set snapshot (content-addressed, immutable) and the hyper-parameters
are the ones the original run logged. On CPU in the local profile the weights are identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from components.registry.gitops import GitError, Repo, local_checkout, synced_clone
from components.registry.lineage import lineage

if TYPE_CHECKING:
    from components.common.config import Settings

TRAIN_SCRIPT = r"""
import ast, json, sys
from components.common.config import load_settings
from components.training.api import train
from components.training.settings import TrainingSettings
from components.training.tracking import flatten

args = json.loads(sys.argv[1])
def parse(value):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
logged = {k: parse(v) if isinstance(v, str) else v for k, v in args["params"].items()}
try:  # the keys of the logged family's settings (LambdaMART's num_leaves, ...), not only the default family's
    base = TrainingSettings(model={"family": logged.get("model.family") or "electra"})
except Exception:  # a commit from before model families: its one model section
    base = TrainingSettings()
known = set(flatten("", base.model_dump()))
params = {k: v for k, v in logged.items() if k in known}
result = train(load_settings(args["env"]), training_set=args["training_set"], params=params,
               tags=args["tags"], validate=False)
import components
print("RANKOPS_RESULT " + json.dumps({"run_id": result.run_id, "model_uri": result.model_uri,
                                      "code": components.__file__}))
"""


class ReproduceError(RuntimeError):
    """The version cannot be rebuilt (unknown commit, missing snapshot, training failed)."""


def train_in_checkout(settings: Settings, checkout: str, *, training_set: str, params: dict[str, Any],
                      tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Train with the code of `checkout` (a subprocess with it first on sys.path); return run id and URI."""
    env = {**os.environ, "PYTHONPATH": checkout, "RANKOPS_ENV": settings.env, "RANKOPS_HOME": str(settings.home)}
    args = json.dumps({"env": settings.env, "training_set": training_set, "params": params, "tags": tags or {}})
    proc = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, args], cwd=checkout, env=env,
                          capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RANKOPS_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise ReproduceError(f"training in {checkout} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    result = json.loads(line[len("RANKOPS_RESULT "):])
    if not os.path.realpath(result["code"]).startswith(os.path.realpath(checkout)):
        raise ReproduceError(f"the subprocess imported {result['code']}, not the checkout {checkout}")
    return result


def load_weights(model_uri: str) -> dict[str, np.ndarray | bytes]:
    """The model's weight files, those a promotion hashes (transfer.WEIGHT_FILES): every tensor of its
    safetensors files keyed "file:tensor", and any other weight file (LightGBM's model.txt) whole, as bytes."""
    import mlflow
    from safetensors.numpy import load_file

    from components.registry.transfer import WEIGHT_FILES

    root = Path(mlflow.artifacts.download_artifacts(model_uri))
    out: dict[str, np.ndarray | bytes] = {}
    for path in sorted({p for pattern in WEIGHT_FILES for p in root.rglob(pattern) if p.is_file()}):
        rel = path.name  # artifact dirs carry random temp names
        if path.suffix == ".safetensors":
            out.update({f"{rel}:{name}": arr for name, arr in load_file(str(path)).items()})
        else:
            out[rel] = path.read_bytes()
    return out


def first_difference(a: bytes, b: bytes) -> int:
    """The 1-based line where two texts first differ."""
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), start=1):
        if x != y:
            return n
    return min(a.count(b"\n"), b.count(b"\n")) + 1


def compare_weights(a: dict[str, np.ndarray | bytes], b: dict[str, np.ndarray | bytes]) -> dict[str, Any]:
    """Tensors element by element (max_abs_diff over them; None where no tensors or shapes differ), other
    weight files byte for byte: identical only when every one is."""
    from components.registry.transfer import WEIGHT_FILES

    if not a:
        return {"identical": False, "tensors": 0,
                "detail": f"no weight files ({', '.join(WEIGHT_FILES)}) in the registered model"}
    if set(a) != set(b):
        return {"identical": False, "tensors": len(a), "detail": f"tensor names differ: {sorted(set(a) ^ set(b))[:5]}"}
    tensors = {k: (x, y) for k, x in a.items() if isinstance(x, np.ndarray) and isinstance(y := b[k], np.ndarray)}
    diffs = {k: float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
             for k, (x, y) in tensors.items() if x.shape == y.shape}
    same_shape = len(diffs) == len(tensors)
    max_diff = max(diffs.values(), default=0.0)
    differ = []
    for k in (k for k in a if k not in tensors):
        x, y = a[k], b[k]
        if not (isinstance(x, bytes) and isinstance(y, bytes)):
            differ.append(f"{k} is a tensor on one side only")
        elif x != y:
            differ.append(f"{k} differs from line {first_difference(x, y)}")
    identical = same_shape and all(np.array_equal(x, y) for x, y in tensors.values()) and not differ
    out: dict[str, Any] = {"identical": identical, "tensors": len(a), "max_abs_diff": max_diff if same_shape and tensors else None}
    if differ:
        out["detail"] = "; ".join(differ)
    return out


def reproduce(settings: Settings, version: str) -> dict[str, Any]:
    """Re-train `version` from its commit + training-set snapshot + params; report whether weights match."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore
    from components.registry.lookup import use_mlflow

    use_mlflow(settings)
    info = lineage(settings, version)
    sha, training_set = info["git"]["sha"], info["training_set"]
    if not sha or sha == "unknown" or not training_set:
        raise ReproduceError(f"v{info['version']} has no recorded commit or training set (tags: git_sha={sha}, "
                             f"training_set={training_set})")
    try:
        SnapshotStore(settings.lakehouse).resolve(training_set)
    except SnapshotNotFound as exc:
        raise ReproduceError(f"training set of v{info['version']} is gone: {exc}") from None
    missing = [s["ref"] for s in info["snapshots"] if s.get("missing")]
    if settings.registry.git_url:  # no checkout here: the synced clone of the code repo has the commits
        repo = synced_clone(settings.resolve("git-cache"), settings.registry.git_url)
    else:
        repo = Repo(local_checkout(settings, settings.registry.git_repo))
    try:
        repo.git("cat-file", "-e", f"{sha}^{{commit}}")
    except GitError:
        raise ReproduceError(f"commit {sha} of v{info['version']} is not in {repo.path} (fetch it first)") from None
    with tempfile.TemporaryDirectory(prefix="rankops-reproduce-") as tmp:
        checkout = os.path.join(tmp, "code")
        repo.git("worktree", "add", "--detach", "-q", checkout, sha)
        try:
            new = train_in_checkout(settings, checkout, training_set=training_set, params=info["params"],
                                    tags={"rankops.reproduces": f"{info['name']}/{info['version']}"})
        finally:
            repo.git("worktree", "remove", "--force", checkout, check=False)
            repo.git("worktree", "prune", check=False)
    weights = compare_weights(load_weights(info["model_uri"]), load_weights(new["model_uri"]))
    return {"name": info["name"], "version": info["version"], "git_sha": sha, "git_dirty": info["git"]["dirty"],
            "training_set": training_set, "missing_parent_snapshots": missing, "original_run_id": info["run_id"],
            "run_id": new["run_id"], "model_uri": new["model_uri"], **weights}
