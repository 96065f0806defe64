"""Reconciliation: recompute a tenant's summaries and wallet debits from its usage records and report drift.

For every account: every record (one Query of the usage table's account index), every summary (one Query) and
the credit counters of every wallet the records drew from (one Query each). Three checks, each reported per
field:

- each summary equals what the bookings of its records add up to (``core.summaries.recompute``), priced at the
  rates the summaries carry;
- each summary's amount equals the sum of the amounts its records were rated at (order independence);
- each bucket's debited quantity equals what the records that still count drew from it (a corrected original's
  debits were given back, unless a PEAK reversal found it superseded).

And two checks that nothing waits forever (issue 15):

- **stale NEW records**: a record still ``NEW`` longer than ``USAGE_STALE_NEW_AFTER_S`` (default 900 s) after it
  was received (or last rated, for one set back to NEW) was never rated: its stream batch was given up on after
  its retries, or rating is that far behind. Found in the records the drift checks read anyway (the account
  index, one Query per account): no extra read.
- **given-up stream batches**: the rate and summarize functions' on-failure queues (``STREAM_FAILURE_QUEUE_URLS``,
  set by template.yaml) hold one message per batch Lambda gave up on — its shard and sequence-number range, not
  the records, and for every tenant. Their depth (``GetQueueAttributes``) is reported; the records themselves are
  the stale NEW ones.

Any finding makes the report not ``clean`` (the command exits 1).

Not a request path: the accounts of a tenant are listed with a filtered Scan of the accounts and summaries tables
(an operator's job, run with ``python -m functions.summarize.reconcile --tenant T`` or the reconcile function).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.ingestion import stale_since
from core.summaries import Drift, UsageSummary, drift, recompute
from core.usage import SummaryBooking, UsageRecord, UsageStatus
from core.values import immutable
from infra import keys
from infra.dynamo import dynamodb_client
from infra.dynamo_kit import expression_values, from_attribute, scan_all
from infra.settings import get_settings
from infra.summaries_repo import SummariesRepository
from infra.usage_repo import UsageRepository
from infra.wallets_repo import WalletsRepository

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
PAGE = 1000


@immutable
class WalletDrift:
    wallet_id: str
    bucket_id: str
    stored: Decimal
    expected: Decimal


@immutable
class StaleRecord:
    """A usage record still NEW ``waiting`` after it was received (or last rated)."""

    record_id: str
    account_external_id: str
    idempotency_key: str
    since: datetime
    attempt: int
    waiting: timedelta


@dataclass
class Reconciliation:
    tenant: str
    accounts: int = 0
    records: int = 0
    summaries: int = 0
    summary_drift: list[Drift] = field(default_factory=list)
    wallet_drift: list[WalletDrift] = field(default_factory=list)
    stale_after: timedelta = timedelta(seconds=900)
    stale: list[StaleRecord] = field(default_factory=list)
    #: on-failure queue URL → messages (stream batches given up on, all tenants); None: could not be read
    given_up: dict[str, int | None] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.summary_drift and not self.wallet_drift and not self.stale and not any(
            count != 0 for count in self.given_up.values())

    def lines(self) -> Iterator[str]:
        yield (f"tenant {self.tenant}: {self.accounts} accounts, {self.records} usage records, {self.summaries} "
               f"summaries — {'no drift' if self.clean else 'DRIFT'}")
        for d in self.summary_drift:
            yield f"  summary {d.summary_id}: {d.field} stored {d.stored} != records {d.expected}"
        for w in self.wallet_drift:
            yield f"  wallet {w.wallet_id} bucket {w.bucket_id}: debited {w.stored} != records {w.expected}"
        if self.stale:
            yield (f"  {len(self.stale)} usage records still NEW after {_age(self.stale_after)} (never rated: their "
                   "stream batch was given up on, or rating is that far behind):")
        for r in self.stale:
            yield (f"    record {r.record_id} (account {r.account_external_id}, idempotencyKey {r.idempotency_key!r},"
                   f" attempt {r.attempt}) NEW for {_age(r.waiting)}, since {r.since.isoformat()}")
        for url, count in sorted(self.given_up.items()):
            if count is None:
                yield f"  on-failure queue {url}: could not be read"
            elif count:
                yield f"  on-failure queue {url}: {count} stream batches given up on (all tenants)"


def reconcile(tenant: str, accounts: Iterable[str] | None = None, client: Any | None = None, *,
              now: datetime | None = None, stale_after: timedelta | None = None,
              queue_depths: Callable[[], dict[str, int | None]] | None = None) -> Reconciliation:
    """Recompute the tenant's summaries and wallet debits (of ``accounts``, default all) from its records; list
    the records NEW for longer than ``stale_after`` (default: the setting) and the depths of the stream's
    on-failure queues (default: ``failure_queue_depths`` of the setting's queues)."""
    client = client or dynamodb_client()
    settings = get_settings()
    moment = now or datetime.now(UTC)
    report = Reconciliation(tenant, stale_after=stale_after if stale_after is not None
                            else timedelta(seconds=settings.stale_new_after_s))
    usage = UsageRepository(tenant, client)
    summaries = SummariesRepository(tenant, client)
    wallets = WalletsRepository(tenant, client=client)
    for account in sorted(accounts if accounts is not None else tenant_accounts(tenant, client)):
        report.accounts += 1
        records = account_records(usage, account)
        stored = {s.id: s for s in summaries.of_account(account)}
        report.records += len(records)
        report.summaries += len(stored)
        report.summary_drift.extend(summary_drift(stored, records))
        report.wallet_drift.extend(wallet_drift(wallets, records))
        report.stale.extend(stale_records(records, moment, report.stale_after))
    report.given_up = queue_depths() if queue_depths is not None else failure_queue_depths(
        settings.stream_failure_queue_urls)
    return report


def stale_records(records: Iterable[UsageRecord], now: datetime, after: timedelta) -> list[StaleRecord]:
    """The records still NEW ``after`` their last change: received, or last rated (a record set back to NEW)."""
    found = []
    for record in records:
        if record.status != UsageStatus.NEW:
            continue
        since = stale_since(record)
        if now - since > after:
            found.append(StaleRecord(record.id, record.account_external_id, record.idempotency_key, since,
                                     record.attempt, now - since))
    return sorted(found, key=lambda r: (r.since, r.record_id))


def failure_queue_depths(urls: Iterable[str], sqs: Any | None = None) -> dict[str, int | None]:
    """Messages waiting in each on-failure queue (visible + in flight); None for a queue that cannot be read."""
    urls = [u for u in urls if u]
    if not urls:
        return {}
    if sqs is None:
        import boto3  # only when queues are configured (the Lambda runtime and the dev install have it)

        sqs = boto3.client("sqs", region_name=get_settings().region)
    depths: dict[str, int | None] = {}
    for url in urls:
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            depths[url] = sum(int(attributes.get(name, 0)) for name in (
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"))
        except Exception as exc:
            logger.warning("on-failure queue %s could not be read: %s", url, exc)
            depths[url] = None
    return depths


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def account_records(usage: UsageRepository, account: str) -> list[UsageRecord]:
    out: list[UsageRecord] = []
    after: str | None = None
    while True:
        page, more = usage.account_page(account, PAGE, after)
        out.extend(record for _, record in page)
        if not more:
            return out
        after = page[-1][0]


def summary_drift(stored: dict[str, UsageSummary], records: Iterable[UsageRecord]) -> list[Drift]:
    booked: dict[str, list[SummaryBooking]] = {}
    for record in records:
        if record.status == UsageStatus.PROCESSED:
            for booking in record.bookings:
                booked.setdefault(booking.summary_id, []).append(booking)
    specs = {r.key: r.spec for s in stored.values() for r in s.rates}
    found: list[Drift] = []
    for summary_id in sorted(stored.keys() | booked.keys()):
        summary = stored.get(summary_id)
        bookings = booked.get(summary_id, [])
        if summary is None:
            found.append(Drift(summary_id, "summary", "missing", f"{len(bookings)} bookings"))
            continue
        found.extend(drift(summary, recompute(summary, bookings, specs)))
        by_records = sum((b.amount - b.committed_amount for b in bookings), ZERO)
        if by_records != summary.amount:
            found.append(Drift(summary_id, "sum of record amounts", summary.amount, by_records))
    return found


def wallet_drift(wallets: WalletsRepository, records: list[UsageRecord]) -> list[WalletDrift]:
    by_id = {r.id: r for r in records}
    expected: dict[str, dict[str, Decimal]] = {}

    def add(wallet_id: str | None, debits: Iterable[tuple[str, Decimal]], sign: int) -> None:
        if wallet_id:
            buckets = expected.setdefault(wallet_id, {})
            for bucket, quantity in debits:
                buckets[bucket] = buckets.get(bucket, ZERO) + sign * quantity

    for record in records:
        if record.status != UsageStatus.PROCESSED:
            continue
        add(record.wallet_id, record.debits, 1)
        add(record.commitment_wallet_id, record.commitment_debits, 1)
        correction = by_id.get(record.corrected_by or "")
        if correction is not None and not _superseded_peak(record, correction):
            add(record.wallet_id, record.debits, -1)
            add(record.commitment_wallet_id, record.commitment_debits, -1)
    found: list[WalletDrift] = []
    for wallet_id, buckets in sorted(expected.items()):
        counters = wallets.counters(wallet_id)
        stored = {b: q for c in counters.values() for b, q in c.by_bucket.items()}
        for bucket in sorted(buckets.keys() | stored.keys()):
            want, have = buckets.get(bucket, ZERO), stored.get(bucket, ZERO)
            if want != have:
                found.append(WalletDrift(wallet_id, bucket, have, want))
    return found


def _superseded_peak(original: UsageRecord, correction: UsageRecord) -> bool:
    """A PEAK reversal that found the original no longer holding its window's peak gave nothing back."""
    own = [b for b in original.bookings if not b.reversal and b.peak_window is not None and b.consumed > ZERO]
    undone = [b for b in correction.bookings if b.reversal and b.peak_window is None and b.consumed == ZERO
              and b.count < 0]
    return bool(own) and bool(undone)


def tenant_accounts(tenant: str, client: Any) -> set[str]:
    """Every account of the tenant that has subscriptions or summaries (filtered Scans: an operator's job)."""
    settings = get_settings()
    found: set[str] = set()
    accounts_prefix = keys.account_pk(tenant, "")
    for item in _scan(client, settings.accounts_table, "begins_with(pk, :p) AND sk = :sk",
                      expression_values(p=accounts_prefix, sk=keys.ACCOUNT_SK)):
        found.add(from_attribute(item["pk"])[len(accounts_prefix):])
    summaries_prefix = keys.summaries_pk(tenant, "")
    for item in _scan(client, settings.summaries_table, "begins_with(pk, :p)", expression_values(p=summaries_prefix)):
        found.add(from_attribute(item["pk"])[len(summaries_prefix):])
    return found


def _scan(client: Any, table: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return scan_all(client, TableName=table, FilterExpression=condition, ExpressionAttributeValues=values,
                    ProjectionExpression="pk")

