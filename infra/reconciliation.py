"""Reconciliation: recompute a tenant's summaries and wallet debits from its usage records and report drift.

For every account: every record (one Query of the usage table's account index), every summary (one Query) and
the credit counters of every wallet the records drew from (one Query each). Three checks, each reported per
field:

- each summary equals what the bookings of its records add up to (``core.summaries.recompute``), priced at the
  rates the summaries carry;
- each summary's amount equals the sum of the amounts its records were rated at (order independence);
- each bucket's debited quantity equals what the records that still count drew from it (a corrected original's
  debits were given back, unless a PEAK reversal found it superseded).

Not a request path: the accounts of a tenant are listed with a filtered Scan of the accounts and summaries tables
(an operator's job, run with ``python -m functions.summarize.reconcile --tenant T`` or the reconcile function).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.summaries import Drift, UsageSummary, drift, recompute
from core.usage import SummaryBooking, UsageRecord, UsageStatus
from core.values import immutable
from infra import keys
from infra.dynamo import dynamodb_client
from infra.settings import get_settings
from infra.summaries_repo import SummariesRepository
from infra.usage_repo import UsageRepository
from infra.wallets_repo import WalletsRepository

ZERO = Decimal(0)
PAGE = 1000


@immutable
class WalletDrift:
    wallet_id: str
    bucket_id: str
    stored: Decimal
    expected: Decimal


@dataclass
class Reconciliation:
    tenant: str
    accounts: int = 0
    records: int = 0
    summaries: int = 0
    summary_drift: list[Drift] = field(default_factory=list)
    wallet_drift: list[WalletDrift] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.summary_drift and not self.wallet_drift

    def lines(self) -> Iterator[str]:
        yield (f"tenant {self.tenant}: {self.accounts} accounts, {self.records} usage records, {self.summaries} "
               f"summaries — {'no drift' if self.clean else 'DRIFT'}")
        for d in self.summary_drift:
            yield f"  summary {d.summary_id}: {d.field} stored {d.stored} != records {d.expected}"
        for w in self.wallet_drift:
            yield f"  wallet {w.wallet_id} bucket {w.bucket_id}: debited {w.stored} != records {w.expected}"


def reconcile(tenant: str, accounts: Iterable[str] | None = None, client: Any | None = None) -> Reconciliation:
    """Recompute the tenant's summaries and wallet debits (of ``accounts``, default all) from its records."""
    client = client or dynamodb_client()
    report = Reconciliation(tenant)
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
    return report


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
                      {":p": {"S": accounts_prefix}, ":sk": {"S": keys.ACCOUNT_SK}}):
        found.add(item["pk"]["S"][len(accounts_prefix):])
    summaries_prefix = keys.summaries_pk(tenant, "")
    for item in _scan(client, settings.summaries_table, "begins_with(pk, :p)", {":p": {"S": summaries_prefix}}):
        found.add(item["pk"]["S"][len(summaries_prefix):])
    return found


def _scan(client: Any, table: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": condition, "ExpressionAttributeValues": values,
                              "ProjectionExpression": "pk"}
    while True:
        page = client.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

