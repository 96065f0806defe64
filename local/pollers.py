"""The usage stream's event source mappings, locally: `make serve` and the end-to-end tests run the `rate` and
`summarize` Lambda handlers in-process through `StreamPoller`s configured like template.yaml (same FilterCriteria,
batch sizes, batching windows, bisection and partial batch responses).

    pollers = start_pollers(get_settings())
    ...
    pollers.drain()   # every usage change so far is rated and summarized
    pollers.stop()
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.dynamo import dynamodb_client, streams_client
from infra.settings import Settings
from local.streams import Handler, StreamPoller, drain_all

logger = logging.getLogger(__name__)

@dataclass
class Pollers:
    """The running pollers; ``drain`` waits until each has handed over (and finished) everything in the stream."""

    pollers: list[StreamPoller] = field(default_factory=list)
    failures: list[tuple[dict[str, Any], BaseException]] = field(default_factory=list)

    def drain(self, timeout: float = 60.0) -> None:
        """Until a whole round over the pollers delivers nothing (rating writes changes the other poller may
        read, e.g. a correction's original)."""
        drain_all(self.pollers, timeout)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()

    def on_failure(self, event: dict[str, Any], error: BaseException) -> None:
        """The on-failure destination: batches given up on after every retry (an SQS queue in the cloud)."""
        logger.error("stream batch of %d records given up after retries: %r", len(event["Records"]), error)
        self.failures.append((event, error))


def build_pollers(settings: Settings, wrap: Callable[[Handler], Handler] | None = None, tenant: str | None = None,
                  **overrides: Any) -> Pollers:
    """Pollers for the rate and summarize handlers, not started (tests drive them with ``drain``); ``wrap`` may
    wrap each handler (a benchmark timing invocations), ``tenant`` narrows them to one tenant's records,
    ``overrides`` change StreamPoller options."""
    from functions.rate import handler as rate
    from functions.summarize import handler as summarize
    handle = Pollers()
    for module in (rate, summarize):
        options: dict[str, Any] = {
            "batch_size": module.BATCH_SIZE,
            "batching_window_s": module.BATCHING_WINDOW_S,
            "filter_patterns": [of_tenant(p, tenant) for p in module.FILTER_PATTERNS] if tenant else
            module.FILTER_PATTERNS,
            "max_retry_attempts": module.MAX_RETRY_ATTEMPTS,
            "on_failure": handle.on_failure,
            "function_name": module.FUNCTION_NAME,
            "region": settings.region,
        } | overrides
        handler = wrap(module.handler) if wrap is not None else module.handler
        handle.pollers.append(StreamPoller(dynamodb_client(settings), streams_client(settings), settings.usage_table,
                                           handler, **options))
    return handle


def of_tenant(pattern: str, tenant: str) -> dict[str, Any]:
    """A FilterCriteria pattern narrowed to one tenant's usage records. Patterns are DynamoDB JSON on purpose (AWS
    matches them against the stream record as it spells it: ``{"S": [...]}`` is a pattern, not an AttributeValue),
    the one type tag spelled outside ``infra.dynamo_kit`` (allowed in ``tests/unit/test_codec_only.py``)."""
    narrowed: dict[str, Any] = json.loads(pattern)
    narrowed.setdefault("dynamodb", {}).setdefault("NewImage", {})["tenant"] = {"S": [tenant]}
    return narrowed


def start_pollers(settings: Settings, wrap: Callable[[Handler], Handler] | None = None, tenant: str | None = None,
                  **overrides: Any) -> Pollers:
    """Start polling the usage stream in background threads (from the oldest record kept: TRIM_HORIZON)."""
    handle = build_pollers(settings, wrap, tenant, **overrides)
    for poller in handle.pollers:
        poller.start()
    return handle
