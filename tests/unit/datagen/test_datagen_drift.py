"""`--drift`: each mechanism alone on small generated data, against the effect computed by hand.

The expected figures come from the rules stated in `components/datagen/drift.py`'s docstring and
the README (level s = strength * (day + 1) / days), worked out here on paper; observed values come
from parsing the written files with plain json/csv and the ETL's own identity rules. Each mechanism
is switched on alone, so the drift-0 data set of the same seed (the same latent world) is its control.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.datagen import vocabulary as V
from components.datagen.drift import DriftPlan
from components.datagen.generate import generate_dataset
from components.datagen.latent import build_world
from components.etl.normalize import canonicalize_url, normalize_query

THREE_DAYS = {"impressions": 30000, "days": 3, "seed": 3, "dirty_share": 0.0}
ONE_DAY = {"impressions": 40000, "days": 1, "seed": 3, "dirty_share": 0.0}
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = ("2026-10-01", "2026-10-02", "2026-10-03")


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def log(root: Path, day: str) -> list[dict]:
    return [json.loads(line) for line in (root / day / "search_log/part-00000.jsonl").read_text("utf-8").splitlines()]


def catalogue(root: Path) -> dict[str, dict]:
    return {canonicalize_url(v["video_url"]): v for p in sorted(root.glob("*/videos/*.jsonl"))
            for v in map(json.loads, p.read_text("utf-8").splitlines())}


def judgements(root: Path, day: str) -> list[dict]:
    with (root / day / "judgements/part-00000.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def searches(rows: list[dict]) -> list[dict]:
    """One row per results page: its first position."""
    return [r for r in rows if r["position"] == 1]


def world_of(result: dict):
    p = result["params"]
    return build_world(p["seed"], p["queries"], p["videos"], p["days"], START)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("reference3")
    return out, generate_dataset(out, **THREE_DAYS)


@pytest.fixture(scope="module")
def one_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("reference1")
    return out, generate_dataset(out, **ONE_DAY)


def test_drift_zero_writes_the_bytes_it_always_wrote(tmp_path: Path) -> None:
    """The digest of this exact call's output, recorded before drift had mechanisms (main at 3161f93):
    the ETL/datagen tests and the `make run` data rely on these bytes."""
    result = generate_dataset(tmp_path, impressions=3000, days=3, seed=11, dirty_share=0.02)
    assert tree_digest(tmp_path) == "a050433e0730bbba8dabcdfd618049523e66416af760d4aab0bd3403473836c9"
    assert result["drift"] is None and result["params"]["drift"] == 0.0


def test_levels_grow_over_the_days_and_bad_strengths_are_refused() -> None:
    plan = DriftPlan.of(1.0, 3)
    assert [plan.level("stale", d) for d in range(3)] == [1 / 3, 2 / 3, 1.0]
    half = DriftPlan.of({"behaviour": 0.5}, 4)
    assert [half.level("behaviour", d) for d in range(4)] == [0.125, 0.25, 0.375, 0.5]
    assert half.level("stale", 3) == 0.0 and half.active and not DriftPlan.of(0.0, 2).active
    with pytest.raises(ValueError, match=r"unknown: \['weather'\]"):
        DriftPlan.of({"weather": 0.5}, 3)
    with pytest.raises(ValueError, match=r"out of range: \['stale=1.5'\]"):
        DriftPlan.of({"stale": 1.5}, 3)
    with pytest.raises(ValueError, match="out of range"):
        generate_dataset(Path("/nonexistent/never-written"), drift=-0.1)


def test_behaviour_users_look_less_far_click_less_and_stay_shorter(one_day: tuple[Path, dict], tmp_path: Path) -> None:
    """At s = 1: examination p^-1.7 instead of p^-0.85 and attraction x 0.7, so CTR at position p is
    0.7 * p^-0.85 of the reference's (p=1: 0.700, p=3: 0.275); dwell x 0.6 at any position.
    The pages themselves (queries, videos, positions) follow the same distribution."""
    ref_dir, _ = one_day
    generate_dataset(tmp_path, **ONE_DAY, drift={"behaviour": 1.0})
    ref, cur = log(ref_dir, DAYS[0]), log(tmp_path, DAYS[0])

    def ctr(rows: list[dict], p: int) -> float:
        at = [r["clicked"] for r in rows if r["position"] == p]
        return sum(at) / len(at)

    def dwell(rows: list[dict], p: int) -> float:
        at = [r["dwell_ms"] for r in rows if r["position"] == p and r["dwell_ms"] is not None]
        return sum(at) / len(at)

    assert ctr(cur, 1) / ctr(ref, 1) == pytest.approx(0.700, abs=0.05)
    assert ctr(cur, 3) / ctr(ref, 3) == pytest.approx(0.275, abs=0.05)
    assert dwell(cur, 1) / dwell(ref, 1) == pytest.approx(0.6, abs=0.05)
    assert Counter(r["position"] for r in cur) == Counter(r["position"] for r in ref)  # full pages both


def test_new_videos_take_half_the_slots_on_the_last_day(three_days: tuple[Path, dict], tmp_path: Path) -> None:
    """Slots (and judged candidates) go to short-form videos with probability 0.5 s: 1/6, 1/3, 1/2 by day.
    The catalogue gains 12 per concept that a reference query asks for, 4 on each of the 3 days."""
    ref_dir, ref = three_days
    result = generate_dataset(tmp_path, **THREE_DAYS, drift={"new_videos": 1.0})
    old = catalogue(ref_dir)
    new = {url: v for url, v in catalogue(tmp_path).items() if url not in old}
    concepts = {(q.topic, c) for q in world_of(ref).queries for c in q.concepts}
    assert len(new) == result["drift"]["new_videos"] == 12 * len(concepts)
    assert result["world"]["videos"] == ref["world"]["videos"] + len(new)
    listed = Counter(day for day in DAYS for v in map(json.loads, (tmp_path / day / "videos/part-00000.jsonl")
                                                      .read_text("utf-8").splitlines())
                     if canonicalize_url(v["video_url"]) in new)
    assert listed == {day: 4 * len(concepts) for day in DAYS}
    assert all(5 <= v["duration_s"] <= 60 and 6 <= len(v["tags"]) <= 10 for v in new.values())
    assert all(START <= datetime.fromisoformat(v["published_at"]) < START + timedelta(days=3) for v in new.values())
    for d, day in enumerate(DAYS):
        rows = log(tmp_path, day)
        share = sum(canonicalize_url(r["video_url"]) in new for r in rows) / len(rows)
        assert share == pytest.approx(0.5 * (d + 1) / 3, abs=0.03), day
    judged = {(normalize_query(r["query"]), canonicalize_url(r["video_url"])) for r in judgements(tmp_path, DAYS[2])}
    assert sum(url in new for _, url in judged) / len(judged) == pytest.approx(0.5, abs=0.04)
    assert result["world"]["judged_pairs"] == ref["world"]["judged_pairs"]  # replaced, not added


def test_new_queries_bring_new_words_and_a_growing_share_of_searches(three_days: tuple[Path, dict],
                                                                     tmp_path: Path) -> None:
    """0.25 x 750 queries = 188 new ones on emerging topics; their share of searches is 0.25 s:
    1/12, 1/6, 1/4 by day; each is judged once."""
    ref_dir, ref = three_days
    result = generate_dataset(tmp_path, **THREE_DAYS, drift={"new_queries": 1.0})
    assert ref["params"]["queries"] == 750 and result["drift"]["new_queries"] == 188
    known = {normalize_query(r["query"]) for day in DAYS for r in log(ref_dir, day)}
    known |= {normalize_query(r["query"]) for day in DAYS for r in judgements(ref_dir, day)}
    judged_new = {normalize_query(r["query"]) for day in DAYS for r in judgements(tmp_path, day)} - known
    assert len(judged_new) == 188
    emerging = {f for _words, concepts in V.EMERGING_TOPICS.values() for forms in concepts.values() for f in forms}
    assert all(any(f in q for f in emerging) for q in judged_new)
    for d, day in enumerate(DAYS):
        pages = searches(log(tmp_path, day))
        share = sum(normalize_query(r["query"]) not in known for r in pages) / len(pages)
        assert share == pytest.approx(0.25 * (d + 1) / 3, abs=0.04), day


def test_stale_pairs_are_judged_irrelevant(one_day: tuple[Path, dict], tmp_path: Path) -> None:
    """At s = 1 a relevant reference pair is out of date (grade 0) with probability 0.4. Annotators
    draw the same people and the same noise as in the control, and noise moves a label by at most
    one: a pair of grade >= 2 that went stale is labelled 0 or 1 where it was labelled >= 1 and
    higher, so 40 % of their label rows drop; grade-0 pairs never change and no label rises."""
    ref_dir, ref = one_day
    generate_dataset(tmp_path, **ONE_DAY, drift={"stale": 1.0})
    world = world_of(ref)
    truth = {(q.text, canonicalize_url(world.videos[v].urls[0])): g for q in world.queries for v, g in q.judged}
    rows: Counter[tuple[int, str]] = Counter()
    for before, after in zip(judgements(ref_dir, DAYS[0]), judgements(tmp_path, DAYS[0]), strict=True):
        assert (before["query"], before["video_url"], before["annotator"]) == (
            after["query"], after["video_url"], after["annotator"])
        grade = truth[(normalize_query(before["query"]), canonicalize_url(before["video_url"]))]
        old, new = int(before["label"]), int(after["label"])
        assert new == old or new < old and new <= 1, (grade, old, new)
        rows[(grade, "dropped" if new < old else "same")] += 1
    assert rows[(0, "dropped")] == 0 and rows[(0, "same")] > 0
    high = sum(rows[(g, k)] for g in (2, 3) for k in ("dropped", "same"))
    assert (rows[(2, "dropped")] + rows[(3, "dropped")]) / high == pytest.approx(0.4, abs=0.04)


def test_topic_mix_rising_and_fading(three_days: tuple[Path, dict], tmp_path: Path) -> None:
    """Rising topics are searched (1 + 4s) times as often and fading ones 1/(1 + 4s), relative to the
    other six: x 2.33 on the first day and x 5 on the last (1/2.33 and 1/5 for fading)."""
    ref_dir, ref = three_days
    result = generate_dataset(tmp_path, **THREE_DAYS, drift={"topics": 1.0})
    rising, fading = set(result["drift"]["rising"]), set(result["drift"]["fading"])
    assert len(rising) == len(fading) == 3 and not rising & fading
    topic_of = {q.text: q.topic for q in world_of(ref).queries}

    def odds(root: Path, day: str) -> tuple[float, float]:
        n = Counter(("rising" if t in rising else "fading" if t in fading else "other")
                    for t in (topic_of[normalize_query(r["query"])] for r in searches(log(root, day))))
        return n["rising"] / n["other"], n["fading"] / n["other"]

    for day, k in ((DAYS[0], 1 + 4 / 3), (DAYS[2], 5.0)):
        (r0, f0), (r1, f1) = odds(ref_dir, day), odds(tmp_path, day)
        assert r1 / r0 == pytest.approx(k, rel=0.2), day
        assert f1 / f0 == pytest.approx(1 / k, rel=0.25), day
