"""Write the registered version back to the git branch the code came from (models/<name>.json)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from components.registry.forge import ForgeError, forge_of
from components.registry.gitops import GitError, Repo, synced_clone
from components.registry.lineage import data_snapshot_ids
from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    from components.common.config import Settings

UNUSABLE_BRANCHES = {"", "HEAD", "unknown", None}


def model_record(name: str, version: str, run_id: str | None, model_uri: str, lineage: dict[str, str],
                 chain: list[dict[str, Any]], metrics: dict[str, float], pipeline_run: str | None) -> dict[str, Any]:
    """The content of models/<name>.json: what is registered, from which code, data and run."""
    return {
        "name": name,
        "version": version,
        "model_uri": f"models:/{name}/{version}",
        "source": model_uri,
        "run_id": run_id,
        "git_sha": lineage.get(f"{TAG_PREFIX}git_sha"),
        "git_branch": lineage.get(f"{TAG_PREFIX}git_branch"),
        "training_set": lineage.get(f"{TAG_PREFIX}training_set"),
        "data_snapshots": data_snapshot_ids(chain),
        "feature_service": lineage.get(f"{TAG_PREFIX}feature_service"),
        "pipeline_run": pipeline_run,
        "metrics": dict(sorted(metrics.items())),
    }


def repo_path(settings: Settings) -> str:
    """`registry.git_repo`: absolute as-is, relative to the current directory, `{home}/...` a sandbox clone."""
    from components.registry.gitops import local_checkout

    return local_checkout(settings, settings.registry.git_repo)


def write_back_by_pull_request(settings: Settings, repo: Repo, forge: Any, record: dict[str, Any], base: str,
                               path: str, content: str, message: str) -> dict[str, Any]:
    """Forge mode: the record goes on branch registry/<name>-v<n> off `base`, pushed, with a pull request into `base`."""
    remote = settings.registry.git_remote
    if not repo.has_remote(remote):
        return {"branch": base, "path": path, "error": f"forge mode pushes a branch, but {repo.path} has no remote "
                f"{remote!r} (set registry.git_url)"}
    base_tip = repo.tip(base)
    if repo.show(base_tip, path) == content:
        return {"mode": "pull-request", "branch": base, "path": path, "commit": base_tip, "changed": False,
                "pushed": False}
    head = f"registry/{record['name']}-v{record['version']}"
    if repo.tip(head) is None:
        commit = repo.build_commit([base_tip], {path: content}, message)
        repo.move_branch(head, commit, None, [])
    else:
        commit = repo.commit_files(head, {path: content}, message) or repo.tip(head)
    repo.push(remote, f"refs/heads/{head}:refs/heads/{head}")
    pull, warnings = forge.open_pull(head, base, message, f"Records the registered version in `{path}` on `{base}`.")
    return {"mode": "pull-request", "branch": head, "base": base, "path": path, "commit": commit, "changed": True,
            "pushed": True, "pull_request": pull.summary(), "warnings": warnings}


def write_back(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """Record models/<name>.json: a pull request into the source branch in forge mode, else a commit on it.

    Local mode commits on the source branch and pushes it when the remote exists.

    Never raises for a missing repository or branch: registration already happened, so the
    result says why nothing was written (rerunning `register` retries the write-back).
    """
    if settings.registry.git_url:
        try:
            repo = synced_clone(settings.resolve("git-cache"), settings.registry.git_url)
        except GitError as exc:
            return {"error": f"cannot sync {settings.registry.git_url}: {exc}"}
    else:
        repo = Repo(repo_path(settings))
    if not os.path.isdir(repo.path) or repo.git("rev-parse", "--git-dir", check=False) == "":
        return {"skipped": f"{repo.path} is not a git repository"}
    branch = record.get("git_branch")
    if branch in UNUSABLE_BRANCHES or repo.tip(branch) is None:
        fallback = repo.current_branch()
        if fallback is None:
            return {"skipped": f"source branch {branch!r} not in {repo.path} and HEAD is detached"}
        branch = fallback
    path = f"{settings.registry.models_dir}/{record['name']}.json"
    content = json.dumps(record, indent=2, sort_keys=True) + "\n"
    message = f"registry: {record['name']} v{record['version']} (run {record.get('run_id')})"
    try:
        forge = forge_of(settings.registry.forge)
        if forge is not None:
            return write_back_by_pull_request(settings, repo, forge, record, branch, path, content, message)
    except (ForgeError, GitError) as exc:
        return {"branch": branch, "path": path, "error": str(exc)}
    try:
        commit = repo.commit_files(branch, {path: content}, message)
    except GitError as exc:
        return {"branch": branch, "path": path, "error": str(exc)}
    result: dict[str, Any] = {"mode": "commit", "branch": branch, "path": path, "commit": commit or repo.tip(branch),
                              "changed": commit is not None, "pushed": False}
    remote = settings.registry.git_remote
    if repo.has_remote(remote):
        try:
            repo.push(remote, f"refs/heads/{branch}:refs/heads/{branch}")
            result["pushed"] = True
        except GitError as exc:
            result["error"] = f"committed locally but push to {remote} failed: {exc}"
    return result
