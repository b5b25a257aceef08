"""kfp_step freezes the heap only in the KFP executor's process, whether the body returns or raises."""

from __future__ import annotations

import gc
import importlib.machinery
import sys

import pytest

from components.common.kfp_step import kfp_step


@pytest.fixture
def as_executor(monkeypatch):
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", importlib.machinery.ModuleSpec("kfp.dsl.executor_main", None),
                        raising=False)
    yield
    gc.unfreeze()


def test_outside_the_executor_nothing_is_frozen():
    before = gc.get_freeze_count()

    @kfp_step
    def body(x):
        return x + 1

    assert body(1) == 2
    assert gc.get_freeze_count() == before


def test_in_the_executor_the_heap_is_frozen_after_return(as_executor):
    gc.unfreeze()
    seen = []

    @kfp_step
    def body():
        seen.append(gc.get_freeze_count())
        return "out"

    assert body() == "out"
    assert seen == [0]  # not during the work: the step's own garbage is still collected
    assert gc.get_freeze_count() > 0


def test_in_the_executor_a_failing_body_still_raises_and_freezes(as_executor):
    gc.unfreeze()

    @kfp_step
    def body():
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        body()
    assert gc.get_freeze_count() > 0

