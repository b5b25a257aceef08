"""Git plumbing that commits to a branch without touching anyone's index or working tree.

Commits are built with a private index (read-tree of the tip, update-index, write-tree,
commit-tree) and published with `update-ref <branch> <new> <old>`: a compare-and-set, so
a concurrent writer makes one of the two fail instead of silently losing a commit. When
the branch is checked out, only the touched paths are refreshed in that worktree.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_IDENTITY = {"GIT_AUTHOR_NAME": "rankops", "GIT_AUTHOR_EMAIL": "rankops@localhost",
                    "GIT_COMMITTER_NAME": "rankops", "GIT_COMMITTER_EMAIL": "rankops@localhost"}


class GitError(RuntimeError):
    """A git operation failed (the message carries the command and git's own words)."""


class RefMoved(GitError):
    """The branch moved between reading it and updating it (someone else committed)."""


@dataclass(frozen=True)
class Repo:
    path: str

    def git(self, *args: str, env: dict[str, str] | None = None, input_text: str | None = None,
            check: bool = True) -> str:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, env=full_env,
                              input=input_text)
        if check and proc.returncode != 0:
            message = f"git {' '.join(args)} in {self.path}: {proc.stderr.strip() or proc.stdout.strip()}"
            raise GitError(re.sub(r"://[^/@\s]+@", "://***@", message))  # never print a token from a URL
        return proc.stdout.strip()

    # ---- reading -------------------------------------------------------------------------
    def tip(self, branch: str) -> str | None:
        out = self.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", check=False)
        return out or None

    def show(self, rev: str, path: str) -> str | None:
        """Content of `path` at `rev`, None when absent."""
        proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=self.path, capture_output=True, text=True)
        return proc.stdout if proc.returncode == 0 else None

    def current_branch(self) -> str | None:
        out = self.git("symbolic-ref", "-q", "--short", "HEAD", check=False)
        return out or None

    def is_ancestor(self, ancestor: str, rev: str) -> bool:
        """Whether `ancestor` is reachable from `rev` (false for a commit this repository does not have)."""
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, rev], cwd=self.path, capture_output=True)
        return proc.returncode == 0

    def has_remote(self, remote: str) -> bool:
        return remote in self.git("remote").split()

    def identity_env(self) -> dict[str, str]:
        """Fallback author/committer when the repository has no user configured."""
        if self.git("config", "user.name", check=False) and self.git("config", "user.email", check=False):
            return {}
        return {k: v for k, v in DEFAULT_IDENTITY.items() if k not in os.environ}

    # ---- writing -------------------------------------------------------------------------
    def build_commit(self, parents: list[str], files: dict[str, str], message: str, base: str | None = None) -> str:
        """A commit object on `base` (default the first parent) with `files` replaced; not on any branch yet."""
        base = base or parents[0]
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **self.identity_env()}
            self.git("read-tree", base, env=env)
            for path, content in sorted(files.items()):
                blob = self.git("hash-object", "-w", "--stdin", input_text=content)
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.git("write-tree", env=env)
            args = ["commit-tree", tree]
            for parent in parents:
                args += ["-p", parent]
            return self.git(*args, "-m", message, env=env)

    def tree_of(self, rev: str) -> str:
        return self.git("rev-parse", f"{rev}^{{tree}}")

    def dirty_paths(self, paths: list[str]) -> list[str]:
        """Paths with local changes in the worktree (only meaningful when the branch is checked out)."""
        out = self.git("status", "--porcelain", "--", *paths, check=False)
        return [line[3:] for line in out.splitlines() if line.strip()]

    def move_branch(self, branch: str, new: str, old: str | None, paths: list[str]) -> None:
        """Compare-and-set `branch` from `old` to `new`; refresh `paths` when it is checked out."""
        checked_out = self.current_branch() == branch and self.git("rev-parse", "--is-bare-repository") == "false"
        if checked_out:
            dirty = self.dirty_paths(paths)
            if dirty:
                raise GitError(f"{self.path}: local changes to {dirty} on checked-out {branch}; commit or discard them first")
        expected = old or "0" * 40
        proc = subprocess.run(["git", "update-ref", f"refs/heads/{branch}", new, expected], cwd=self.path,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RefMoved(f"branch {branch} of {self.path} moved since it was read ({proc.stderr.strip()})")
        if checked_out:
            existing = [p for p in paths if self.show(new, p) is not None]
            if existing:
                self.git("restore", "--source=HEAD", "--staged", "--worktree", "--", *existing)
            for path in (p for p in paths if p not in existing):  # files of an undone commit: ours, remove them
                self.git("rm", "-q", "-f", "--cached", "--ignore-unmatch", "--", path)
                full = Path(self.path) / path
                if full.is_file():
                    full.unlink()

    def commit_files(self, branch: str, files: dict[str, str], message: str, retries: int = 3) -> str | None:
        """Commit `files` on top of `branch` (CAS, retried on a race); None when nothing changed."""
        for _ in range(retries):
            tip = self.tip(branch)
            if tip is None:
                raise GitError(f"{self.path}: no branch {branch!r}")
            if all(self.show(tip, p) == c for p, c in files.items()):
                return None
            commit = self.build_commit([tip], files, message)
            try:
                self.move_branch(branch, commit, tip, list(files))
                return commit
            except RefMoved:
                continue
        raise RefMoved(f"branch {branch} of {self.path} kept moving; gave up after {retries} tries")

    def push(self, remote: str, refspec: str) -> None:
        self.git("push", "-q", remote, refspec)


def cached_clone(cache_root: str | Path, url: str) -> Repo:
    """The bare clone of `url` under `cache_root`, made on first use; its branches are left as they are.

    Every process on the same home shares this clone: bring its branches to the remote's with
    `sync_branches`, serialized with the processes that write refs there (see there).
    """
    import hashlib

    path = Path(cache_root) / hashlib.sha1(url.encode()).hexdigest()[:12]
    if not (path / "HEAD").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Repo(str(path.parent)).git("clone", "-q", "--bare", url, str(path))
    repo = Repo(str(path))
    if repo.git("remote", "get-url", "origin", check=False) != url:  # no config write (and its lock) when unchanged
        repo.git("remote", "set-url", "origin", url)
    return repo


def sync_branches(repo: Repo) -> None:
    """Force every branch of `repo` to its remote's, pruning the ones the remote lacks (the remote is truth).

    This rewrites refs other processes sharing the clone may have just written and not pushed yet
    (a new branch, a branch moved by a commit): whoever shares the clone runs it under the lock that
    those writers hold until their push (the promotion flow: `promotion_lock`).
    """
    repo.git("fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/heads/*")


def synced_clone(cache_root: str | Path, url: str) -> Repo:
    """A bare clone of `url` under `cache_root` whose branches are forced to the remote's (the remote is truth).

    Unserialized: for a clone whose branches no other process writes between a commit and its push
    (the promotion flow uses `cached_clone` + `sync_branches` under its lock instead).
    """
    repo = cached_clone(cache_root, url)
    sync_branches(repo)
    return repo


def local_checkout(settings, configured: str) -> str:
    """The repository a `git_repo` setting names; `{home}/...` paths are a sandbox made on first use.

    The local profile points the write-back and the promotion flow at `{home}/gitops`, a clone
    of the project checkout whose remote is called `upstream` (so nothing is pushed back), and
    fetches the checkout's new commits each time so `reproduce` finds the code's sha. A local
    run therefore never commits into the user's own working branch.
    """
    in_home = "{home}" in configured
    path = os.path.abspath(os.path.expanduser(configured.replace("{home}", str(settings.home))))
    if not in_home:
        return path
    source = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if source.returncode != 0:
        return path  # no project checkout here: callers report that `path` is not a repository
    if not os.path.isdir(os.path.join(path, ".git")):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Repo(os.path.dirname(path)).git("clone", "-q", "--origin", "upstream", source.stdout.strip(), path)
    sandbox = Repo(path)
    sandbox.git("fetch", "-q", "upstream", check=False)
    main = settings.promotion.main_branch  # a clone of a feature-branch checkout has no local main: start it
    if sandbox.tip(main) is None and sandbox.git("rev-parse", "--verify", "-q", f"refs/remotes/upstream/{main}",
                                                  check=False):
        sandbox.git("branch", "-q", main, f"upstream/{main}")
    return path
