"""End-to-end fixtures: the GraphQL app, and the usage stream processed by the real rate and summarize handlers
through the local event source mappings (``local.pollers``), driven synchronously with ``drain()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.flow import Flow


@pytest.fixture(scope="session")
def pollers(store_endpoint: str) -> Iterator[Any]:
    """The rate and summarize pollers of this test session, not threaded: ``drain()`` runs them here and now."""
    from infra.settings import get_settings
    from local.pollers import build_pollers

    handle = build_pollers(get_settings(), batching_window_s=0)
    yield handle
    assert not handle.failures, f"stream batches were given up on: {handle.failures!r}"


@pytest.fixture
def flow(api: Any, pollers: Any) -> Flow:
    return Flow(api, pollers)
