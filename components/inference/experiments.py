"""Online experiments in the ranker: shadow, A/B and team-draft interleaving of two model versions.

Pure routing logic lives here (testable without a server); `ExperimentState` holds the running
experiment and its loaded challenger, re-reading the experiment file when its mtime changes, so an
experiment starts or stops without a restart. The champion always comes from the `ModelHolder`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.inference.settings import ExperimentSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from components.common.config import Settings
    from components.inference.model import Ranker

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"


class ExperimentFileError(ValueError):
    """The experiment file is not valid (the message names the file and the field)."""


def assign_arm(experiment: str, session_id: str, share: float) -> str:
    """Deterministic A/B arm of a session: a hash of (experiment, session) against `share`."""
    digest = hashlib.sha256(f"{experiment}\x00{session_id}".encode()).digest()
    return CHALLENGER if int.from_bytes(digest[:8], "big") / 2**64 < share else CHAMPION


def team_draft(a: list[str], b: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Team-draft interleaving (Radlinski, Kurup & Joachims 2008) of rankings `a` (champion) and `b`.

    The team with fewer picks picks next (a coin decides ties) and adds its highest-ranked item not
    yet shown. Returns (interleaved ids, team per position).
    """
    shown: set[str] = set()
    out: list[str] = []
    teams: list[str] = []
    picks = {CHAMPION: 0, CHALLENGER: 0}
    rest = {CHAMPION: iter(a), CHALLENGER: iter(b)}
    pending = {CHAMPION: None, CHALLENGER: None}

    def next_new(team: str) -> str | None:
        item = pending[team]
        while item is None or item in shown:
            item = next(rest[team], None)
            if item is None:
                return None
        pending[team] = item
        return item

    total = len(set(a) | set(b))
    while len(out) < total:
        first_a = picks[CHAMPION] < picks[CHALLENGER] or (
            picks[CHAMPION] == picks[CHALLENGER] and rng.random() < 0.5)
        team = CHAMPION if first_a else CHALLENGER
        item = next_new(team)
        if item is None:  # this team's list is used up: the other one fills the rest
            team = CHALLENGER if first_a else CHAMPION
            item = next_new(team)
        shown.add(item)
        out.append(item)
        teams.append(team)
        picks[team] += 1
    return out, teams


def credit(teams: list[str], clicked_positions: list[int]) -> str:
    """Interleaving outcome of one impression: the team with more clicks wins (1-based positions)."""
    won = {CHAMPION: 0, CHALLENGER: 0}
    for pos in clicked_positions:
        if 1 <= pos <= len(teams):
            won[teams[pos - 1]] += 1
    if won[CHALLENGER] == won[CHAMPION]:
        return "tie"
    return CHALLENGER if won[CHALLENGER] > won[CHAMPION] else CHAMPION


def order_of(scores: np.ndarray) -> list[int]:
    """Indices best first, ties by input order (the ranker's order)."""
    import numpy as np

    return [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]


@dataclass
class Routed:
    """What one request served and how: the fields of its impression line."""

    mode: str
    arm: str | None
    video_ids: list[str]
    scores: list[float]
    teams: list[str] | None = None
    fallback: bool = False
    fallback_reason: str | None = None
    shadow_scores: list[float] | None = None  # challenger scores in input order (shadow mode)


class ChallengerScorer:
    """Scores with the challenger in a worker thread, within the latency budget; never raises."""

    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="challenger")

    def submit(self, ranker: Ranker, frame: pd.DataFrame) -> Future:
        return self._pool.submit(ranker.predict, frame)

    @staticmethod
    def wait(future: Future, started: float, budget_ms: float, n: int) -> tuple[Any, str | None]:
        """(n finite scores, None) or (None, reason: 'error: ...' / 'latency: over N ms'); the budget runs
        from `started`. Scores of the wrong length or not finite count as an error too."""
        import numpy as np

        left = budget_ms / 1000.0 - (time.perf_counter() - started)
        try:
            scores = future.result(timeout=max(left, 0.0))
            if len(scores) != n:
                return None, f"error: challenger returned {len(scores)} scores for {n} candidates"
            if not np.all(np.isfinite(scores)):
                return None, f"error: challenger returned {int((~np.isfinite(scores)).sum())} non-finite score(s)"
            return scores, None
        except FutureTimeout:
            future.cancel()
            return None, f"latency: over {budget_ms:g} ms"
        except Exception as exc:  # any challenger failure costs the user nothing
            return None, f"error: {type(exc).__name__}: {exc}"[:300]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _ranked(mode: str, arm: str | None, candidates: list[str], scores: Any, **kw: Any) -> Routed:
    order = order_of(scores)
    return Routed(mode, arm, [candidates[i] for i in order], [float(scores[i]) for i in order], **kw)


def route(champion: Ranker, challenger: Ranker | None, exp: ExperimentSettings | None, frame: pd.DataFrame,
          candidates: list[str], *, session_id: str, request_id: str, scorer: ChallengerScorer) -> Routed:
    """Score `frame` (rows = `candidates`) for one request under the running experiment, if any."""
    if exp is None or challenger is None:
        return _ranked("champion", CHAMPION, candidates, champion.predict(frame))
    started = time.perf_counter()
    if exp.mode == "ab":
        if assign_arm(exp.name, session_id, exp.share) == CHAMPION:
            return _ranked("ab", CHAMPION, candidates, champion.predict(frame))
        scores, reason = scorer.wait(scorer.submit(challenger, frame), started, exp.latency_budget_ms,
                                     len(candidates))
        if scores is None:
            scores = champion.predict(frame)
        return _ranked("ab", CHALLENGER, candidates, scores, fallback=reason is not None, fallback_reason=reason)
    # shadow and interleave need both lists: the challenger runs in its thread while the champion scores here
    future = scorer.submit(challenger, frame)
    champ_scores = champion.predict(frame)
    chall_scores, reason = scorer.wait(future, started, exp.latency_budget_ms, len(candidates))
    fell = {"fallback": reason is not None, "fallback_reason": reason}
    if exp.mode == "shadow":
        shadow = [float(s) for s in chall_scores] if chall_scores is not None else None
        return _ranked("shadow", CHAMPION, candidates, champ_scores, shadow_scores=shadow, **fell)
    if chall_scores is None:  # interleave without a challenger list: the champion's, no teams to credit
        return _ranked("interleave", None, candidates, champ_scores, **fell)
    champ_ids = [candidates[i] for i in order_of(champ_scores)]
    chall_ids = [candidates[i] for i in order_of(chall_scores)]
    ids, teams = team_draft(champ_ids, chall_ids, random.Random(request_id))
    by_team = {CHAMPION: dict(zip(candidates, champ_scores, strict=True)),
               CHALLENGER: dict(zip(candidates, chall_scores, strict=True))}
    scores = [float(by_team[t][v]) for v, t in zip(ids, teams, strict=True)]
    return Routed("interleave", None, ids, scores, teams=teams)


def read_experiment_file(path: Path) -> ExperimentSettings | None:
    """The experiment a YAML file pins: a mapping of ExperimentSettings' fields; empty/null/missing = none."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ExperimentFileError(f"{path}: cannot read the experiment: {exc}") from None
    if data is None or data == {}:
        return None
    if not isinstance(data, dict):
        raise ExperimentFileError(f"{path}: expected a mapping of experiment fields, got {type(data).__name__}")
    try:
        return ExperimentSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "experiment"
        raise ExperimentFileError(f"{path}: {field}: {first['msg']}") from None


class ExperimentState:
    """The running experiment and its loaded challenger; `refresh()` follows the experiment file.

    The file is stat'ed at most every `experiment_check_s` seconds from the request path (a cheap
    mtime check, no signal handler: a ConfigMap volume update needs no process signal). A changed
    file stops the old experiment at once; a new challenger loads in the background and the
    experiment goes live only once it is loaded. A bad file stops the experiment and says why.
    """

    def __init__(self, settings: Settings, model_name: str | None, *,
                 prepare: Callable[[Ranker], None] | None = None):
        serving = settings.serving
        self.settings = settings
        self.model_name = model_name or serving.model_name or settings.registry.model_name
        self.path = Path(settings.resolve(serving.experiment_file)) if serving.experiment_file else None
        self.check_s = serving.experiment_check_s
        self.config: ExperimentSettings | None = None
        self.challenger: Ranker | None = None
        self.error: str | None = None
        self.scorer = ChallengerScorer()
        self._prepare = prepare
        self._mtime: float | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._generation = 0
        if self.path is None:
            self.apply(serving.experiment)

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the experiment file if its mtime changed (no-op without a file)."""
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        self._next_check = now + self.check_s
        try:
            mtime: float | None = os.stat(self.path).st_mtime_ns
        except OSError:
            mtime = None
        if mtime == self._mtime and not force:
            return
        self._mtime = mtime
        try:
            new = read_experiment_file(self.path)
        except ExperimentFileError as exc:
            log.error("experiment stopped: %s", exc)
            self.apply(None)
            self.error = str(exc)
            return
        self.apply(new)

    def apply(self, new: ExperimentSettings | None) -> None:
        """Make `new` the experiment: stop the old one now, load the new challenger in the background."""
        with self._lock:
            self.error = None
            if new == self.config and (new is None or self.challenger is not None):
                return
            self._generation += 1
            self.config, self.challenger = new, None
            if new is None:
                log.info("experiment stopped: serving the champion only")
                return
            generation = self._generation
        threading.Thread(target=self._load, args=(new, generation), name="challenger-load", daemon=True).start()

    def _load(self, exp: ExperimentSettings, generation: int) -> None:
        from components.inference.model import load_ranker

        uri = f"models:/{self.model_name}/{exp.challenger}"
        try:
            ranker = load_ranker(self.settings, uri, cache_documents=self.settings.serving.cache_documents)
            if self._prepare:
                self._prepare(ranker)
        except Exception as exc:  # the experiment waits; the champion keeps serving alone
            with self._lock:
                if generation == self._generation:
                    self.error = f"challenger {uri}: {exc}"
            log.error("experiment %s idle: cannot load challenger %s: %s", exp.name, uri, exc)
            return
        with self._lock:
            if generation == self._generation:  # a newer config may have replaced this one meanwhile
                self.challenger = ranker
                log.info("experiment %s (%s) live: challenger %s", exp.name, exp.mode, uri)

    def active(self, champion_version: str | None) -> tuple[ExperimentSettings | None, Ranker | None]:
        """(experiment, challenger) when both are ready and the champion is the one the experiment names. Read
        under the lock: `apply` replaces both, and a request must not pair one experiment with another's model."""
        with self._lock:
            exp, challenger = self.config, self.challenger
        if exp is None or challenger is None or champion_version != exp.champion:
            return None, None
        return exp, challenger

    def status(self, champion_version: str | None) -> dict[str, Any]:
        exp, _ = self.active(champion_version)
        reason = self.error
        if self.config is not None and exp is None and reason is None:
            reason = (f"champion is version {champion_version}, the experiment names {self.config.champion}"
                      if self.challenger is not None else "challenger loading")
        return {"experiment": self.config.model_dump() if self.config else None, "active": exp is not None,
                "challenger_version": self.challenger.version if self.challenger else None,
                "file": str(self.path) if self.path else None, "error": reason}

    def close(self) -> None:
        self.scorer.close()
