"""`promote request`: a verified decision + staging checks, then a branch pinning the version (a pull request).

Order: in forge mode a merge that `promote sync` has not completed yet is completed first, so a
request starts from a settled main; the decision is checked against its comparison run (or a
comparison is run now); an undecided request backed by the same comparison is returned as it is
(a retried step opens nothing new); the staging checks score the challenger as serving would;
when prod reads another registry the version is copied there and the copy's number is what the
branch pins. In forge mode the branch also carries the history entry, so the merge itself is
the recorded approval.
"""

from __future__ import annotations

import getpass
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.cards.card_io import CARD_TAG, load_card
from components.promotion.evidence import check_decision
from components.promotion.online import check_challenger, load_online_evidence, online_digest, online_problems
from components.promotion.proposal import (
    describe,
    forge_for,
    mode_of,
    open_proposal,
    open_request_for,
    title_of,
)
from components.promotion.records import append_entry, set_pin
from components.promotion.staging import run_staging_checks
from components.promotion.state import (
    PromotionError,
    comparison_baseline,
    paths_of,
    read_main,
    registries,
    repo_of,
    target_registry_uri,
)

if TYPE_CHECKING:
    from components.common.config import Settings


def new_request_id(version: str) -> str:
    return f"v{version}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def decision_digest(decision: dict[str, Any]) -> dict[str, Any]:
    """The part of the decision the history keeps (the full report travels as files)."""
    keys = ("promote", "verdict", "metric", "reference", "delta", "p_value", "effect_size", "queries", "reasons",
            "compare_run_id", "report_sha256")
    out = {k: decision.get(k) for k in keys}
    out["metrics"] = {k: v.get("challenger") for k, v in (decision.get("metrics") or {}).items()}
    return out


def pin_in_target(settings: Settings, source, target, version: str) -> dict[str, Any]:
    """The version prod will pin: a checked copy in its registry, or `version` itself when there is one registry."""
    from components.registry.transfer import copy_version, public_uri, version_weights

    name = settings.registry.model_name
    if source is target:
        return {"version": version, "weights_sha256": version_weights(source, name, version), "copied": False,
                "target_registry": public_uri(settings.tracking_uri)}
    return copy_version(settings, source, name, version)


def version_numbers(settings: Settings, source, target, version: str, source_registry: str) -> dict[str, str]:
    """{registry: the version's number there}: this environment's (`source_registry`, its public URI), and
    prod's copy once one exists."""
    from components.registry.transfer import existing_copy

    numbers = {source_registry: version}
    if target is not source:
        copy = existing_copy(target, settings.registry.model_name, source_registry, version)
        if copy is not None:
            numbers[target_registry_uri(settings)] = str(copy.version)
    return numbers


def request_promotion(
    settings: Settings, version: str, *, decision: dict[str, Any] | None = None, by: str | None = None,
    force: bool = False, online_evidence: str | Path | None = None,
) -> dict[str, Any]:
    """Verify the decision (or compare now), check the online evidence, staging checks, copy to prod's
    registry, open branch promote/<id>. `online_evidence`: an experiment report (promotion/online.py)."""
    from components.evaluation.compare_run import run_compare
    from components.evaluation.report import render_decision
    from components.registry.lookup import alias_version, resolve_version, version_uri
    from components.registry.transfer import TransferError, public_uri

    online = load_online_evidence(online_evidence) if online_evidence is not None else None
    if forge_for(settings) is not None:  # a forge without a token fails here, before any work
        settle_main(settings)
    source, target = registries(settings)
    source_registry = public_uri(settings.tracking_uri)  # as records and tags name it: credentials masked
    name, alias = settings.registry.model_name, settings.registry.champion_alias
    source_version = resolve_version(source, name, version)
    version = str(source_version.version)
    # the champion a comparison here must be against: prod's (its origin here), not a stale local alias
    source_champion, no_baseline = comparison_baseline(settings, source, target)
    champion = alias_version(target, name, alias)
    if source_champion == version:
        raise PromotionError(f"{name} v{version} is already the champion")
    if online is not None:
        check_challenger(online, version_numbers(settings, source, target, version, source_registry), source_registry)
    required = settings.promotion.require_online_evidence and champion is not None  # only prod's first is exempt
    online_issues = online_problems(online, max_age_days=settings.promotion.online_evidence_max_age_days)
    if required and online_issues:
        raise PromotionError(f"promotion.require_online_evidence: v{version} cannot be requested: "
                             + "; ".join(online_issues))
    repo = repo_of(settings)
    main = read_main(settings, repo)
    decision = decision if decision is not None else run_compare(settings, version)
    if not isinstance(decision, dict):
        raise PromotionError(f"a decision is the JSON object of `rankops compare` (decision.json), "
                             f"got {type(decision).__name__}")
    evidence = check_decision(source, name, version, decision, source_champion, no_baseline=no_baseline)
    if not evidence["verified"] and not force:
        raise PromotionError(f"no passing comparison backs v{version}: " + "; ".join(evidence["problems"])
                             + " (use --force to ask a reviewer anyway; the request is then recorded as forced)")
    found = open_request_for(settings, repo, main, version=version, source_registry=source_registry,
                             compare_run_id=decision.get("compare_run_id"))
    if found is not None:  # the try that opened it may have died before tagging: tag again (same values)
        record, proposal = found
        source.set_model_version_tag(name, version, "rankops.promotion_request", record["request_id"])
        if target is not source:
            target.set_model_version_tag(name, str(record["version"]), "rankops.promotion_request",
                                         record["request_id"])
        return result_of(record, proposal, copied=False) | {"reused": True}
    staging = run_staging_checks(settings, version_uri(name, version))
    if not staging["passed"]:
        failed = [f"{c['name']}: {c['detail']}" for c in staging["checks"] if not c["passed"]]
        raise PromotionError(f"staging checks failed for v{version}: " + "; ".join(failed))
    try:
        pinned = pin_in_target(settings, source, target, version)
    except TransferError as exc:
        raise PromotionError(str(exc)) from None
    if champion is not None and champion == pinned["version"]:
        raise PromotionError(f"{name} v{version} is already prod's champion (v{champion} there)")

    request_id = new_request_id(version)
    p = paths_of(settings)
    record = {
        "request_id": request_id, "kind": "promote", "model_name": name, "version": pinned["version"],
        "source_version": version, "source_registry": source_registry,
        "target_registry": pinned["target_registry"], "weights_sha256": pinned["weights_sha256"],
        "champion_seen": champion, "pin_seen": main.pin, "base_commit": main.tip,
        "requested_by": by or getpass.getuser(), "requested_at": datetime.now(UTC).isoformat(),
        "decision": decision_digest(decision), "evidence": evidence, "staging": staging,
        "forced": not evidence["verified"], "mode": mode_of(settings),
        "model_card": (source_version.tags or {}).get(CARD_TAG),
        "online_evidence": online_digest(online, online_issues, required),
    }
    files = {
        p.pin: set_pin(main.pin_text, pinned["version"], name),
        p.request_file(request_id, "request.json"): json.dumps(record, indent=2, sort_keys=True, default=str) + "\n",
        p.request_file(request_id, "decision.json"): json.dumps(decision, indent=2, sort_keys=True, default=str) + "\n",
        p.request_file(request_id, "decision.md"): render_decision(decision) if "slices" in decision else "",
    }
    if record["model_card"]:  # the reviewer reads the card in the pull request itself
        files[p.request_file(request_id, "model_card.md")] = load_card(source, source_version.run_id)
    if online is not None:  # attached like the card: the reviewer reads the experiment in the request
        files[p.request_file(request_id, "online_evidence.json")] = online["json_text"]
        if online["html_text"] is not None:
            files[p.request_file(request_id, "online_evidence.html")] = online["html_text"]
    if record["mode"] != "local":  # the merge is the approval: main gets the entry exactly when it gets the pin
        files[p.history] = append_entry(main.history_text, approval_entry(record, p.request_file(request_id, "decision.md")))
    message = (f"promote {name} v{pinned['version']} to prod (request {request_id})\n\n"
               f"source v{version}; champion: {champion or 'none'}; {decision.get('metric')} delta "
               f"{decision.get('delta')}, p={decision.get('p_value')}" + ("; FORCED" if record["forced"] else ""))
    proposal = open_proposal(settings, repo, main, request_id, files=files, message=message, title=title_of(record),
                             body=describe(record, evidence))
    source.set_model_version_tag(name, version, "rankops.promotion_request", request_id)
    if target is not source:
        target.set_model_version_tag(name, pinned["version"], "rankops.promotion_request", request_id)
    return result_of(record, proposal, copied=pinned["copied"]) | {"reused": False}


def settle_main(settings: Settings) -> None:
    """Forge mode: complete a merged request that sync has not completed yet (alias, merger in history)."""
    from components.promotion.sync import sync
    from components.registry.forge import ForgeError

    try:
        sync(settings)
    except (PromotionError, ForgeError) as exc:
        raise PromotionError(f"settling main first failed, so nothing was opened: {exc}") from None


def result_of(record: dict[str, Any], proposal: dict[str, Any], *, copied: bool) -> dict[str, Any]:
    """What `promote request` reports, from the request record and where it waits."""
    decision, staging = record.get("decision") or {}, record.get("staging") or {}
    return {"request_id": record["request_id"], **proposal, "version": record["version"],
            "source_version": record["source_version"], "weights_sha256": record["weights_sha256"], "copied": copied,
            "target_registry": record["target_registry"], "champion_seen": record["champion_seen"],
            "pin_seen": record["pin_seen"], "forced": record["forced"], "evidence": record["evidence"],
            "decision": {k: decision.get(k) for k in ("promote", "p_value", "delta", "reference")},
            "staging": {k: staging.get(k) for k in ("passed", "queries", "candidates", "latency_p95_ms")}}


def approval_entry(record: dict[str, Any], report: str) -> dict[str, Any]:
    """The history entry a forge-mode request carries: it lands on main with the merge that approves it."""
    return {"action": "approve" if record["kind"] == "promote" else "rollback", "via": "pull request merge",
            "request_id": record["request_id"], "model_name": record["model_name"],
            "from_version": record["champion_seen"], "to_version": record["version"], "by": None,
            "requested_by": record["requested_by"], "requested_at": record["requested_at"],
            "decision": record.get("decision"), "report": report, "forced": record.get("forced", False),
            "note": record.get("note"), "online_evidence": record.get("online_evidence")}


def request_rollback(settings: Settings, repo, main, *, from_version: str, to_version: str, by: str,
                     note: str | None) -> dict[str, Any]:
    """Forge mode: a rollback is a pull request pinning `to_version` again; its merge completes it."""
    name, p = settings.registry.model_name, paths_of(settings)
    request_id = "rollback-" + new_request_id(to_version)
    record = {"request_id": request_id, "kind": "rollback", "model_name": name, "version": to_version,
              "champion_seen": from_version, "pin_seen": main.pin, "base_commit": main.tip, "requested_by": by,
              "requested_at": datetime.now(UTC).isoformat(), "note": note, "forced": False, "mode": mode_of(settings)}
    files = {p.pin: set_pin(main.pin_text, to_version, name),
             p.request_file(request_id, "request.json"): json.dumps(record, indent=2, sort_keys=True) + "\n",
             p.history: append_entry(main.history_text, approval_entry(record, ""))}
    proposal = open_proposal(
        settings, repo, main, request_id, files=files, message=f"rollback {name} v{from_version} -> v{to_version} "
        f"(request {request_id} by {by})", title=f"Roll back {name} in prod: v{from_version} -> v{to_version}",
        body=f"Rollback requested by {by}: {note or 'no note'}.\n\nMerging is the approval; `rankops promote sync` "
             "or the merge event then moves the champion alias.")
    return {"action": "rollback", "request_id": request_id, "model_name": name, "from_version": from_version,
            "to_version": to_version, "by": by, "note": note, **proposal}
