"""Shared fixtures: one real Spark session per test run, an isolated RANKOPS_HOME per test."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest

from components.common.config import Settings, load_settings

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(autouse=True)
def keep_print():
    """kfp.local indents output by swapping builtins.print; a pipeline run that ends in a thread of its
    own (ParallelFor, a timeout) can leave the swap in place for the next test. Restore it."""
    original = builtins.print
    yield
    builtins.print = original


@pytest.fixture
def rankops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh RANKOPS_HOME: every piece of local state of the test lives under it."""
    home = tmp_path / "rankops"
    monkeypatch.setenv("RANKOPS_HOME", str(home))
    monkeypatch.setenv("RANKOPS_ENV", "local")
    monkeypatch.delenv("RANKOPS_PROJECT", raising=False)  # the platform's own project unless a test selects one
    for name in list(os.environ):
        if name.startswith("RANKOPS_") and "__" in name:
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def settings(rankops_home: Path) -> Settings:
    """The local profile rooted at the test's RANKOPS_HOME."""
    return load_settings("local")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """The one real Spark session (local[2]) of the test run, stopped at the end."""
    from components.common.spark import get_spark

    home = tmp_path_factory.mktemp("spark-home")
    cfg = load_settings("local", environ={"RANKOPS_HOME": str(home), "RANKOPS_SPARK__MASTER": "local[2]",
                                           "RANKOPS_SPARK__SHUFFLE_PARTITIONS": "2"})
    session = get_spark(cfg)
    yield session
    session.stop()
