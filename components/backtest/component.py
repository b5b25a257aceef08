"""KFP wrappers of the backtest: plan, first-cutoff model, one window, summary; thin, each calls one function.

The plan is a single list output (each window names the training set); the first-cutoff step
returns it with the model's URI in every window, and the ParallelFor iterates that list. The
loop body reads nothing but its item: kfp.local resolves a loop over a task's single output, but
neither a NamedTuple field nor another task's output inside the loop.
"""

from kfp import dsl
from kfp.dsl import HTML, Markdown, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def backtest_plan_op(windows: int, horizon_days: float = 0.0, training_set: str = "", env: str = "local") -> list:
    """The K windows over the training set's time range (horizon 0 = span / (K + 1)), each with the resolved ref."""
    from components.backtest.kfp_io import run_plan_op

    return run_plan_op(windows, horizon_days, training_set, env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def backtest_origin_op(windows: list, params_json: str = "", env: str = "local") -> list:
    """Train the model of the first cutoff (kept in MLflow) that every window also scores; the windows with its URI."""
    from components.backtest.kfp_io import run_origin_op

    return run_origin_op(windows, params_json, env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def backtest_window_op(window: dict, params_json: str = "", env: str = "local") -> str:
    """Train on the window's past, evaluate it, the first-cutoff model and BM25 on its range with the paired test.

    Returns the window's row as JSON text (a KFP dict output cannot hold the nulls of NaN metrics).
    """
    from components.backtest.kfp_io import run_window_op

    return run_window_op(window, params_json, env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def backtest_summary_op(rows: list, report: Output[Markdown], html_report: Output[HTML], env: str = "local") -> dict:
    """The stability summary (mean, spread, worst window, ageing) and the report as Markdown and HTML.

    `rows`: the windows' JSON rows (dsl.Collected over the ParallelFor).
    """
    from components.backtest.kfp_io import run_summary_op

    return run_summary_op(rows, report, html_report, env)
