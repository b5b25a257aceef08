"""Online evidence for a promotion: the report of an experiment the challenger ran on live traffic.

An offline win does not guarantee an online one (issue 17). `rankops experiment report` writes
``{"experiment", "mode", "verdict", "p_value", "queries", "generated_at"}`` (JSON, and an HTML
beside it); a promotion request attaches it like the model card, and with
``promotion.require_online_evidence`` a request without one, with a stale one, or with one that
found the champion better is refused; a report about another challenger version than the requested
one is always refused. The report names the registry its version numbers belong to: an experiment in
prod, whose ranker reads prod's own registry, ran the copy of the requested version there. The check
reads only the report: the experiment itself ran in the ranker, outside this side's reach.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.promotion.state import PromotionError

VERDICTS = ("challenger_better", "no_difference", "champion_better")
MODES = ("shadow", "ab", "interleave")
FIELDS = ("experiment", "mode", "verdict", "p_value", "queries", "generated_at")


def load_online_evidence(path: str | Path) -> dict[str, Any]:
    """The report at `path` (its JSON, or a folder holding exactly one), checked field by field, plus
    its HTML (same name, ``.html``) when present. Errors name the file and the field."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.json"))
        if len(found) != 1:
            raise PromotionError(f"online evidence: {path} holds {len(found)} JSON files, expected exactly one "
                                 "experiment report (pass the file itself)")
        path = found[0]
    try:
        raw = path.read_bytes()
        report = json.loads(raw)
    except OSError as exc:
        raise PromotionError(f"online evidence: cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PromotionError(f"online evidence: {path} is not JSON: {exc}") from None
    if not isinstance(report, dict):
        raise PromotionError(f"online evidence: {path} holds a JSON {type(report).__name__}, not the report object")
    missing = [f for f in FIELDS if f not in report]
    if missing:
        raise PromotionError(f"online evidence: {path} lacks {', '.join(missing)} "
                             "(not a report of `rankops experiment report`)")
    _check_field(path, "verdict", report["verdict"], report["verdict"] in VERDICTS, f"one of {', '.join(VERDICTS)}")
    _check_field(path, "mode", report["mode"], report["mode"] in MODES, f"one of {', '.join(MODES)}")
    p = report["p_value"]
    _check_field(path, "p_value", p, isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1,
                 "a number in [0, 1]")
    q = report["queries"]
    _check_field(path, "queries", q, isinstance(q, int) and not isinstance(q, bool) and q >= 0, "a count >= 0")
    _check_field(path, "experiment", report["experiment"], isinstance(report["experiment"], str)
                 and bool(report["experiment"].strip()), "a name")
    report_at = _parse_time(path, report["generated_at"])
    html = path.with_suffix(".html")
    return {"report": report, "json_path": str(path), "json_text": raw.decode("utf-8"),
            "sha256": hashlib.sha256(raw).hexdigest(), "generated_at": report_at,
            "html_text": html.read_text(encoding="utf-8") if html.is_file() else None}


def _check_field(path: Path, name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise PromotionError(f"online evidence: {path} field {name!r} is {value!r}, expected {expected}")


def _parse_time(path: Path, value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise PromotionError(f"online evidence: {path} field 'generated_at' is {value!r}, expected ISO-8601 with a zone")
    return at.astimezone(UTC)


def check_challenger(evidence: dict[str, Any], numbers: dict[str, str], source_registry: str) -> None:
    """Refuse a report whose experiment did not run the requested version as the challenger (every pair it lists).

    `numbers`: the requested version's number in each registry that holds it ({source registry: version},
    plus prod's registry and the copy's number once it was copied there). A report without `registry`
    predates the field and names the source registry's numbers.
    """
    path, versions = evidence["json_path"], evidence["report"].get("versions")
    pairs = versions if isinstance(versions, list) else []
    found = [str(v.get("challenger")) for v in pairs if isinstance(v, dict)]
    if not found or len(found) != len(pairs):
        raise PromotionError(f"online evidence: {path} field 'versions' is {versions!r}, expected the experiment's "
                             "[{champion, challenger}] pairs (regenerate it with `rankops experiment report`)")
    version = numbers[source_registry]
    registry = evidence["report"].get("registry") or source_registry
    if registry not in numbers:
        raise PromotionError(f"online evidence: {path} numbers its versions in the registry {registry}, which holds "
                             f"no copy of the requested version {version} (registries that do: "
                             f"{', '.join(sorted(numbers))})")
    other = sorted({v for v in found if v != numbers[registry]})
    if other:
        there = "" if registry == source_registry else f" (v{numbers[registry]} in {registry})"
        raise PromotionError(f"online evidence: {path} is about challenger version {', '.join(other)}, not the "
                             f"requested version {version}{there}: run the experiment with challenger {version} "
                             "and attach its report")


def online_problems(evidence: dict[str, Any] | None, *, max_age_days: float, now: datetime | None = None) -> list[str]:
    """Why the evidence does not back a promotion (empty: it does). None means no evidence was given."""
    if evidence is None:
        return ["no online evidence: run the challenger in an experiment (shadow, ab or interleave), then pass "
                "`rankops experiment report NAME --report DIR`'s report with --online-evidence"]
    report, problems = evidence["report"], []
    age_days = ((now or datetime.now(UTC)) - evidence["generated_at"]).total_seconds() / 86_400
    if age_days > max_age_days:
        problems.append(f"the online evidence of experiment {report['experiment']!r} is stale: generated "
                        f"{report['generated_at']}, {age_days:.1f} days ago (limit "
                        f"promotion.online_evidence_max_age_days = {max_age_days:g})")
    if age_days < -1 / 24:
        problems.append(f"the online evidence's generated_at {report['generated_at']} lies in the future")
    if report["verdict"] == "champion_better":
        problems.append(f"experiment {report['experiment']!r} ({report['mode']}, {report['queries']} queries) found "
                        f"the champion better (p = {report['p_value']:.4g})")
    return problems


def online_digest(evidence: dict[str, Any] | None, problems: list[str], required: bool) -> dict[str, Any] | None:
    """What the request record and the history keep of the evidence (None when none was given)."""
    if evidence is None:
        return None
    report = evidence["report"]
    return {**{k: report[k] for k in FIELDS}, "versions": report["versions"], "sha256": evidence["sha256"],
            "required": required,
            "html": evidence["html_text"] is not None, "problems": problems}
