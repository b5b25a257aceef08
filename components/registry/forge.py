"""Pull requests through a forge's REST API (GitHub's documented endpoints), for the write-back and promotion.

Only what the flows need: open a pull request (with labels and reviewers), read one (state,
merged, merge commit, who merged), find one by its head branch, list the recently closed ones. The token comes from the environment
variable the settings name, never from a file; errors carry the forge's own message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.registry.settings import ForgeSettings

API_VERSION = "2022-11-28"


class ForgeError(RuntimeError):
    """The forge refused or failed a call (the message says which call and what the forge answered)."""


@dataclass(frozen=True)
class PullRequest:
    """The fields of GitHub's pull-request object the flows read."""

    number: int
    html_url: str
    state: str
    merged: bool
    merge_commit_sha: str | None
    head_ref: str
    head_sha: str
    base_ref: str
    merged_by: str | None
    merged_at: str | None
    closed_at: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PullRequest:
        try:
            return cls(number=int(data["number"]), html_url=data["html_url"], state=data["state"],
                       merged=bool(data["merged"]), merge_commit_sha=data.get("merge_commit_sha"),
                       closed_at=data.get("closed_at"),
                       head_ref=data["head"]["ref"], head_sha=data["head"]["sha"], base_ref=data["base"]["ref"],
                       merged_by=(data.get("merged_by") or {}).get("login"), merged_at=data.get("merged_at"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ForgeError(f"the forge's pull request lacks field {exc} (got keys {sorted(data)})") from None

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "html_url": self.html_url, "state": self.state, "merged": self.merged,
                "merge_commit_sha": self.merge_commit_sha, "head": self.head_ref, "base": self.base_ref,
                "merged_by": self.merged_by, "merged_at": self.merged_at, "closed_at": self.closed_at}


class GitHub:
    """GitHub's REST API for one repository (https://docs.github.com/rest/pulls)."""

    def __init__(self, cfg: ForgeSettings, token: str):
        import requests

        self.cfg = cfg
        self.owner = (cfg.repository or "").split("/", 1)[0]
        self.base = f"{cfg.api_url.rstrip('/')}/repos/{cfg.repository}"
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
                                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": "rankops"})

    def call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        import requests

        url = self.base + path
        try:
            resp = self.session.request(method, url, json=body, params=params, timeout=self.cfg.timeout_s)
        except requests.RequestException as exc:
            raise ForgeError(f"{method} {url}: {exc}") from None
        if resp.status_code not in ok:
            try:
                data = resp.json()
                detail = data.get("message", "") + "".join(f"; {e.get('message') or e}" for e in data.get("errors", []))
            except ValueError:
                detail = resp.text[:300]
            raise ForgeError(f"{method} {url} answered {resp.status_code}: {detail}")
        return resp.json()

    def get_pull(self, number: int) -> PullRequest:
        return PullRequest.from_api(self.call("GET", f"/pulls/{int(number)}"))

    def find_pull(self, head: str, state: str = "all") -> PullRequest | None:
        """The newest pull request from branch `head` (the list endpoint's items lack `merged`: re-read it)."""
        items = self.call("GET", "/pulls", params={"head": f"{self.owner}:{head}", "state": state, "per_page": 10})
        if not items:
            return None
        return self.get_pull(max(int(item["number"]) for item in items))

    def closed_unmerged(self, base: str, head_prefix: str) -> list[dict[str, Any]]:
        """Pull requests into `base` from branches `head_prefix`*, closed without a merge: the 100 last updated.

        One call: the list's simple items carry `merged_at` (null when closed unmerged) but not `merged`.
        """
        items = self.call("GET", "/pulls", params={"state": "closed", "base": base, "sort": "updated",
                                                   "direction": "desc", "per_page": 100})
        return [{"number": int(i["number"]), "html_url": i["html_url"], "head": i["head"]["ref"],
                 "closed_at": i.get("closed_at")} for i in items
                if i["head"]["ref"].startswith(head_prefix) and i.get("merged_at") is None]

    def open_pull(self, head: str, base: str, title: str, body: str) -> tuple[PullRequest, list[str]]:
        """The open pull request from `head` into `base`, created when there is none; plus what did not stick.

        Labels and review requests are courtesy (CODEOWNERS asks the owners anyway): once the pull
        request exists, their failure is returned as a warning instead of undoing it.
        """
        existing = self.find_pull(head, state="open")
        if existing is not None:
            return existing, []
        pr = PullRequest.from_api(self.call("POST", "/pulls", body={"title": title, "head": head, "base": base,
                                                                     "body": body, "maintainer_can_modify": True}))
        warnings = []
        if self.cfg.labels:
            try:
                self.call("POST", f"/issues/{pr.number}/labels", body={"labels": list(self.cfg.labels)})
            except ForgeError as exc:
                warnings.append(str(exc))
        if self.cfg.reviewers or self.cfg.team_reviewers:
            try:
                self.call("POST", f"/pulls/{pr.number}/requested_reviewers",
                          body={"reviewers": list(self.cfg.reviewers), "team_reviewers": list(self.cfg.team_reviewers)})
            except ForgeError as exc:
                warnings.append(str(exc))
        return pr, warnings


def forge_of(cfg: ForgeSettings, environ: dict[str, str] | None = None) -> GitHub | None:
    """The forge client, None in local mode; a missing token is an error naming the variable."""
    if cfg.kind == "local":
        return None
    token = (environ if environ is not None else os.environ).get(cfg.token_env, "")
    if not token:
        raise ForgeError(f"forge {cfg.kind} ({cfg.repository}) needs an API token in ${cfg.token_env}")
    return GitHub(cfg, token)
