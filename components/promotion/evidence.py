"""Check the decision a promotion request carries against the comparison run that produced it.

A decision file is only a claim. It is accepted when its MLflow comparison run exists, the run
compared this model's challenger version against today's champion, the run recorded the same
report hash, the file hashes to it, and the verdict is promote. Every failed check is listed,
so a forced request records exactly what it overrode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.registry.evidence import KIND, report_digest
from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def check_decision(client: MlflowClient, name: str, version: str, decision: dict[str, Any],
                   champion: str | None, *, no_baseline: str | None = None) -> dict[str, Any]:
    """{verified, problems, compare_run_id, report_sha256, ...}; `client` is the registry the comparison ran in.

    `champion`: the version of `client`'s registry the comparison must have been against (None: BM25).
    `no_baseline`: why no version there is today's champion (prod's came from another registry,
    `state.comparison_baseline`); then no comparison is against it, and this is the problem named.
    """
    from mlflow.exceptions import MlflowException

    run_id, claimed = decision.get("compare_run_id"), decision.get("report_sha256")
    evidence: dict[str, Any] = {"compare_run_id": run_id, "report_sha256": claimed,
                                "challenger_version": decision.get("challenger_version"),
                                "champion_version": decision.get("champion_version"),
                                "verdict": "promote" if decision.get("promote") else "keep"}
    problems: list[str] = []
    if not run_id or not claimed:
        problems.append("the decision names no comparison run (compare_run_id) or report hash (report_sha256): "
                        "it was not produced by `rankops compare` / compare_op")
        return {**evidence, "verified": False, "problems": problems}
    try:
        tags = client.get_run(str(run_id)).data.tags
    except MlflowException:
        problems.append(f"comparison run {run_id} does not exist in {client.tracking_uri}")
        return {**evidence, "verified": False, "problems": problems}

    def tag(key: str) -> str:
        return tags.get(f"{TAG_PREFIX}{key}", "")

    if tag("kind") != KIND:
        problems.append(f"run {run_id} is not a comparison (tag {TAG_PREFIX}kind={tag('kind')!r})")
    if tag("model_name") != name:
        problems.append(f"run {run_id} compared model {tag('model_name')!r}, not {name!r}")
    if tag("challenger_version") != str(version) or str(decision.get("challenger_version")) != str(version):
        problems.append(f"the comparison is about v{tag('challenger_version') or decision.get('challenger_version')}, "
                        f"not the requested v{version}")
    actual = report_digest(decision)
    if actual != claimed or tag("report_sha256") != claimed:
        problems.append(f"report hash mismatch: the decision hashes to {actual[:12]}, it claims {str(claimed)[:12]}, "
                        f"run {run_id} recorded {tag('report_sha256')[:12]} (edited after the comparison?)")
    if no_baseline:
        problems.append(f"the comparison was against champion {tag('champion_version') or 'none (BM25)'}, but "
                        f"{no_baseline}")
    elif (tag("champion_version") or None) != champion:
        problems.append(f"the comparison was against champion {tag('champion_version') or 'none (BM25)'}, but the "
                        f"champion is now {champion or 'none'}: compare again")
    if tag("verdict") != "promote" or not decision.get("promote"):
        problems.append(f"the comparison's verdict is {tag('verdict') or evidence['verdict']!r}, not 'promote': "
                        + "; ".join(decision.get("reasons") or []))
    return {**evidence, "verified": not problems, "problems": problems}
