"""What the usage stream's handlers share: connecting once per container, and rating a batch of stream records
(``infra.rating_repo.rate_stream``) before Powertools' batch processor reports the records not finished."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.bootstrap import connect
from infra.rating_repo import rate_stream
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
    unfinished: set[str] = field(default_factory=set)

    @classmethod
    def rate(cls, records: Sequence[Mapping[str, Any]]) -> StreamBatch:
        ready()
        return cls(len(records), rate_stream(records, datetime.now(UTC)))

    def raise_if_unfinished(self, sequence_number: str | None) -> None:
        if sequence_number in self.unfinished:
            raise RatingUnfinished(f"record {sequence_number} was not rated yet")

    def summary(self) -> dict[str, int]:
        return {"received": self.received, "unfinished": len(self.unfinished)}
