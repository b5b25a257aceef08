"""Fixtures of the feature-store tests: constructed gold tables, an applied local repo, and
real PostgreSQL + Redis servers on loopback ports for the cluster profile."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from components.common.config import Settings, load_settings
from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_VIDEO
from components.common.net import free_port
from components.etl.normalize import query_id_of, video_id_of
from tests.support.feature_data import gold_frame

CATS, DOGS = query_id_of("cats"), query_id_of("dogs")
VA, VB, VC = (video_id_of(f"https://videos.example/{n}") for n in ("a", "b", "c"))
D1 = datetime(2026, 3, 1, 23, 59, 59)  # day ends: when the daily values became known
D3 = datetime(2026, 3, 3, 23, 59, 59)


def gold_case() -> dict:
    """Small gold tables with known point-in-time answers (see test_features_local.py)."""
    q = [
        dict(query_id=CATS, event_timestamp=D1, query_text="cats", query_num_tokens=1, query_impressions=10,
             query_clicks=4, query_ctr=0.4, query_sessions=8),
        dict(query_id=CATS, event_timestamp=D3, query_text="cats", query_num_tokens=1, query_impressions=30,
             query_clicks=6, query_ctr=0.2, query_sessions=20),
        dict(query_id=DOGS, event_timestamp=D1, query_text="dogs", query_num_tokens=1, query_impressions=5,
             query_clicks=1, query_ctr=0.2, query_sessions=5),
    ]
    v = [
        dict(video_id=vid, event_timestamp=ts, canonical_url=f"videos.example/{n}", title=f"{n} title",
             description=f"{n} description", channel="ch", duration_s=dur, video_age_days=age, tag_count=tags,
             video_impressions=imp, video_clicks=imp // 5, video_ctr=(imp // 5) / imp)
        for vid, n, ts, dur, age, tags, imp in [
            (VA, "a", D1, 61.0, 10.0, 2, 20), (VA, "a", D3, 61.0, 12.0, 2, 50), (VB, "b", D1, 300.0, 100.0, 0, 10),
        ]
    ]
    qv = [
        dict(query_id=CATS, video_id=VA, event_timestamp=D1, qv_impressions=8, qv_clicks=4, qv_ctr=0.5,
             qv_mean_position=1.5, qv_mean_dwell_ms=2000.0, qv_debiased_ctr=0.6),
        dict(query_id=CATS, video_id=VA, event_timestamp=D3, qv_impressions=20, qv_clicks=5, qv_ctr=0.25,
             qv_mean_position=2.0, qv_mean_dwell_ms=1500.0, qv_debiased_ctr=0.3),
        dict(query_id=CATS, video_id=VB, event_timestamp=D1, qv_impressions=2, qv_clicks=0, qv_ctr=0.0,
             qv_mean_position=7.0, qv_mean_dwell_ms=0.0, qv_debiased_ctr=0.0),
        dict(query_id=DOGS, video_id=VB, event_timestamp=D1, qv_impressions=5, qv_clicks=1, qv_ctr=0.2,
             qv_mean_position=3.0, qv_mean_dwell_ms=900.0, qv_debiased_ctr=0.25),
    ]
    labels = [
        # between the D1 and D3 rows: must see D1 values, never D3's
        dict(query_id=CATS, video_id=VA, event_timestamp=D1 + timedelta(hours=12), query_text="cats", label=3,
             split="train"),
        # after D3: sees D3 values
        dict(query_id=CATS, video_id=VA, event_timestamp=D3 + timedelta(hours=1), query_text="cats", label=2,
             split="test"),
        # the same video and timestamp as the first label but another query (Feast de-dup trap)
        dict(query_id=CATS, video_id=VB, event_timestamp=D1 + timedelta(hours=12), query_text="cats", label=0,
             split="train"),
        dict(query_id=DOGS, video_id=VB, event_timestamp=D1 + timedelta(hours=12), query_text="dogs", label=1,
             split="validation"),
        # 40 days later: query (TTL 30 d) and pair (TTL 30 d) expired, video (TTL 365 d) not
        dict(query_id=DOGS, video_id=VB, event_timestamp=D1 + timedelta(days=40), query_text="dogs", label=1,
             split="validation"),
        # before any feature row of the pair; VC unknown everywhere
        dict(query_id=DOGS, video_id=VC, event_timestamp=D1 + timedelta(hours=12), query_text="dogs", label=0,
             split="test"),
    ]
    return {GOLD_QUERY: gold_frame(GOLD_QUERY, q), GOLD_VIDEO: gold_frame(GOLD_VIDEO, v),
            GOLD_QUERY_VIDEO: gold_frame(GOLD_QUERY_VIDEO, qv), GOLD_LABELS: gold_frame(GOLD_LABELS, labels)}


def settings_at(home: Path, env: str = "local", **overrides: str) -> Settings:
    """Settings of `env` rooted at `home`, with RANKOPS_<SECTION>__<KEY> style overrides."""
    environ = {"RANKOPS_HOME": str(home), **{f"RANKOPS_{k.upper()}": v for k, v in overrides.items()}}
    return load_settings(env, environ=environ)


@pytest.fixture(name="gold_case", scope="session")
def gold_case_fixture():
    """The constructed gold tables as a function (fresh frames per call)."""
    return gold_case


@pytest.fixture(name="settings_at", scope="session")
def settings_at_fixture():
    """`settings_at(home, env="local", **overrides)` as a fixture."""
    return settings_at


@pytest.fixture(scope="module")
def applied_local(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A local profile with the constructed gold published, applied and materialised (shared per module)."""
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from tests.support.feature_data import publish_gold

    cfg = settings_at(tmp_path_factory.mktemp("features-local"))
    publish_gold(cfg, gold_case())
    run_apply(cfg)
    run_materialize(cfg)
    return cfg


# ---- real PostgreSQL and Redis servers -------------------------------------------------------

MISSING = "PostgreSQL/Redis servers not installed: run `make services` (apt packages postgresql, redis-server)"


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(MISSING)
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on a free loopback port; yields a SQLAlchemy URL of db `feast`."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="rankops-pg-"))  # pytest's tmp dirs are closed to the postgres user
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        subprocess.run(_as_postgres([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                     "feast"]), check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/feast"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_password() -> str:
    """The password the test Redis requires, as the cluster's does (Secret rankops-redis)."""
    return "rk-" + secrets.token_hex(12)


@pytest.fixture(scope="session")
def redis_address(tmp_path_factory: pytest.TempPathFactory, redis_password: str):
    """A redis-server on a free loopback port (no persistence) that requires `redis_password`; yields host:port."""
    from tests.support.redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.fail(MISSING)
    with redis_server(redis_password, tmp_path_factory.mktemp("redis")) as address:
        yield address
