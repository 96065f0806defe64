"""End-to-end fixtures: the GraphQL app, and the usage stream processed by the real rate and summarize handlers
through the local event source mappings (``local.pollers``), driven synchronously with ``drain()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.flow import Flow


@pytest.fixture(scope="session")
def _pollers_by_stream(store_endpoint: str) -> Iterator[dict[str, Any]]:
    """The pollers built so far, by the usage stream they read; none may have given up on a batch."""
    built: dict[str, Any] = {}
    yield built
    for handle in built.values():
        assert not handle.failures, f"stream batches were given up on: {handle.failures!r}"


@pytest.fixture
def pollers(tables: str, _pollers_by_stream: dict[str, Any]) -> Any:
    """The rate and summarize pollers of the usage table's stream, not threaded: ``drain()`` runs them here and
    now. One pair per stream: the session's on DynamoDB Local, each test's on moto (whose tables are new for each
    test, see ``tables``)."""
    from infra.dynamo import dynamodb_client
    from infra.settings import get_settings
    from local.pollers import build_pollers

    settings = get_settings()
    stream = dynamodb_client(settings).describe_table(TableName=settings.usage_table)["Table"]["LatestStreamArn"]
    if stream not in _pollers_by_stream:
        _pollers_by_stream[stream] = build_pollers(settings, batching_window_s=0)
    return _pollers_by_stream[stream]


@pytest.fixture
def flow(api: Any, pollers: Any) -> Flow:
    return Flow(api, pollers)
