"""StepOutput on lines as kfp.local 2.x writes them (copied from a real `make run` log)."""

import io

from pipelines.step_output import StepOutput

LOG = """\
14:38:49.772 - INFO - Executing task \x1b[96m'train-op'\x1b[0m
14:38:49.772 - INFO - Streamed logs:

    [KFP Executor 2026-11-30 14:38:50,100 INFO]: Looking for component `train_op` in --component_module_path `/tmp/x/ephemeral_component.py`
    [KFP Executor 2026-11-30 14:38:50,101 INFO]: Got executor_input:
    {
        "inputs": {
            "parameterValues": {"env": "local"}
        }
    }
    2026/11/30 14:39:32 INFO mlflow.system_metrics.system_metrics_monitor: Started monitoring system metrics.
    /v/lib/python3.11/site-packages/mlflow/types/utils.py:440: UserWarning: Hint: Inferred schema contains integer column(s).
      warnings.warn(
    [KFP Executor 2026-11-30 14:39:40,000 INFO]: training: step 200/200, val ndcg@10 0.71
    [KFP Executor 2026-11-30 14:39:41,000 WARNING]: Registry cache expired, refreshing
    Traceback (most recent call last):
      File "/tmp/x/ephemeral_component.py", line 3, in <module>
    ValueError: cannot fit
    [KFP Executor 2026-11-30 14:39:42,000 INFO]: Wrote executor output file to /h/train-op/executor_output.json.


14:39:43.000 - INFO - Task \x1b[96m'train-op'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m
14:39:43.001 - INFO - Task \x1b[96m'train-op'\x1b[0m outputs:
    model: Model( name='model',
                  uri='/h/train-op/model')
--------------------------------------------------------------------------------
14:39:43.002 - INFO - Executing task \x1b[96m'validate-model-op'\x1b[0m
"""


def run(verbose: bool) -> tuple[str, str, StepOutput]:
    shown, full = io.StringIO(), io.StringIO()
    out = StepOutput(shown, full, verbose=verbose)
    for piece in (LOG[:100], LOG[100:1000], LOG[1000:]):  # writes split mid-line, as a stream may
        out.write(piece)
    out.close_pending()
    return shown.getvalue(), full.getvalue(), out


def test_progress_warnings_and_tracebacks_show_and_the_bookkeeping_does_not():
    shown, full, out = run(verbose=False)
    assert shown.splitlines() == [
        "14:38:49.772 - INFO - Executing task \x1b[96m'train-op'\x1b[0m",
        "    [KFP Executor 2026-11-30 14:39:40,000 INFO]: training: step 200/200, val ndcg@10 0.71",
        "    [KFP Executor 2026-11-30 14:39:41,000 WARNING]: Registry cache expired, refreshing",
        "    Traceback (most recent call last):",
        '      File "/tmp/x/ephemeral_component.py", line 3, in <module>',
        "    ValueError: cannot fit",
        "14:39:43.000 - INFO - Task \x1b[96m'train-op'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m",
        "14:39:43.002 - INFO - Executing task \x1b[96m'validate-model-op'\x1b[0m",
    ]
    assert full == LOG  # the full log keeps every line as written
    assert out.hidden_lines == len(LOG.splitlines()) - 8


def test_verbose_shows_everything():
    shown, _, out = run(verbose=True)
    assert shown == LOG and out.hidden_lines == 0


def test_a_logging_handler_left_from_the_run_writes_after_the_full_log_closed():
    """kfp.local's handler keeps this stream; py4j logs through it at exit, after the run's log file closed."""
    import logging

    shown, full = io.StringIO(), io.StringIO()
    out = StepOutput(shown, full)
    handler = logging.StreamHandler(out)
    out.write("14:38:49.772 - INFO - Executing task 'etl-op'\n")
    full.close()
    errors = []
    handler.handleError = lambda record: errors.append(record)  # what printed "--- Logging error ---"
    logger = logging.getLogger("py4j.clientserver.test")
    logger.addHandler(handler)
    try:
        logger.warning("14:40:00.000 - WARNING - Closing down clientserver connection")
        out.flush()
    finally:
        logger.removeHandler(handler)
    assert errors == []
    assert shown.getvalue().splitlines() == ["14:38:49.772 - INFO - Executing task 'etl-op'",
                                             "14:40:00.000 - WARNING - Closing down clientserver connection"]


def test_lines_written_from_several_threads_at_once_are_all_kept():
    """kfp.local prints from one thread per ParallelFor iteration; the line being assembled is shared state."""
    import sys
    import threading

    shown, full = io.StringIO(), io.StringIO()
    out = StepOutput(shown, full, verbose=True)
    lines = {t: [f"14:00:00.000 - INFO - thread {t} line {n}" for n in range(2000)] for t in range(4)}

    def write(t: int) -> None:
        for line in lines[t]:
            out.write(line + "\n")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        threads = [threading.Thread(target=write, args=(t,)) for t in lines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    expected = sorted(line for t in lines for line in lines[t])
    assert sorted(shown.getvalue().splitlines()) == expected
    assert sorted(full.getvalue().splitlines()) == expected
