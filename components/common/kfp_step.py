"""What every KFP step body shares: `kfp_step`, so a step's process ends as soon as its work does.

A step process imports torch, transformers, MLflow, ranx or Spark's client and exits right after the
executor writes its outputs. Python's final garbage collection then walks every object those
libraries made: about 1.8 s per model step on 2 cores, paid again in each step of a pipeline.
Freezing the heap when the step's function returns (only in the KFP executor's own process) lets
that collection skip them; atexit handlers (Spark's stop, MLflow's flushes, logging) still run.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
EXECUTOR_MODULE = "kfp.dsl.executor_main"  # `python -m kfp.dsl.executor_main`: locally and in the pod


def in_executor_process() -> bool:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == EXECUTOR_MODULE


def kfp_step(func: Callable[P, R]) -> Callable[P, R]:
    """`func` as a step body: when it returns or raises in the executor's process, the heap is frozen."""

    @functools.wraps(func)
    def step(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            if in_executor_process():
                gc.freeze()

    return step
