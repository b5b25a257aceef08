"""`promote sync`: after a pull request's merge, move the champion alias to what main now pins.

Forge mode only. Main on the remote is the truth: its last approve/rollback entry names the
request whose merge put the pin there. The alias moves to the pin only when the forge confirms
that request's pull request is merged and its merge commit is in main; a pin that reached
main any other way is reported and left alone. A webhook payload is only a hint of which pull
request changed: its state is read back from the forge. Running sync again changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.promotion.proposal import forge_for
from components.promotion.state import (
    BRANCH_PREFIX,
    PromotionError,
    load_request,
    mirror_champion,
    promotion_lock,
    read_main,
    registries,
    repo_of,
)

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.registry.forge import PullRequest


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


def sync(settings: Settings, *, request_id: str | None = None, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """Complete merged promotions (champion := main's pin) and report on `request_id` / the event's pull request."""
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
    repo = repo_of(settings)  # a synced clone: main as the forge has it
    with promotion_lock(settings, repo):
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
        if request_id and (last is None or request_id != last.get("request_id")):
            result["request"] = report_request(settings, forge, repo, request_id, asked, main.history)
    return result


def report_request(settings: Settings, forge, repo, request_id: str, pull: PullRequest | None,
                   history: list[dict[str, Any]]) -> dict[str, Any]:
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
        _, record = load_request(settings, repo, request_id)
    except PromotionError:
        return {**out, "state": "closed without merge"}
    _, target = registries(settings)
    target.set_model_version_tag(settings.registry.model_name, str(record["version"]), "rankops.rejected_by",
                                 f"closed pull request #{pull.number}")
    return {**out, "state": "closed without merge (recorded as rejected)"}
