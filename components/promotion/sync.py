"""`promote sync`: after a pull request's merge, move the champion alias to what main now pins.

Forge mode only. Main on the remote is the truth: its last approve/rollback entry names the
request whose merge put the pin there. The alias moves to the pin only when the forge confirms
that request's pull request is merged and its merge commit is in main; a pin that reached
main any other way is reported and left alone. Who merged is read back from the forge and
appended to main's history (one `merged` line, pushed compare-and-set). Requests whose pull
request was closed without a merge are recorded as rejected on the version they would have
pinned. A webhook payload is only a hint of which pull request changed: its state is read
back from the forge. Running sync again changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.promotion.proposal import forge_for
from components.promotion.records import append_entry
from components.promotion.state import (
    BRANCH_PREFIX,
    PromotionError,
    load_request,
    mirror_champion,
    paths_of,
    promotion_lock,
    read_main,
    registries,
    repo_of,
    sync_clone,
    target_registry_uri,
)
from components.registry.gitops import GitError

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.promotion.state import MainState
    from components.registry.forge import PullRequest
    from components.registry.gitops import Repo

PUSH_TRIES = 3


def event_pull_number(settings: Settings, event: dict[str, Any]) -> int:
    """The pull request number of a `pull_request` webhook payload for this repository."""
    pull = event.get("pull_request") if isinstance(event, dict) else None
    if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
        raise PromotionError("the event has no pull_request.number: not a GitHub pull_request event payload")
    repo_name = (event.get("repository") or {}).get("full_name")
    expected = settings.promotion.forge.repository or ""
    if repo_name and repo_name.lower() != expected.lower():
        raise PromotionError(f"the event is about {repo_name}, not {expected} (promotion.forge.repository)")
    return pull["number"]


def last_decision(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in reversed(history) if e.get("action") in ("approve", "rollback")), None)


def complete(settings: Settings, entry: dict[str, Any], pull: PullRequest, champion: str | None,
             target, source) -> dict[str, Any]:
    """Tags first, then the alias: a sync killed in between is finished by the next one."""
    name, alias = settings.registry.model_name, settings.registry.champion_alias
    version = str(entry["to_version"])
    verb = "approved" if entry["action"] == "approve" else "rolled_back"
    tags = {f"rankops.{verb}_by": pull.merged_by or "", f"rankops.{verb}_at": pull.merged_at or "",
            "rankops.pull_request": pull.html_url, "rankops.merge_commit": pull.merge_commit_sha or "",
            "rankops.promoted_from": champion or "", "rankops.promotion_request": str(entry.get("request_id"))}
    for key, value in tags.items():
        target.set_model_version_tag(name, version, key, value)
    target.set_registered_model_alias(name, alias, version)
    mirror_champion(settings, source, target, version)
    return tags


def record_merge(settings: Settings, repo: Repo, main: MainState, entry: dict[str, Any],
                 pull: PullRequest) -> dict[str, Any] | None:
    """Append who merged `entry`'s pull request to main's history, once; None when it is already there.

    The line goes onto main by a push of a commit whose parent is the main just read: git
    refuses it when main moved meanwhile (another sync, a merge), and then main is read again.
    """
    rid, branch, remote = entry["request_id"], settings.promotion.main_branch, settings.promotion.git_remote
    history_path = paths_of(settings).history
    for attempt in range(1, PUSH_TRIES + 1):
        if any(e.get("action") == "merged" and e.get("request_id") == rid for e in main.history):
            return None
        line = {"action": "merged", "of": entry["action"], "request_id": rid, "model_name": entry.get("model_name"),
                "to_version": entry["to_version"], "by": pull.merged_by, "at": pull.merged_at,
                "pull_request": pull.html_url, "merge_commit": pull.merge_commit_sha}
        text = append_entry(main.history_text, line)
        commit = repo.build_commit([main.tip], {history_path: text}, f"record the merge of {rid} by "
                                   f"{pull.merged_by} (pull request #{pull.number})")
        try:
            repo.push(remote, f"{commit}:refs/heads/{branch}")
        except GitError as exc:
            if attempt == PUSH_TRIES:
                raise PromotionError(f"the champion follows main, but recording who merged {rid} on {branch} failed "
                                     f"{PUSH_TRIES} times ({exc}); the next sync tries again") from None
            sync_clone(settings, repo)  # main as the forge has it now (the caller holds the lock)
            main = read_main(settings, repo)
            continue
        repo.git("update-ref", f"refs/heads/{branch}", commit, main.tip)
        return {**line, "commit": commit}
    return None


def tag_rejected(settings: Settings, target, version: str, number: int, html_url: str,
                 closed_at: str | None) -> bool:
    """Tag `version` as rejected by closed pull request `number`; False when it already says so."""
    name, value = settings.registry.model_name, f"closed pull request #{number}"
    if (target.get_model_version(name, version).tags or {}).get("rankops.rejected_by") == value:
        return False
    for key, tag in (("rankops.rejected_at", closed_at or ""), ("rankops.rejected_pull_request", html_url),
                     ("rankops.rejected_by", value)):
        target.set_model_version_tag(name, version, key, tag)
    return True


def record_rejections(settings: Settings, forge, repo: Repo, main: MainState, target) -> list[dict[str, Any]]:
    """Promotion requests whose pull request was closed without a merge: the copy they pinned is tagged rejected.

    A version asked for several times carries its latest rejection, so a rerun writes nothing.
    Rollback requests pin an existing version: closing one rejects nothing to tag.
    """
    here = target_registry_uri(settings)
    on_main = {e.get("request_id") for e in main.history}
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    skipped = []
    for item in sorted(forge.closed_unmerged(settings.promotion.main_branch, BRANCH_PREFIX), key=lambda i: i["number"]):
        rid = item["head"][len(BRANCH_PREFIX):]
        if rid in on_main:
            continue
        try:
            _, record = load_request(settings, repo, rid, pull=item["number"])
        except PromotionError:
            skipped.append({"request_id": rid, "pull_request": item["html_url"], "recorded": False,
                            "state": "closed without merge; no request record to tag"})
            continue
        if record.get("kind") == "promote" and record.get("target_registry") == here:
            latest[str(record["version"])] = (rid, item)
    out = []
    for version, (rid, item) in latest.items():
        recorded = tag_rejected(settings, target, version, item["number"], item["html_url"], item.get("closed_at"))
        out.append({"request_id": rid, "version": version, "pull_request": item["html_url"], "recorded": recorded,
                    "state": "closed without merge (recorded as rejected)"})
    return out + skipped


def sync(settings: Settings, *, request_id: str | None = None, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """Complete merged promotions (champion := main's pin), record closed ones, report on `request_id` / the event."""
    from components.registry.lookup import alias_version

    forge = forge_for(settings)
    if forge is None:
        raise PromotionError("local mode (promotion.forge.kind: local): there is no pull request to sync; "
                             "decide with `rankops promote approve|reject`")
    asked: PullRequest | None = None
    if event is not None:
        asked = forge.get_pull(event_pull_number(settings, event))  # the forge's word, not the payload's
        if not asked.head_ref.startswith(BRANCH_PREFIX):
            return {"mode": settings.promotion.forge.kind, "ignored": f"pull request #{asked.number} "
                    f"({asked.head_ref}) is not a promotion request", "moved": False}
        request_id = asked.head_ref[len(BRANCH_PREFIX):]
    source, target = registries(settings)
    name, alias = settings.registry.model_name, settings.registry.champion_alias
    repo = repo_of(settings, sync=False)
    with promotion_lock(settings, repo):
        sync_clone(settings, repo)  # under the lock: main as the forge has it, reset by no other process until released
        main = read_main(settings, repo)
        champion = alias_version(target, name, alias)
        result: dict[str, Any] = {"mode": settings.promotion.forge.kind, "pin": main.pin, "champion_before": champion,
                                  "champion": champion, "moved": False, "main": main.tip}
        last = last_decision(main.history)
        if last is not None and str(last.get("to_version")) == main.pin:
            rid = last.get("request_id")
            pull = (asked if asked is not None and rid == request_id else
                    forge.find_pull(BRANCH_PREFIX + rid) if rid else None)
            merged = pull is not None and pull.merged and bool(pull.merge_commit_sha)
            if not merged or not repo.is_ancestor(pull.merge_commit_sha, main.tip):
                state = "no pull request" if pull is None else f"pull request #{pull.number} is {pull.state}" + (
                    ", merged" if pull.merged else ", not merged")
                raise PromotionError(f"main pins v{main.pin} by {last['action']} {rid}, but {state} with its merge "
                                     f"commit in main: the pin did not arrive by an approved merge; champion left at "
                                     f"{champion}")
            result["completed"] = {"request_id": rid, "action": last["action"], "pull_request": pull.summary()}
            if champion != main.pin:
                result["tags"] = complete(settings, last, pull, champion, target, source)
                result.update(champion=main.pin, moved=True)
            else:
                mirror_champion(settings, source, target, main.pin)
            result["recorded"] = record_merge(settings, repo, main, last, pull)
        result["rejected"] = record_rejections(settings, forge, repo, main, target)
        if request_id and (last is None or request_id != last.get("request_id")):
            result["request"] = report_request(settings, forge, repo, request_id, asked, main.history, target)
    return result


def report_request(settings: Settings, forge, repo, request_id: str, pull: PullRequest | None,
                   history: list[dict[str, Any]], target) -> dict[str, Any]:
    """Where a request that main does not pin stands; a pull request closed unmerged is recorded as rejected."""
    pull = pull or forge.find_pull(BRANCH_PREFIX + request_id)
    if pull is None:
        return {"request_id": request_id, "state": "no pull request"}
    out = {"request_id": request_id, "pull_request": pull.summary()}
    if pull.merged:
        on_main = any(e.get("request_id") == request_id for e in history)
        return {**out, "state": "merged, superseded by a later change" if on_main else "merged, not yet on main here"}
    if pull.state == "open":
        return {**out, "state": "open: waiting for the CODEOWNERS' merge"}
    try:
        _, record = load_request(settings, repo, request_id, pull=pull.number)
    except PromotionError:
        return {**out, "state": "closed without merge"}
    if record.get("kind") != "promote":
        return {**out, "state": f"closed without merge ({record.get('kind')} not done)"}
    tag_rejected(settings, target, str(record["version"]), pull.number, pull.html_url, pull.closed_at)
    return {**out, "state": "closed without merge (recorded as rejected)"}
