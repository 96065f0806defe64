"""The PERIOD_CLOSED gate of ingestion (``core.usage_validation.PeriodGate``) backed by the summaries table: the
record's billing period as rating would book it (``core.processing.gate``), closed once its waiting period passed
or its summary is no longer OPEN."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from core.processing.gate import booking_period, is_closed, shortest_delay, surely_open
from core.usage import UsageRecord
from infra.catalog_repo import CatalogRepository
from infra.catalog_view import read_subscriptions_and_catalog
from infra.dynamo_direct import direct_reads_client
from infra.summaries_repo import SummariesRepository


class SummariesPeriodGate:
    """The records whose billing period no longer accepts usage. Per batch: one Query of the tenant's policies
    and one of its early-close markers (periods an admin closed before their waiting period passed), both sent
    without botocore (``infra.dynamo_direct.DirectReads``: ~0.1 ms of CPU each instead of ~0.85, on every
    recordUsage call); only for records older than the shortest rating delay (late usage) or in a period closed
    early, one Query per account, the catalog's few Queries and one BatchGetItem of summaries."""

    def __init__(self, clock: Callable[[], datetime] | None = None, client: Any | None = None):
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = client

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        if not records:
            return set()
        now = self._clock()
        reads = self._client if self._client is not None else direct_reads_client()
        delay = shortest_delay(CatalogRepository(tenant, reads).policies())
        early = SummariesRepository(tenant, reads).early_closes(now)
        late = {i: r for i, r in enumerate(records) if not surely_open(r, delay, now, early)}
        if not late:
            return set()
        subscriptions, catalog = read_subscriptions_and_catalog(tenant, list(late.values()), self._client)
        bookings = {i: b for i, r in late.items()
                    if (b := booking_period(r, catalog, subscriptions.get(r.account_external_id, ()))) is not None}
        if not bookings:
            return set()
        refs = {(b.key.account_external_id, b.key.id) for b in bookings.values()}
        summaries = SummariesRepository(tenant, self._client).batch_get(refs)
        return {i for i, b in bookings.items()
                if is_closed(b, summaries.get((b.key.account_external_id, b.key.id)), now)}
