"""approve / reject / rollback / history: the human decision, applied without half-states.

Order of an approve or rollback, all under the promotion lock:
1. sync the clone of `git_url` (state.repo_of), re-read main and the alias; refuse if either moved
   since the request (optimistic check);
2. build the main commit (pin + history line + request record): nothing visible yet;
3. move the `champion` alias, write the version's audit tags;
4. compare-and-set main to the new commit: the commit point;
5. push main (the new commit itself) when a remote exists.
A failure in 3-5 puts back the alias, the tags and main, so alias, overlay and history
always agree. Syncing the shared clone forces its main to the remote's: it happens only under
the lock, so no other process's sync can reset main between steps 4 and 5 (which made the push
a no-op and left the alias moved with no main recording it). Git is the source of truth: an
alias left behind by a killed process is repaired from the pin on the next decision (before
main records any decision, a pin that names no registered version, such as MODEL_VERSION=0,
means no champion).

This is the local mode (no forge). In forge mode the merge of the pull request is the
approval, closing it the rejection, and `rankops promote sync` moves the alias (sync.py);
approve and reject here refuse, and a rollback is a pull request like any other change.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from components.promotion.records import append_entry, decided, previous_champion, set_pin
from components.promotion.state import (
    BRANCH_PREFIX,
    MainState,
    PromotionConflict,
    PromotionError,
    load_request,
    mirror_champion,
    paths_of,
    promotion_lock,
    push_if_remote,
    read_main,
    registries,
    repo_of,
    sync_clone,
)
from components.registry.gitops import GitError, RefMoved, Repo

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(UTC).isoformat()


def set_alias(client: MlflowClient, name: str, alias: str, version: str | None) -> None:
    if version is None:
        client.delete_registered_model_alias(name, alias)
    else:
        client.set_registered_model_alias(name, alias, version)


def reconcile_alias(settings: Settings, client: MlflowClient, main: MainState) -> str | None:
    """Champion per the registry, repaired from git when a crashed decision left it behind the pin."""
    from components.registry.lookup import alias_version

    name, alias = settings.registry.model_name, settings.registry.champion_alias
    current = alias_version(client, name, alias)
    last = next((e for e in reversed(main.history) if e.get("action") in ("approve", "rollback")), None)
    if last is not None and str(last.get("to_version")) == main.pin and current != main.pin:
        log.warning("champion alias %s disagrees with the prod pin %s on main; repairing it from git", current, main.pin)
        set_alias(client, name, alias, main.pin)
        return main.pin
    if last is None and current is not None and current != main.pin:
        # No decision on main yet, so none moved the alias: a killed first approval left it (a missing alias
        # is the state before any decision, not a leftover). Back to the pin, or to no champion when the pin
        # names no version of the registry (a bootstrap pin such as MODEL_VERSION=0).
        repaired = main.pin if main.pin is not None and version_exists(client, name, main.pin) else None
        log.warning("champion alias %s set but main records no decision (prod pin %s); repairing it from git to %s",
                    current, main.pin, repaired or "no champion")
        set_alias(client, name, alias, repaired)
        return repaired
    return current


def version_exists(client: MlflowClient, name: str, version: str) -> bool:
    """Whether the registry holds `version` of `name`; any other registry failure is raised, not read as 'no'."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return False
        raise
    return True


def apply_decision(settings: Settings, repo: Repo, client: MlflowClient, main: MainState, *,
                   files: dict[str, str], parents: list[str], message: str, champion_from: str | None,
                   champion_to: str | None, tags: dict[str, str]) -> str:
    """Steps 2-5 of the module docstring; returns the new main commit."""
    name, alias, branch = settings.registry.model_name, settings.registry.champion_alias, settings.promotion.main_branch
    commit = repo.build_commit(parents, files, message, base=main.tip)
    old_tags: dict[str, str | None] = {}
    tag_version = champion_to
    moved_alias = moved_main = False
    try:
        if champion_to is not None and champion_to != champion_from:
            set_alias(client, name, alias, champion_to)
            moved_alias = True
        if tag_version is not None:
            existing = client.get_model_version(name, tag_version).tags or {}
            for key, value in tags.items():
                old_tags[key] = existing.get(key)
                client.set_model_version_tag(name, tag_version, key, value)
        repo.move_branch(branch, commit, main.tip, list(files))
        moved_main = True
        push_if_remote(settings, repo, branch, commit)
        return commit
    except BaseException as exc:
        if moved_main:
            repo.move_branch(branch, main.tip, commit, list(files))
        for key, value in old_tags.items():
            if value is None:
                client.delete_model_version_tag(name, tag_version, key)
            else:
                client.set_model_version_tag(name, tag_version, key, value)
        if moved_alias:
            set_alias(client, name, alias, champion_from)
        if isinstance(exc, RefMoved):
            raise PromotionConflict(f"{branch} moved while deciding ({exc}); nothing was changed, retry") from None
        if isinstance(exc, GitError):
            raise PromotionError(f"git failed, nothing was changed: {exc}") from None
        raise


def refuse_in_forge_mode(settings: Settings, request_id: str, verb: str) -> None:
    """In forge mode people decide on the pull request; say which one."""
    from components.promotion.proposal import forge_for

    forge = forge_for(settings)
    if forge is None:
        return
    from components.registry.forge import ForgeError

    try:
        pull = forge.find_pull(BRANCH_PREFIX + request_id)
    except ForgeError as exc:
        pull, where = None, f" (looking it up failed: {exc})"
    else:
        where = f": pull request #{pull.number} {pull.html_url} ({pull.state})" if pull else ": no pull request found"
    action = "merging" if verb == "approve" else "closing without merging"
    raise PromotionError(f"forge mode ({settings.promotion.forge.kind}): {verb} request {request_id} by {action} its "
                         f"pull request{where}; the merge needs the CODEOWNERS' review, then `rankops promote sync` "
                         "moves the champion")


@contextmanager
def open_request(settings: Settings, request_id: str) -> Iterator[tuple[Any, ...]]:
    """Under the promotion lock: (client, repo, paths, request tip, request, main, champion) of an undecided request.

    `client` is the registry prod reads (the target); the source registry's champion follows it afterwards.
    """
    _, client = registries(settings)
    repo = repo_of(settings, sync=False)
    p = paths_of(settings)
    with promotion_lock(settings, repo):
        sync_clone(settings, repo)
        req_tip, req = load_request(settings, repo, request_id)
        main = read_main(settings, repo)
        done = decided(main.history, request_id)
        if done:
            raise PromotionError(f"request {request_id} was already {done['action']}d by {done.get('by')} at {done.get('at')}")
        yield client, repo, p, req_tip, req, main, reconcile_alias(settings, client, main)


def request_record(repo: Repo, p: Any, req_tip: str, request_id: str) -> dict[str, str]:
    """Every file of the request's folder as committed on its branch (request, decision, model card, online
    evidence, ...), carried onto main with the decision, as a forge-mode merge carries them."""
    folder = p.request_file(request_id, "")
    paths = repo.git("ls-tree", "-r", "--name-only", "-z", req_tip, "--", folder).split("\0")
    return {path: repo.show(req_tip, path) or "" for path in paths if path}


def approve_request(settings: Settings, request_id: str, *, by: str, note: str | None = None) -> dict[str, Any]:
    """Merge the request's pin into main, move `champion`, append the audit entry (local mode)."""
    refuse_in_forge_mode(settings, request_id, "approve")
    with open_request(settings, request_id) as (client, repo, p, req_tip, req, main, champion):
        if champion != req["champion_seen"] or main.pin != req["pin_seen"]:
            raise PromotionConflict(
                f"request {request_id} was made against champion {req['champion_seen']} / pin {req['pin_seen']}, "
                f"but now champion is {champion} and the prod pin is {main.pin}: another promotion won; "
                f"open a new request with `rankops promote request {req.get('source_version', req['version'])}`")
        version, at = str(req["version"]), now()
        entry = {"action": "approve", "request_id": request_id, "model_name": req["model_name"],
                 "from_version": champion, "to_version": version, "by": by, "at": at, "note": note,
                 "decision": req.get("decision"), "report": p.request_file(request_id, "decision.md"),
                 "requested_by": req.get("requested_by"), "forced": bool(req.get("forced")),
                 "online_evidence": req.get("online_evidence")}
        files = {p.pin: set_pin(main.pin_text, version, req["model_name"]),
                 p.history: append_entry(main.history_text, entry)}
        files.update(request_record(repo, p, req_tip, request_id))
        commit = apply_decision(
            settings, repo, client, main, files=files, parents=[main.tip, req_tip],
            message=f"approve {request_id}: {req['model_name']} v{champion} -> v{version} by {by}",
            champion_from=champion, champion_to=version,
            tags={"rankops.approved_by": by, "rankops.approved_at": at, "rankops.promoted_from": str(champion),
                  "rankops.promotion_request": request_id})
    source, target = registries(settings)
    mirror_champion(settings, source, target, version)
    return {**entry, "commit": commit}


def reject_request(settings: Settings, request_id: str, *, by: str, note: str) -> dict[str, Any]:
    """Record the rejection on main (history + request record); alias and pin stay."""
    if not note.strip():
        raise PromotionError("a rejection needs a --note saying why")
    refuse_in_forge_mode(settings, request_id, "reject")
    with open_request(settings, request_id) as (client, repo, p, req_tip, req, main, champion):
        entry = {"action": "reject", "request_id": request_id, "model_name": req["model_name"],
                 "from_version": champion, "to_version": str(req["version"]), "by": by, "at": now(), "note": note,
                 "decision": req.get("decision"), "report": p.request_file(request_id, "decision.md"),
                 "requested_by": req.get("requested_by")}
        files = {p.history: append_entry(main.history_text, entry)}
        files.update(request_record(repo, p, req_tip, request_id))
        commit = apply_decision(settings, repo, client, main, files=files, parents=[main.tip],
                                message=f"reject {request_id}: {req['model_name']} v{req['version']} by {by}",
                                champion_from=champion, champion_to=None, tags={})
    client.set_model_version_tag(req["model_name"], str(req["version"]), "rankops.rejected_by", by)
    return {**entry, "commit": commit}


def rollback(settings: Settings, *, to: str | None = None, by: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Put the previous champion (or `to`) back: alias and prod pin, with an audit entry.

    In forge mode this opens the rollback's pull request (its merge completes it through sync).
    """
    from components.promotion.proposal import mode_of
    from components.promotion.request import request_rollback, settle_main
    from components.registry.lookup import resolve_version

    if mode_of(settings) != "local":
        settle_main(settings)  # a merge sync has not completed yet is completed first (alias, history)
    source, client = registries(settings)
    repo = repo_of(settings, sync=False)
    p = paths_of(settings)
    name = settings.registry.model_name
    by = by or getpass.getuser()
    forge_mode = mode_of(settings) != "local"
    with promotion_lock(settings, repo):
        sync_clone(settings, repo)
        main = read_main(settings, repo)
        champion = main.pin if forge_mode else reconcile_alias(settings, client, main)
        if champion is None:
            raise PromotionError(f"{name} has no champion to roll back from")
        target = to or previous_champion(main.history, champion)
        if target is None:
            raise PromotionError(f"no earlier champion than v{champion} in the history; say which with --to VERSION")
        target = str(resolve_version(client, name, target).version)
        if target == champion:
            raise PromotionError(f"v{target} is already the champion")
        if forge_mode:
            return request_rollback(settings, repo, main, from_version=champion, to_version=target, by=by, note=note)
        at = now()
        entry = {"action": "rollback", "request_id": None, "model_name": name, "from_version": champion,
                 "to_version": target, "by": by, "at": at, "note": note}
        files = {p.pin: set_pin(main.pin_text, target, name), p.history: append_entry(main.history_text, entry)}
        commit = apply_decision(settings, repo, client, main, files=files, parents=[main.tip],
                                message=f"rollback {name} v{champion} -> v{target} by {by}",
                                champion_from=champion, champion_to=target,
                                tags={"rankops.rolled_back_at": at, "rankops.rolled_back_by": by,
                                      "rankops.promoted_from": champion})
    mirror_champion(settings, source, client, target)
    return {**entry, "commit": commit}


def history(settings: Settings) -> list[dict[str, Any]]:
    """The audit trail on main, newest first."""
    repo = repo_of(settings)
    return list(reversed(read_main(settings, repo).history))
