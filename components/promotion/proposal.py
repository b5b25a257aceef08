"""A proposed change to main: branch promote/<id> with one commit, and in forge mode its pull request.

Local mode (no forge) leaves the branch in the GitOps repo (pushed when a remote exists) for
`rankops promote approve` to merge. Forge mode pushes it and opens a pull request into main;
the merge by the CODEOWNERS is the approval. A pull request that cannot be opened takes its
branch away again, so nothing half-made is left on the remote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.promotion.state import BRANCH_PREFIX, MainState, PromotionError, push_if_remote
from components.registry.forge import ForgeError, forge_of

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.registry.gitops import Repo


def forge_for(settings: Settings):
    """The promotion forge client (None in local mode); a misconfiguration stops before any work."""
    try:
        return forge_of(settings.promotion.forge)
    except ForgeError as exc:
        raise PromotionError(str(exc)) from None


def mode_of(settings: Settings) -> str:
    return settings.promotion.forge.kind


def open_proposal(settings: Settings, repo: Repo, main: MainState, request_id: str, *, files: dict[str, str],
                  message: str, title: str, body: str) -> dict[str, Any]:
    """Commit `files` on a new branch off main; push it and open its pull request in forge mode."""
    forge = forge_for(settings)
    remote, base = settings.promotion.git_remote, settings.promotion.main_branch
    branch = BRANCH_PREFIX + request_id
    if forge is not None and not repo.has_remote(remote):
        raise PromotionError(f"forge mode pushes the request branch, but {repo.path} has no remote {remote!r} "
                             "(set promotion.git_url)")
    commit = repo.build_commit([main.tip], files, message)
    repo.move_branch(branch, commit, None, [])
    if forge is None:
        return {"mode": "local", "branch": branch, "commit": commit,
                "pushed": push_if_remote(settings, repo, branch)}
    refspec = f"refs/heads/{branch}:refs/heads/{branch}"
    try:
        repo.push(remote, refspec)
        pull, warnings = forge.open_pull(branch, base, title, body)
    except ForgeError as exc:
        repo.git("push", "-q", remote, f":refs/heads/{branch}", check=False)
        repo.git("update-ref", "-d", f"refs/heads/{branch}", check=False)
        raise PromotionError(f"could not open the pull request for {branch}: {exc}; nothing was left behind") from None
    return {"mode": mode_of(settings), "branch": branch, "commit": commit, "pushed": True,
            "pull_request": pull.summary(), "warnings": warnings}


def describe(record: dict[str, Any], evidence: dict[str, Any]) -> str:
    """The pull request's body: what is pinned, from where, backed by which comparison."""
    d = record.get("decision") or {}
    lines = [f"Pins **{record['model_name']} v{record['version']}** in the prod overlay "
             f"(champion now: {record.get('champion_seen') or 'none'}).", "",
             f"- source: v{record.get('source_version')} in `{record.get('source_registry')}`",
             f"- weights sha256: `{record.get('weights_sha256')}`",
             f"- comparison run: `{evidence.get('compare_run_id')}`, report sha256 `{evidence.get('report_sha256')}`",
             f"- {d.get('metric')} delta {d.get('delta')} vs {d.get('reference')}, p = {d.get('p_value')}",
             f"- requested by {record.get('requested_by')}" + (" — **FORCED**: " + "; ".join(evidence["problems"])
                                                               if record.get("forced") else ""),
             "", "Merging is the approval (CODEOWNERS: the data experts). `rankops promote sync` or the merge "
             "event then moves the champion alias."]
    return "\n".join(lines)
