"""KFP wrapper of monitoring: thin, the body imports and calls one function."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def monitor_op(
    report: Output[HTML],
    metrics: Output[Metrics],
    current_data: Input[Dataset] = None,
    env: str = "local",
    reference: str = "",
    current: str = "",
    trigger: bool = True,
) -> NamedTuple("MonitorOutputs", [("breach", bool)]):
    """Quality, drift and performance of the current window; on a breach, starts retraining once."""
    from collections import namedtuple

    from components.monitoring.kfp_io import run_monitor_op

    breach = run_monitor_op(current_data, report, metrics, env=env, reference=reference, current=current,
                            trigger=trigger)
    return namedtuple("MonitorOutputs", ["breach"])(breach)
