"""What the usage stream's handlers share: connecting once per container, rating a batch of stream records
(``infra.rating_repo.rate_stream``) before Powertools' batch processor reports the records not finished, and the
batch's metrics."""

from __future__ import annotations

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


class RatingUnfinished(Exception):
    """The record's wallet or summary kept changing underneath; the stream delivers it again."""


def ready() -> Settings:
    """Bind to the configured tables once per container (cold start), never at import time."""
    global _settings
    if _settings is None:
        _settings = connect(create_tables=False)
    return _settings


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
