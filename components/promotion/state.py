"""Where promotion state lives and how it is read and locked.

Git (main branch of `promotion.git_repo`) is the source of truth for the prod pin and
the audit history; the registry's `champion` alias follows it. Every decision takes one
lock file in the repository's git dir, then re-checks state optimistically before moving
anything.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.promotion.records import parse_history, read_pin
from components.registry.gitops import Repo, local_checkout

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

BRANCH_PREFIX = "promote/"

log = logging.getLogger(__name__)


class PromotionError(RuntimeError):
    """An expected promotion failure (the message says what and how to go on)."""


class PromotionConflict(PromotionError):
    """Someone else changed the champion or the pin, or holds the promotion lock."""


@dataclass(frozen=True)
class Paths:
    pin: str
    history: str
    requests: str

    def request_file(self, request_id: str, name: str) -> str:
        return f"{self.requests}/{request_id}/{name}"


def paths_of(settings: Settings) -> Paths:
    cfg = settings.promotion
    return Paths(pin=f"{cfg.prod_overlay.rstrip('/')}/model.env", history=cfg.history_file, requests=cfg.requests_dir)


def repo_of(settings: Settings, *, sync: bool = True) -> Repo:
    """The GitOps repository: a synced clone of `git_url`, else `git_repo` (relative = current directory).

    The clone of `git_url` is shared by every process on this home, and syncing it forces all its
    branches to the remote's: run between another process's move of main and its push, it would
    reset main and make that push a no-op. So the sync only runs under the promotion lock
    (`sync_clone`), which the decisions hold from reading main to pushing it; here it takes the lock
    for the fetch alone. `sync=False`: the clone as it is, for a caller that syncs under its own lock.
    """
    if settings.promotion.git_url:
        from components.registry.gitops import GitError, cached_clone

        try:
            repo = cached_clone(settings.resolve("gitops-cache"), settings.promotion.git_url)
        except GitError as exc:
            raise PromotionError(f"cannot sync the GitOps repo: {exc}") from None
        if sync:
            with promotion_lock(settings, repo):
                sync_clone(settings, repo)
        return repo
    path = local_checkout(settings, settings.promotion.git_repo)
    repo = Repo(path)
    if not os.path.isdir(path) or not repo.git("rev-parse", "--git-dir", check=False):
        raise PromotionError(f"promotion.git_repo {path} is not a git repository")
    if repo.tip(settings.promotion.main_branch) is None:
        raise PromotionError(f"{path} has no branch {settings.promotion.main_branch!r} (promotion.main_branch)")
    return repo


def sync_clone(settings: Settings, repo: Repo) -> None:
    """Bring the clone of `git_url` to the remote's branches (nothing for a `git_repo` checkout).

    Call it only while holding `promotion_lock` (see `repo_of`).
    """
    if not settings.promotion.git_url:
        return
    from components.registry.gitops import GitError, sync_branches

    try:
        sync_branches(repo)
    except GitError as exc:
        raise PromotionError(f"cannot sync the GitOps repo: {exc}") from None


@contextmanager
def promotion_lock(settings: Settings, repo: Repo) -> Iterator[None]:
    """One promotion at a time per repository; a second one fails after `lock_timeout_s`."""
    from filelock import FileLock, Timeout

    git_dir = Path(repo.git("rev-parse", "--absolute-git-dir"))
    lock = FileLock(str(git_dir / "rankops-promotion.lock"), timeout=settings.promotion.lock_timeout_s,
                    thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise PromotionConflict(
            f"another promotion holds {lock.lock_file} (waited {settings.promotion.lock_timeout_s:.0f} s); retry later"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class MainState:
    """What main says now: its tip, the pinned version, the history."""

    tip: str
    pin_text: str | None
    pin: str | None
    history_text: str | None
    history: list[dict[str, Any]]


def read_main(settings: Settings, repo: Repo) -> MainState:
    p = paths_of(settings)
    tip = repo.tip(settings.promotion.main_branch)
    pin_text = repo.show(tip, p.pin)
    if pin_text is None:
        raise PromotionError(f"{repo.path}: {p.pin} is missing on {settings.promotion.main_branch}")
    history_text = repo.show(tip, p.history)
    return MainState(tip=tip, pin_text=pin_text, pin=read_pin(pin_text), history_text=history_text,
                     history=parse_history(history_text, f"{settings.promotion.main_branch}:{p.history}"))


def load_request(settings: Settings, repo: Repo, request_id: str, pull: int | None = None) -> tuple[str, dict[str, Any]]:
    """(branch tip, request.json) of a promotion request.

    A closed pull request's branch may have been deleted on the forge; its head stays readable as
    `refs/pull/<pull>/head` (GitHub keeps it), fetched when `pull` is given.
    """
    tip = repo.tip(BRANCH_PREFIX + request_id)
    remote = settings.promotion.git_remote
    if tip is None and pull is not None and repo.has_remote(remote):
        ref = f"refs/rankops/pull/{int(pull)}"
        repo.git("fetch", "-q", remote, f"+refs/pull/{int(pull)}/head:{ref}", check=False)
        tip = repo.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False) or None
    text = repo.show(tip, paths_of(settings).request_file(request_id, "request.json")) if tip else None
    if text is None:
        raise PromotionError(f"no promotion request {request_id!r} in {repo.path} (see `rankops promote history`)")
    return tip, json.loads(text)


def request_ids(repo: Repo, prefix: str = "") -> list[str]:
    """Ids of the request branches (promote/<id>) whose id starts with `prefix`, oldest name first."""
    out = repo.git("for-each-ref", "--format=%(refname)", f"refs/heads/{BRANCH_PREFIX}{prefix}*")
    return sorted(line.removeprefix(f"refs/heads/{BRANCH_PREFIX}") for line in out.splitlines() if line)


def push_if_remote(settings: Settings, repo: Repo, branch: str, commit: str) -> bool:
    """Push `commit` as `branch`: the commit, not the local ref, which another process's sync of a shared
    clone may prune before the push (the ref comes back with the next sync, from the remote)."""
    remote = settings.promotion.git_remote
    if not repo.has_remote(remote):
        return False
    repo.push(remote, f"{commit}:refs/heads/{branch}")
    return True


def registries(settings: Settings) -> tuple[MlflowClient, MlflowClient]:
    """(source, target): the registry this environment registers in, and the one prod reads (often the same)."""
    from components.registry.lookup import use_mlflow
    from components.registry.transfer import target_client

    source = use_mlflow(settings)
    target = settings.promotion.target
    if target is None or target.tracking_uri == settings.tracking_uri:
        return source, source
    return source, target_client(settings)


def target_registry_uri(settings: Settings) -> str:
    """The registry prod reads, as requests record it (`target_registry`, credentials masked)."""
    from components.registry.transfer import public_uri

    target = settings.promotion.target
    return public_uri(target.tracking_uri if target is not None else settings.tracking_uri)


def source_version_of(settings: Settings, source: MlflowClient, target: MlflowClient, version: str | None) -> str | None:
    """The source-registry version a pinned (target) version was copied from; itself when there is one registry."""
    if version is None or source is target:
        return version
    from components.registry.transfer import public_uri

    tags = target.get_model_version(settings.registry.model_name, version).tags or {}
    if tags.get("rankops.source_registry") != public_uri(settings.tracking_uri):
        return None  # copied from another environment's registry: no version of ours
    return tags.get("rankops.source_version")


def mirror_champion(settings: Settings, source: MlflowClient, target: MlflowClient, version: str | None) -> str | None:
    """Point the source registry's champion at the version prod's pin was copied from (compare reads it there).

    Returns that version; None when there is none here (one registry, no pinned version, or a pinned version
    copied from another environment's registry): then the alias is left where it was (see
    `follow_target_champion`).
    """
    if source is target or version is None:
        return None
    from components.registry.lookup import alias_version

    name, alias = settings.registry.model_name, settings.registry.champion_alias
    origin = source_version_of(settings, source, target, version)
    if origin and alias_version(source, name, alias) != origin:
        source.set_registered_model_alias(name, alias, origin)
    return origin


def follow_target_champion(settings: Settings, source: MlflowClient) -> None:
    """Where prod reads another registry, point this one's champion at the source of prod's champion.

    The alias in prod moves in prod (`promote sync` there); this environment's mirror follows it
    whenever it is about to be read, so a comparison is made against what prod serves.

    When prod's champion was copied from another environment's registry (staging's version promoted
    after dev's), no version here is what prod serves, and the mirror is left where it was rather than
    removed: this environment's batch scoring reads `@champion` too, and without the alias `compare`
    would silently judge against BM25, which looks like a first promotion. A comparison made here
    then names this registry's old champion, and `promote request` does not accept it as evidence
    (`comparison_baseline`): the request is refused as unverified, naming prod's champion and the
    registry it came from, unless a reviewer is asked with `--force`.
    """
    target = settings.promotion.target
    if target is None or target.tracking_uri == settings.tracking_uri:
        return
    from components.registry.lookup import alias_version
    from components.registry.transfer import target_client

    client = target_client(settings)
    champion = alias_version(client, settings.registry.model_name, settings.registry.champion_alias)
    if mirror_champion(settings, source, client, champion) is None and champion is not None:
        log.warning("prod's champion v%s was not copied from this registry: %s still names v%s, which prod no "
                    "longer serves; a comparison against it backs no promotion request", champion,
                    settings.registry.champion_alias,
                    alias_version(source, settings.registry.model_name, settings.registry.champion_alias) or "none")


def comparison_baseline(settings: Settings, source: MlflowClient, target: MlflowClient) -> tuple[str | None, str | None]:
    """(the champion a comparison in this registry must have been measured against, why there is none).

    One registry: its `@champion`. Where prod reads another registry, prod's champion decides, as
    `compare` follows it (`follow_target_champion`): while prod has none, this registry's `@champion`
    (what compare then reads); else the version here prod's champion was copied from. When prod's
    champion has no origin here (copied from another environment's registry, or registered in prod
    itself), (None, a problem naming prod's version and where it came from): no comparison made here
    is against what prod serves.
    """
    from components.registry.lookup import alias_version
    from components.registry.transfer import public_uri

    name, alias = settings.registry.model_name, settings.registry.champion_alias
    champion = alias_version(target, name, alias)
    if source is target or champion is None:
        return alias_version(source, name, alias), None
    origin = source_version_of(settings, source, target, champion)
    if origin:
        return origin, None
    tags = target.get_model_version(name, champion).tags or {}
    came_from = (f"copied from v{tags.get('rankops.source_version') or '?'} of {tags['rankops.source_registry']}"
                 if tags.get("rankops.source_registry") else "registered there, not copied")
    return None, (f"prod's champion is v{champion} in {target_registry_uri(settings)}, {came_from}: no version of "
                  f"this registry ({public_uri(settings.tracking_uri)}) is what prod serves, so no comparison made "
                  f"here is against today's champion")
