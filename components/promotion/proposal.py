"""A proposed change to main: branch promote/<id> with one commit, and in forge mode its pull request.

Local mode (no forge) leaves the branch in the GitOps repo (pushed when a remote exists) for
`rankops promote approve` to merge. Forge mode pushes it and opens a pull request into main;
the merge by the CODEOWNERS is the approval. A pull request that cannot be opened takes its
branch away again, so nothing half-made is left on the remote.

A request does not hold the promotion lock (it would have to across the push and the forge's
calls): the branch is pushed by its commit, so another process's sync of the shared clone of
`git_url` (state.repo_of) pruning the not yet pushed local ref changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.promotion.state import (
    BRANCH_PREFIX,
    MainState,
    PromotionError,
    load_request,
    push_if_remote,
    request_ids,
)
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
                "pushed": push_if_remote(settings, repo, branch, commit)}
    try:
        repo.push(remote, f"{commit}:refs/heads/{branch}")  # the commit: a sync may have pruned the unpushed ref
        pull, warnings = forge.open_pull(branch, base, title, body)
    except ForgeError as exc:
        repo.git("push", "-q", remote, f":refs/heads/{branch}", check=False)
        repo.git("update-ref", "-d", f"refs/heads/{branch}", check=False)
        raise PromotionError(f"could not open the pull request for {branch}: {exc}; nothing was left behind") from None
    return {"mode": mode_of(settings), "branch": branch, "commit": commit, "pushed": True,
            "pull_request": pull.summary(), "warnings": warnings}


def open_request_for(settings: Settings, repo: Repo, main: MainState, *, version: str, source_registry: str,
                     compare_run_id: str | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(request record, proposal) of the undecided request for `version` backed by comparison run `compare_run_id`.

    A retried promotion step asks again with the same comparison: it gets what the first try
    opened instead of a second request and pull request. A branch pushed by a try that died
    before its pull request was opened gets that pull request now. A request whose pull request
    was closed or merged, or that main already records, is decided: asking again opens a new one.
    """
    if not compare_run_id:
        return None
    forge = forge_for(settings)
    on_main = {e.get("request_id") for e in main.history}
    for request_id in reversed(request_ids(repo, f"v{version}-")):  # newest first (ids carry the time)
        if request_id in on_main:
            continue
        tip, record = load_request(settings, repo, request_id)
        asked = ("promote", str(version), source_registry, compare_run_id)
        if (record.get("kind"), str(record.get("source_version")), record.get("source_registry"),
                (record.get("decision") or {}).get("compare_run_id")) != asked:
            continue
        branch = BRANCH_PREFIX + request_id
        if forge is None:
            return record, {"mode": "local", "branch": branch, "commit": tip,
                            "pushed": push_if_remote(settings, repo, branch, tip)}
        try:
            pull = forge.find_pull(branch)
            if pull is not None and pull.state != "open":
                continue
            warnings: list[str] = []
            if pull is None:
                pull, warnings = forge.open_pull(branch, settings.promotion.main_branch, title_of(record),
                                                 describe(record, record.get("evidence") or {}))
        except ForgeError as exc:
            raise PromotionError(f"request {request_id} for v{version} exists; its pull request: {exc}") from None
        return record, {"mode": mode_of(settings), "branch": branch, "commit": tip, "pushed": True,
                        "pull_request": pull.summary(), "warnings": warnings}
    return None


def pull_request_url(settings: Settings, request_id: str) -> str:
    """The web address of a request's pull request (forge mode)."""
    forge = forge_for(settings)
    if forge is None:
        raise PromotionError("local mode (promotion.forge.kind: local): a request has no pull request")
    try:
        pull = forge.find_pull(BRANCH_PREFIX + request_id)
    except ForgeError as exc:
        raise PromotionError(str(exc)) from None
    if pull is None:
        raise PromotionError(f"no pull request from branch {BRANCH_PREFIX}{request_id}")
    return pull.html_url


def title_of(record: dict[str, Any]) -> str:
    return f"Promote {record['model_name']} v{record['version']} to prod" + (" (forced)" if record.get("forced") else "")


def online_line(online: dict[str, Any] | None) -> str:
    """The online evidence in one line of the pull request's body."""
    if not online:
        return "none attached"
    return (f"experiment `{online['experiment']}` ({online['mode']}, {online['queries']} queries): "
            f"{online['verdict']}, p = {online['p_value']}, generated {online['generated_at']} "
            f"(`online_evidence.json`{', `online_evidence.html`' if online['html'] else ''})"
            + (" — problems: " + "; ".join(online["problems"]) if online["problems"] else ""))


def describe(record: dict[str, Any], evidence: dict[str, Any]) -> str:
    """The pull request's body: what is pinned, from where, backed by which comparison."""
    d = record.get("decision") or {}
    lines = [f"Pins **{record['model_name']} v{record['version']}** in the prod overlay "
             f"(champion now: {record.get('champion_seen') or 'none'}).", "",
             f"- source: v{record.get('source_version')} in `{record.get('source_registry')}`",
             f"- weights sha256: `{record.get('weights_sha256')}`",
             f"- comparison run: `{evidence.get('compare_run_id')}`, report sha256 `{evidence.get('report_sha256')}`",
             f"- {d.get('metric')} delta {d.get('delta')} vs {d.get('reference')}, p = {d.get('p_value')}",
             f"- model card: `{record.get('model_card') or 'none recorded'}`",
             f"- online evidence: {online_line(record.get('online_evidence'))}",
             f"- requested by {record.get('requested_by')}" + (" — **FORCED**: " + "; ".join(evidence["problems"])
                                                               if record.get("forced") else ""),
             "", "Merging is the approval (CODEOWNERS: the data experts). `rankops promote sync` or the merge "
             "event then moves the champion alias."]
    return "\n".join(lines)
