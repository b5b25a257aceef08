"""KFP wrapper of the promotion request: thin, the body imports and calls one function.

Approval stays a human step (`rankops promote approve`, or merging the branch), never a task.
"""

from kfp import dsl
from kfp.dsl import Artifact, Input

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def promotion_request_op(version: str, decision: Input[Artifact], env: str = "local", requested_by: str = "pipeline",
                         online_evidence: str = "") -> str:
    """Staging checks, then the branch + commit pinning `version` in the prod overlay.

    Args:
        version: registered version (from register_op).
        decision: decision.json from compare_op (reused, not recomputed).
        online_evidence: the `rankops experiment report` JSON (or its folder) to attach; relative paths
            are under storage.reports on the lakehouse; "" = none. Refused when its challenger is not `version`.
    Returns:
        The request id a reviewer approves or rejects.
    """
    from components.promotion.kfp_io import run_promotion_request_op

    return run_promotion_request_op(version, decision, env=env, requested_by=requested_by,
                                    online_evidence=online_evidence)
