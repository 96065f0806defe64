"""What the usage stream's handlers share: connecting once per container, rating a batch of stream records
(``infra.rating_repo.rate_stream``) before Powertools' batch processor reports the records not finished, and the
batch's metrics."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.usage import UsageStatus
from infra.bootstrap import connect
from infra.observability import publish
from infra.rating_repo import StreamRating, rate_stream
from infra.settings import Settings

_settings: Settings | None = None

#: The cyclic garbage collector's thresholds in a stream container (CPython's default: 700, 10, 10). A batch keeps
#: tens of thousands of objects alive while it runs (records, outcomes, transaction items), so with 700 the young
#: collections promoted them by the thousand into the oldest generation, and every few batches a full collection
#: walked the whole heap (the warm state, botocore's models): ~0.12 ms per record of a steady batch, a sixth of its
#: CPU (replayed on DynamoDB Local, 2026-12-06). With 10,000 a batch's short-lived objects are freed (by reference
#: counting) before they are ever promoted; cycles are still collected, a little later.
GC_THRESHOLDS = (10_000, 10, 10)


class RatingUnfinished(Exception):
    """The record's wallet or summary kept changing underneath; the stream delivers it again."""


def ready() -> Settings:
    """Bind to the configured tables once per container (cold start), never at import time."""
    global _settings
    if _settings is None:
        _settings = connect(create_tables=False)
        tune_gc()
    return _settings


def tune_gc() -> None:
    """Once per container, after the cold start: what the imports and clients made lives as long as the container,
    so it is moved out of the collector's sight (``gc.freeze``: full collections no longer walk it), and the
    thresholds become ``GC_THRESHOLDS``."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class StreamBatch:
    received: int
    rating: StreamRating = field(default_factory=StreamRating)

    @classmethod
    def rate(cls, records: Sequence[Mapping[str, Any]]) -> StreamBatch:
        ready()
        return cls(len(records), rate_stream(records, datetime.now(UTC)))

    def raise_if_unfinished(self, sequence_number: str | None) -> None:
        if sequence_number in self.rating.unfinished:
            raise RatingUnfinished(f"record {sequence_number} was not rated yet")

    def summary(self) -> dict[str, int]:
        return {"received": self.received, **self.counts(), "notRatedYet": len(self.rating.unfinished)}

    def counts(self) -> dict[str, int]:
        """RecordsRated (PROCESSED), RecordsUnfinished (ERROR or WARNING_UNRATED: rated no further until sent back
        to NEW), RecordsRedelivered (duplicates: processed by an earlier delivery)."""
        statuses = self.rating.statuses
        return {"RecordsRated": statuses[UsageStatus.PROCESSED],
                "RecordsUnfinished": statuses[UsageStatus.ERROR] + statuses[UsageStatus.WARNING_UNRATED],
                "RecordsRedelivered": self.rating.already}

    def publish(self, function: str, response: Mapping[str, Any]) -> None:
        """The batch's metrics, with BatchItemFailures: the records the partial batch response hands back (retried,
        and after the mapping's retries given up on: recorded in its on-failure queue)."""
        publish(function, {**self.counts(), "BatchItemFailures": len(response.get("batchItemFailures") or [])})
