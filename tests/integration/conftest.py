"""Fixtures of the integration tests that more than one folder uses."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def image_id() -> str:
    """The project image built from this tree, once per test session (skips or fails without podman)."""
    from components.common.image import IMAGE
    from tests.support.containers import build_image

    return build_image(IMAGE)
