"""Synthetic raw search logs that follow the input contract exactly: `generate_dataset`.

Layout written under ``out_dir`` (one folder per day = one ingest batch)::

    <YYYY-MM-DD>/search_log/part-00000.jsonl   impressions of that day (streamed)
    <YYYY-MM-DD>/videos/part-00000.jsonl       videos first listed that day
    <YYYY-MM-DD>/judgements/part-00000.csv     relevance labels made that day
    _generator.json                            params + exact expected accounting

Deterministic: the same arguments give byte-identical files. Streamed: memory is bounded by
the latent world (capped at 2,000 queries / ~7,000 videos), not by the number of impressions.

What the ETL must find (``_generator.json``): per file and per kind the data ``lines`` (CSV
header excluded; ``header_lines`` counts those), the ``valid`` rows that must reach silver, the
exact ``duplicates`` (extra copies of an identical line, any kind: counted, not quarantined), the
``quarantined`` rows per `Reason` and the dirty lines per ``defects`` class of the contract table
(``contract.DEFECTS``); ``ignored_files`` names the files of each ``contract.FileDefect`` written
once per dirty data set (compressed, UTF-16, misnamed, empty, misplaced), which the ETL must list
as ignored. Every dirty row has exactly one defect. CONFLICTING
DUPLICATES: both rows of an ``event_id`` that appears with different content are quarantined as
``conflicting_duplicate`` (2 per pair; ``conflicting_pairs`` gives the number of pairs), so for
every kind ``lines == valid + duplicates + sum(quarantined)``.

Other realism the ETL must accept: the same instant in several zones (``Z``, ``+00:00``,
``+02:00``, ...), URL spellings of one video (scheme, ``www.``, host case, trailing slash,
tracking parameters), query spellings (case, whitespace, NFD), unknown extra fields on some
valid JSON rows, and judgement CSVs with a UTF-8 BOM and CRLF line endings (odd days, or the only day).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from components.common.contract import JUDGEMENT_FIELDS, Kind, Reason
from components.datagen.drift import DayDrift, DriftPlan, current_grade, day_drift, extend_world, mix_page
from components.datagen.latent import URL_SPELLINGS, World, build_world, size_of
from components.datagen.surface import canonical_url, format_ts, query_variant, random_zone
from components.datagen.vocabulary import ANNOTATORS, NOISY_ANNOTATORS
from components.datagen.writer import RawFileWriter, write_ignored_files

GENERATOR_FILE = "_generator.json"
PAGE_SIZE = 10
EXAMINATION = tuple(1.0 / (p**0.85) for p in range(1, PAGE_SIZE + 1))  # position bias
ATTRACTION = (0.04, 0.14, 0.38, 0.72)  # P(click | examined, grade)
DWELL_MEAN_MS = (9_000, 28_000, 70_000, 160_000)
CLIENTS = ("android", "ios", "web")
CONFLICT_RULE = (
    "both rows of an event_id seen with different content are quarantined as conflicting_duplicate "
    "(2 per pair); exact duplicate lines are counted as duplicates, never quarantined"
)

Progress = Callable[[int], None]


def _split(total: int, parts: int) -> list[int]:
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def _write_videos(world: World, day: int, writer: RawFileWriter, seed: int) -> None:
    rng = random.Random(f"rankops-videos:{seed}:{day}")
    for v in world.videos:
        if v.first_day != day:
            continue
        url = canonical_url(v.vid, v.shape) if rng.random() < 0.8 else v.urls[rng.randrange(3, URL_SPELLINGS)]
        row: dict[str, Any] = {
            "video_url": url,
            "title": v.title,
            "description": v.description,
            "channel": v.channel,
            "duration_s": v.duration_s,
            "published_at": format_ts(v.published_at, random_zone(rng), False),
            "tags": v.tags,
        }
        if rng.random() < 0.05:
            row["language"] = "en"  # unknown extra field: must be accepted
        writer.write(row)


def _noisy_label(rng: random.Random, grade: int, annotator: str) -> int:
    noise = 0.25 if annotator in NOISY_ANNOTATORS else 0.08
    if rng.random() < noise:
        return min(3, max(0, grade + rng.choice((-1, 1))))
    return grade


def _write_judgements(world: World, day: int, day_start: datetime, writer: RawFileWriter, seed: int,
                      stale: float) -> int:
    rng = random.Random(f"rankops-judgements:{seed}:{day}")
    pairs = 0
    for q in world.queries:
        if q.judge_day != day:
            continue
        for vidx, grade in q.judged:
            grade = current_grade(q, vidx, grade, stale)
            v = world.videos[vidx]
            annotators = rng.sample(ANNOTATORS, 2 if rng.random() < 0.1 else 1)
            pairs += 1
            for annotator in annotators:
                ts = format_ts(day_start + timedelta(seconds=rng.randrange(86400)), random_zone(rng), False)
                label = _noisy_label(rng, grade, annotator)
                writer.write([query_variant(rng, q.text), v.urls[rng.randrange(URL_SPELLINGS)], str(label), annotator, ts])
    return pairs


def _write_search_log(
    world: World, day: int, day_start: datetime, n_rows: int, writer: RawFileWriter, seed: int,
    drift: DayDrift, progress: Progress | None,
) -> None:
    rng = random.Random(f"rankops-log:{seed}:{day}")
    rand, gauss, lognorm = rng.random, rng.gauss, rng.lognormvariate
    videos, queries, popularity = world.videos, world.queries, drift.popularity
    examination, attract, linger, shorts_share, stale = (drift.examination, drift.attraction, drift.dwell,
                                                         drift.shorts_share, drift.stale)
    tag = day_start.strftime("%Y%m%d")
    last_instant = day_start + timedelta(seconds=86399, microseconds=999_000)
    rows = sessions = reported = 0
    while rows < n_rows:
        sessions += 1
        session_id = f"s-{tag}-{sessions:08d}"
        t = day_start + timedelta(seconds=86399 * rows / n_rows)
        zone = random_zone(rng)
        for _search in range(2 if rand() < 0.25 else 1):
            q = rng.choices(queries, cum_weights=popularity)[0]
            shown = [p for p in q.pool if videos[p[0]].first_day <= day]
            shown.sort(key=lambda p: p[1] + gauss(0, 0.9), reverse=True)  # a noisy production ranker
            if shorts_share and q.fresh:  # drift: short-form videos take some of the slots
                shorts = [p for p in q.fresh if videos[p[0]].first_day <= day]
                shorts.sort(key=lambda p: p[1] + gauss(0, 0.9), reverse=True)
                shown = mix_page(shown, shorts, shorts_share, rand, PAGE_SIZE)
            t = min(t + timedelta(milliseconds=rng.randrange(1, 20_000)), last_instant)
            ts = format_ts(t, zone, rand() < 0.3)
            text = query_variant(rng, q.text)
            # the JSON line is rendered by hand (json.dumps per row is the bottleneck); only the
            # query needs escaping, URLs and ids are plain ASCII
            head = f'", "ts": "{ts}", "session_id": "{session_id}", "query": {json.dumps(text, ensure_ascii=False)}'
            for position, (vidx, grade) in enumerate(shown[:PAGE_SIZE], 1):
                if rows >= n_rows:
                    break
                v = videos[vidx]
                if stale:  # drift: the ranker above still sorts by the old grade, users feel the new one
                    grade = current_grade(q, vidx, grade, stale)
                attraction = (ATTRACTION[grade] + (0.25 if v.clickbait else 0.0)) * attract
                clicked = rand() < examination[position - 1] * attraction
                dwell = None
                if clicked and rand() > 0.02:  # 2 % of clicks lose their dwell beacon
                    dwell = int(min(v.duration_s * 1000, DWELL_MEAN_MS[grade] * lognorm(0, 0.6)) * linger)
                rows += 1
                url = v.urls[int(rand() * URL_SPELLINGS)]
                event_id = f"ev-{tag}-{rows:09d}"
                row: dict[str, Any] = {
                    "event_id": event_id,
                    "ts": ts,
                    "session_id": session_id,
                    "query": text,
                    "video_url": url,
                    "position": position,
                    "clicked": clicked,
                    "dwell_ms": dwell,
                }
                line = (
                    f'{{"event_id": "{event_id}{head}, "video_url": "{url}", "position": {position}, '
                    f'"clicked": {"true" if clicked else "false"}, "dwell_ms": {"null" if dwell is None else dwell}'
                )
                if rand() < 0.03:
                    row["client"] = client = CLIENTS[int(rand() * 3)]  # unknown extra field
                    line += f', "client": "{client}"'
                writer.write(row, line + "}")
        if progress is not None and rows - reported >= 5000:
            progress(rows - reported)
            reported = rows
    if progress is not None and rows > reported:
        progress(rows - reported)


def _clear_previous(out: Path) -> None:
    """Remove the files of an earlier generation in `out`; refuse to mix with foreign files."""
    marker = out / GENERATOR_FILE
    if marker.exists():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        for rel in [*previous.get("files", {}), *previous.get("ignored_files", {})]:
            path = out / rel
            path.unlink(missing_ok=True)
            for parent in (path.parent, path.parent.parent):  # <day>/<kind>/ and <day>/ when empty
                if parent != out and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
        marker.unlink()
    if out.exists() and any(p.is_file() for p in out.rglob("*")):
        raise FileExistsError(f"{out} already holds files that are not a previous generator output; choose an empty --out")


def _keep(files: dict[str, dict[str, Any]], writer: RawFileWriter, out: Path) -> None:
    """Record a closed file's ledger; a file without data lines is removed (no empty batches)."""
    ledger = writer.close()
    if ledger["lines"] == 0:
        writer.path.unlink()
        for parent in (writer.path.parent, writer.path.parent.parent):
            if not any(parent.iterdir()):
                parent.rmdir()
        return
    files[writer.path.relative_to(out).as_posix()] = ledger


def _totals(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    defects: dict[str, int] = {}
    for ledger in files.values():
        k = by_kind.setdefault(
            ledger["kind"],
            {"files": 0, "lines": 0, "valid": 0, "duplicates": 0, "conflicting_pairs": 0, "quarantined": {}, "defects": {}},
        )
        k["files"] += 1
        for key in ("lines", "valid", "duplicates", "conflicting_pairs"):
            k[key] += ledger[key]
        for reason, n in ledger["quarantined"].items():
            k["quarantined"][reason] = k["quarantined"].get(reason, 0) + n
        for defect, n in ledger["defects"].items():
            k["defects"][defect] = k["defects"].get(defect, 0) + n
            defects[defect] = defects.get(defect, 0) + n
    reasons = {r.value: sum(k["quarantined"].get(r.value, 0) for k in by_kind.values()) for r in Reason}
    return {
        "kinds": by_kind,
        "quarantine_reasons": reasons,
        "defects": dict(sorted(defects.items())),
        "lines": sum(k["lines"] for k in by_kind.values()),
        "header_lines": sum(1 for ledger in files.values() if ledger["header"]),
        "valid_rows": sum(k["valid"] for k in by_kind.values()),
        "quarantined_rows": sum(reasons.values()),
        "duplicate_rows": sum(k["duplicates"] for k in by_kind.values()),
    }


def _write_days(
    out: Path, world: World, files: dict[str, dict[str, Any]], ignored: dict[str, str], start: datetime,
    impressions: int, days: int, seed: int, dirty_share: float, plan: DriftPlan, progress: Progress | None,
) -> tuple[list[str], int]:
    """Write every day's three files (one ingest batch per day) and, when dirty, one file of each
    kind the contract ignores (into `ignored`); returns (batches, judged pairs)."""
    batches: list[str] = []
    judged_pairs = 0
    cycle = dict.fromkeys(Kind, 0)
    for day, n_rows in enumerate(_split(impressions, days)):
        drift = day_drift(world, plan, seed, day, EXAMINATION)
        day_start = start + timedelta(days=day)
        batch = day_start.date().isoformat()
        batches.append(batch)

        def open_writer(kind: Kind, batch: str = batch, **kw: Any) -> RawFileWriter:
            rel = f"{batch}/{kind.value}/part-00000{'.csv' if kind is Kind.JUDGEMENTS else '.jsonl'}"
            return RawFileWriter(out / rel, kind, dirty_share=dirty_share, dirt_seed=f"{seed}:{rel}",
                                 cycle_start=cycle[kind], **kw)

        def keep(writer: RawFileWriter) -> None:
            _keep(files, writer, out)
            cycle[writer.kind] = writer.cycle_position

        writer = open_writer(Kind.VIDEOS)
        _write_videos(world, day, writer, seed)
        keep(writer)
        windows_export = day % 2 == 1 or days == 1  # BOM + CRLF: every data set has such a file
        writer = open_writer(Kind.JUDGEMENTS, header=list(JUDGEMENT_FIELDS), bom=windows_export, crlf=windows_export)
        judged_pairs += _write_judgements(world, day, day_start, writer, seed, drift.stale)
        keep(writer)
        writer = open_writer(Kind.SEARCH_LOG)
        _write_search_log(world, day, day_start, n_rows, writer, seed, drift, progress)
        keep(writer)
        if day == 0 and dirty_share > 0 and writer.path.exists():  # files the contract ignores, once
            with writer.path.open("rb") as fh:
                sample = b"".join(itertools.islice(fh, 3))
            ignored.update(write_ignored_files(out / batch, sample))
    return batches, judged_pairs


def generate_dataset(
    out_dir: str | Path,
    *,
    impressions: int = 20000,
    days: int = 3,
    seed: int = 7,
    dirty_share: float = 0.02,
    start_date: str = "2026-10-01",
    queries: int | None = None,
    videos: int | None = None,
    drift: float | Mapping[str, float] = 0.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a raw data set under `out_dir`; return the `_generator.json` content plus timing.

    `drift`: every mechanism of `drift.py` at this strength, or {mechanism: strength}.
    """
    if (
        impressions < 0 or days < 1 or not 0 <= dirty_share <= 0.5
        or (queries is not None and queries < 1) or (videos is not None and videos < 1)
    ):
        raise ValueError(
            f"need impressions >= 0, days >= 1, 0 <= dirty_share <= 0.5, queries >= 1 and videos "
            f">= 1 (got impressions={impressions}, days={days}, dirty_share={dirty_share}, "
            f"queries={queries}, videos={videos})"
        )
    plan = DriftPlan.of(drift, days)
    try:
        first = date.fromisoformat(start_date)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"start_date {start_date!r} is not an ISO date (YYYY-MM-DD)") from None
    began = time.perf_counter()
    out = Path(out_dir)
    _clear_previous(out)
    n_queries, n_videos = size_of(impressions, queries, videos)
    world = build_world(seed, n_queries, n_videos, days, start)
    drift_facts = extend_world(world, plan, seed, start) if plan.active else None
    files: dict[str, dict[str, Any]] = {}
    ignored: dict[str, str] = {}
    try:
        batches, judged_pairs = _write_days(out, world, files, ignored, start, impressions, days, seed, dirty_share,
                                            plan, progress)
    except BaseException:  # no half-written data set: remove what this run wrote, then re-raise
        for path in sorted(out.rglob("*"), reverse=True) if out.exists() else []:
            if path.is_file():
                path.unlink()
            elif not any(path.iterdir()):
                path.rmdir()
        raise
    manifest: dict[str, Any] = {
        "generator": "rankops.datagen",
        "schema_version": 2,
        "params": {
            "impressions": impressions,
            "days": days,
            "seed": seed,
            "dirty_share": dirty_share,
            "start_date": start.date().isoformat(),
            "queries": n_queries,
            "videos": n_videos,
            "drift": dict(drift) if isinstance(drift, Mapping) else drift,
        },
        "world": {"queries": len(world.queries), "videos": len(world.videos), "judged_pairs": judged_pairs},
        "batches": batches,
        "drift": drift_facts,
        "conflicting_duplicate_rule": CONFLICT_RULE,
        "files": files,
        "ignored_files": dict(sorted(ignored.items())),
        **_totals(files),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / GENERATOR_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - began
    return {
        **manifest,
        "out_dir": str(out),
        "elapsed_s": round(elapsed, 3),
        "rows_per_s": round(impressions / elapsed) if elapsed > 0 else None,
    }
