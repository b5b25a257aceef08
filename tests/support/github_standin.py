"""A strict local stand-in for GitHub's pull-request REST API over a real bare git repository.

Serves on 127.0.0.1 the endpoints rankops calls, with GitHub's documented request shapes
(https://docs.github.com/rest/pulls/pulls, /rest/issues/labels, /rest/pulls/review-requests):
  POST /repos/{o}/{r}/pulls                          title, head, base (required) -> 201 pull request
  GET  /repos/{o}/{r}/pulls?head=owner:ref&base=b&state=&sort=&direction=&per_page=
                                                     -> 200 list of *simple* pull requests (no `merged`,
                                                        no `merged_by`; `merged_at` is there)
  GET  /repos/{o}/{r}/pulls/{n}                      -> 200 pull request (number, html_url, state, merged, ...)
  POST /repos/{o}/{r}/issues/{n}/labels              {"labels": [...]} -> 200 labels
  POST /repos/{o}/{r}/pulls/{n}/requested_reviewers  {"reviewers": [...], "team_reviewers": [...]} -> 201
It refuses what GitHub refuses: no or wrong token (401), an unknown route or repository (404),
a body that is not JSON / not sent as application/json (400 / 415), missing or ill-typed fields,
a head or base branch the repository lacks, no commits between them, a second open pull
request for one head, a reviewer who is not a collaborator, a list filter outside its documented
values (422); it also refuses list parameters GitHub does not know (GitHub ignores them), so a
misspelt filter fails a test instead of passing silently. Users (`user`, `merged_by`) are GitHub's simple-user objects, and every pull request
keeps its head as `refs/pull/<n>/head` in the repository, as GitHub does, also after its branch
is deleted. The merge itself is what
people do on GitHub, so it is a method here (`merge`): it needs the approval of the code owners
of every changed file (CODEOWNERS on the base branch, branch protection "require review from
Code Owners"), merges with real git, and refuses a conflicting merge like GitHub does.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_VERSIONS = {"2022-11-28", "2026-03-10"}
SIMPLE_ONLY_MISSING = ("merged", "mergeable", "merged_by", "comments", "commits", "additions", "deletions",
                       "changed_files", "maintainer_can_modify")


class MergeRefused(RuntimeError):
    """GitHub would not merge: a code owner's approval is missing, or the branches conflict."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    user: str
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merged_at: str | None = None
    closed_at: str | None = None
    updated_at: str = field(default_factory=lambda: now())
    merge_commit_sha: str | None = None
    head_sha: str = ""
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStandIn:
    """One repository `owner/name` backed by the bare repository at `git_dir`."""

    def __init__(self, git_dir: str, repository: str, token: str, *, collaborators: set[str] | None = None,
                 teams: dict[str, set[str]] | None = None, bot: str = "rankops-bot", delete_branch_on_merge: bool = True):
        self.git_dir, self.repository, self.token, self.bot = str(git_dir), repository, token, bot
        self.owner = repository.split("/")[0]
        self.collaborators = set(collaborators or set()) | {bot}
        self.teams = {k.lower(): set(v) for k, v in (teams or {}).items()}  # "@org/team" -> logins
        self.delete_branch_on_merge = delete_branch_on_merge
        self.pulls: dict[int, Pull] = {}
        self.requests: list[dict[str, Any]] = []
        self.outages: list[tuple[str, str, int]] = []  # (method, path, status) answered once, as GitHub's 5xx
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- git -------------------------------------------------------------------------------
    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["git", *args], cwd=self.git_dir, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr}")
        return proc

    def tip(self, branch: str) -> str | None:
        out = self.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False).stdout.strip()
        return out or None

    # ---- what people do on github.com ------------------------------------------------------
    @staticmethod
    def owners_in(codeowners: str) -> Callable[[str], list[str]]:
        """Owners of a path per a CODEOWNERS text: the last matching pattern wins."""
        rules = [(parts[0], parts[1:]) for line in codeowners.splitlines()
                 if (parts := line.split("#", 1)[0].split())]

        def owners(path: str) -> list[str]:
            found: list[str] = []
            for pattern, rule in rules:
                anchored = pattern.lstrip("/")
                if pattern == "*" or path == anchored or (anchored.endswith("/") and path.startswith(anchored)) \
                        or (not pattern.startswith("/") and path.startswith(anchored.rstrip("/") + "/")):
                    found = rule
            return found

        return owners

    def owners_of(self, path: str, base_tip: str) -> list[str]:
        """Owners of `path` per CODEOWNERS on the base branch."""
        return self.owners_in(self.git("show", f"{base_tip}:.github/CODEOWNERS", check=False).stdout)(path)

    def may_approve(self, login: str, owners: list[str]) -> bool:
        return any(o.lower() == f"@{login}".lower() or login in self.teams.get(o.lower(), set()) for o in owners)

    def merge(self, number: int, by: str) -> str:
        """Merge pull request `number` as `by` (who must own every changed file); returns the merge commit."""
        with self.lock:
            pull = self.pulls[number]
            if pull.state != "open":
                raise MergeRefused(f"pull request #{number} is {pull.state}")
            base_tip, head_tip = self.tip(pull.base), self.tip(pull.head)
            changed = self.git("diff", "--name-only", f"{base_tip}...{head_tip}").stdout.split()
            missing = [p for p in changed if (o := self.owners_of(p, base_tip)) and not self.may_approve(by, o)]
            if missing:
                raise MergeRefused(f"{by} is not a code owner of {missing}: review from code owners required")
            tree = self.git("merge-tree", "--write-tree", base_tip, head_tip, check=False)
            if tree.returncode != 0:
                raise MergeRefused(f"pull request #{number} has conflicts with {pull.base}")
            commit = self.git("-c", f"user.name={by}", "-c", f"user.email={by}@users.noreply.github.com",
                              "commit-tree", tree.stdout.split()[0], "-p", base_tip, "-p", head_tip, "-m",
                              f"Merge pull request #{number} from {self.owner}/{pull.head}").stdout.strip()
            self.git("update-ref", f"refs/heads/{pull.base}", commit, base_tip)
            pull.head_sha, pull.state, pull.merged, pull.merged_by = head_tip, "closed", True, by
            pull.merged_at = pull.closed_at = pull.updated_at = now()
            pull.merge_commit_sha = commit
            if self.delete_branch_on_merge:
                self.git("update-ref", "-d", f"refs/heads/{pull.head}")
            return commit

    def fail_next(self, method: str, path: str, status: int = 502) -> None:
        """The next `method` call of `path` (relative to the repository, e.g. /pulls) fails with `status`."""
        self.outages.append((method, path, status))

    def close(self, number: int) -> None:
        with self.lock:
            pull = self.pulls[number]
            pull.head_sha = self.tip(pull.head) or pull.head_sha
            pull.state, pull.closed_at = "closed", now()
            pull.updated_at = pull.closed_at

    def delete_branch(self, branch: str) -> None:
        """What the "Delete branch" button of a closed pull request does (its refs/pull/<n>/head stays)."""
        self.git("update-ref", "-d", f"refs/heads/{branch}")

    def event(self, number: int, action: str = "closed") -> dict[str, Any]:
        """A `pull_request` webhook payload as GitHub delivers it."""
        return {"action": action, "number": number, "pull_request": self.render(self.pulls[number]),
                "repository": {"full_name": self.repository}, "sender": {"login": self.bot}}

    # ---- the API ---------------------------------------------------------------------------
    def render(self, pull: Pull, simple: bool = False) -> dict[str, Any]:
        html = f"https://github.com/{self.repository}/pull/{pull.number}"
        head_sha = (self.tip(pull.head) if pull.state == "open" else None) or pull.head_sha
        repo = {"full_name": self.repository, "name": self.repository.split("/")[1], "owner": {"login": self.owner}}
        data = {
            "url": f"{self.api_url}/repos/{self.repository}/pulls/{pull.number}", "id": 1000 + pull.number,
            "node_id": f"PR_{pull.number}", "html_url": html, "diff_url": f"{html}.diff", "number": pull.number,
            "state": pull.state, "locked": False, "title": pull.title, "body": pull.body,
            "user": self.user(pull.user), "labels": [{"name": n} for n in pull.labels],
            "created_at": pull.created_at, "updated_at": pull.updated_at, "closed_at": pull.closed_at,
            "merged_at": pull.merged_at, "merge_commit_sha": pull.merge_commit_sha, "draft": False,
            "requested_reviewers": [{"login": r} for r in pull.reviewers],
            "requested_teams": [{"slug": t} for t in pull.teams],
            "head": {"label": f"{self.owner}:{pull.head}", "ref": pull.head, "sha": head_sha, "repo": repo},
            "base": {"label": f"{self.owner}:{pull.base}", "ref": pull.base, "sha": self.tip(pull.base), "repo": repo},
            "merged": pull.merged, "mergeable": None, "merged_by": self.user(pull.merged_by) if pull.merged_by else None,
            "comments": 0, "commits": 1, "additions": 1, "deletions": 1, "changed_files": 1,
            "maintainer_can_modify": True,
        }
        return {k: v for k, v in data.items() if k not in SIMPLE_ONLY_MISSING} if simple else data

    @staticmethod
    def user(login: str) -> dict[str, Any]:
        """GitHub's simple-user object (https://docs.github.com/rest/pulls/pulls#get-a-pull-request)."""
        uid = sum(login.encode()) + 1000
        return {"login": login, "id": uid, "node_id": f"U_{uid}", "gravatar_id": "", "site_admin": False,
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}",
                "url": f"https://api.github.com/users/{login}", "html_url": f"https://github.com/{login}",
                "type": "Bot" if login.endswith(("[bot]", "-bot")) else "User"}

    def handle(self, method: str, url: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        auth = headers.get("authorization", "")
        if not auth:
            raise ApiError(401, "Requires authentication")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != self.token:
            raise ApiError(401, "Bad credentials")
        version = headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            raise ApiError(400, f"API version {version} is not supported.")
        parts = urlsplit(url)
        segments = parts.path.strip("/").split("/")
        if segments[:1] != ["repos"] or "/".join(segments[1:3]) != self.repository:
            raise ApiError(404, "Not Found")
        route, query = segments[3:], parse_qs(parts.query)
        outage = next((o for o in self.outages if o[:2] == (method, "/" + "/".join(route))), None)
        if outage is not None:
            self.outages.remove(outage)
            raise ApiError(outage[2], "Server Error")
        body = None
        if method in ("POST", "PATCH", "PUT"):
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                raise ApiError(415, "Unsupported Media Type: send the body as application/json")
            try:
                body = json.loads(raw or b"")
            except ValueError:
                raise ApiError(400, "Problems parsing JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Problems parsing JSON: the body must be an object")
        with self.lock:
            if method == "POST" and route == ["pulls"]:
                return 201, self.create_pull(body)
            if method == "GET" and route == ["pulls"]:
                return 200, self.list_pulls(query)
            if len(route) >= 2 and route[1].isdigit() and int(route[1]) in self.pulls:
                pull = self.pulls[int(route[1])]
                if method == "GET" and route[0] == "pulls" and len(route) == 2:
                    return 200, self.render(pull)
                if method == "POST" and route[0] == "issues" and route[2:] == ["labels"]:
                    return 200, self.add_labels(pull, body)
                if method == "POST" and route[0] == "pulls" and route[2:] == ["requested_reviewers"]:
                    return 201, self.request_reviewers(pull, body)
        raise ApiError(404, "Not Found")

    def create_pull(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("head", "base", "title"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": key, "code": "missing_field"}])
        if "body" in body and not isinstance(body["body"], str | None):
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "body", "code": "invalid"}])
        head = body["head"].split(":", 1)[1] if ":" in body["head"] else body["head"]
        base_tip, head_tip = self.tip(body["base"]), self.tip(head)
        for name, tip in (("base", base_tip), ("head", head_tip)):
            if tip is None:
                raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": name, "code": "invalid"}])
        if self.git("merge-base", "--is-ancestor", head_tip, base_tip, check=False).returncode == 0:
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                        "message": f"No commits between {body['base']} and {head}"}])
        if any(p.head == head and p.base == body["base"] and p.state == "open" for p in self.pulls.values()):
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                        "message": f"A pull request already exists for {self.owner}:{head}."}])
        pull = Pull(number=len(self.pulls) + 1, title=body["title"], body=body.get("body") or "", head=head,
                    base=body["base"], user=self.bot, head_sha=head_tip)
        self.pulls[pull.number] = pull
        self.git("update-ref", f"refs/pull/{pull.number}/head", head_tip)
        return self.render(pull)

    def list_pulls(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        one = {k: v[0] for k, v in query.items()}
        allowed = {"state": ("open", "closed", "all"), "sort": ("created", "updated", "popularity", "long-running"),
                   "direction": ("asc", "desc")}
        for key, values in allowed.items():
            if key in one and one[key] not in values:
                raise ApiError(422, "Validation Failed", [{"field": key, "code": "invalid"}])
        unknown = sorted(set(one) - {"state", "head", "base", "sort", "direction", "per_page", "page"})
        if unknown:  # GitHub ignores them; refused here so that a misspelt filter fails a test
            raise ApiError(422, "Validation Failed", [{"field": unknown[0], "code": "invalid"}])
        if not one.get("per_page", "30").isdigit() or not one.get("page", "1").isdigit():
            raise ApiError(422, "Validation Failed", [{"field": "per_page", "code": "invalid"}])
        per_page = min(int(one.get("per_page", "30")), 100)  # GitHub caps pages at 100 items
        state, head, base = one.get("state", "open"), one.get("head"), one.get("base")
        if head is not None and ":" not in head:
            raise ApiError(422, "Validation Failed: head must be user:ref-name", [{"field": "head", "code": "invalid"}])
        owner, _, ref = (head or "").partition(":")
        found = [p for p in self.pulls.values() if (state == "all" or p.state == state)
                 and (head is None or (owner == self.owner and p.head == ref)) and (base is None or p.base == base)]
        sort = one.get("sort", "created")
        key = (lambda p: (p.updated_at, p.number)) if sort == "updated" else (lambda p: p.number)
        descending = one.get("direction", "desc" if sort == "created" else "asc") == "desc"  # GitHub's defaults
        page = max(int(one.get("page", "1")), 1)
        found = sorted(found, key=key, reverse=descending)[(page - 1) * per_page:page * per_page]
        return [self.render(p, simple=True) for p in found]

    def add_labels(self, pull: Pull, body: dict[str, Any]) -> list[dict[str, Any]]:
        labels = body.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ApiError(422, "Validation Failed", [{"field": "labels", "code": "invalid"}])
        pull.labels = sorted(set(pull.labels) | set(labels))
        return [{"id": i, "node_id": f"L_{i}", "name": n, "color": "ededed", "default": False, "description": None}
                for i, n in enumerate(pull.labels, start=1)]

    def request_reviewers(self, pull: Pull, body: dict[str, Any]) -> dict[str, Any]:
        users, teams = body.get("reviewers", []), body.get("team_reviewers", [])
        if not isinstance(users, list) or not isinstance(teams, list) or not (users or teams):
            raise ApiError(422, "Validation Failed", [{"field": "reviewers", "code": "invalid"}])
        known_teams = {t.split("/", 1)[1] for t in self.teams}
        if any(u not in self.collaborators for u in users) or any(t not in known_teams for t in teams):
            raise ApiError(422, "Reviews may only be requested from collaborators. One or more of the users or teams "
                                f"you specified is not a collaborator of the {self.repository} repository.")
        pull.reviewers, pull.teams = sorted(set(pull.reviewers) | set(users)), sorted(set(pull.teams) | set(teams))
        return self.render(pull)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, data = stand_in.handle(self.command, self.path, headers, raw)
                except ApiError as exc:
                    status, data = exc.status, {"message": exc.message,
                                                "documentation_url": "https://docs.github.com/rest"}
                    if exc.errors:
                        data["errors"] = exc.errors
                try:
                    sent = json.loads(raw) if raw else None
                except ValueError:
                    sent = raw.decode(errors="replace")
                stand_in.requests.append({"method": self.command, "path": self.path, "status": status, "body": sent})
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

        return Handler
