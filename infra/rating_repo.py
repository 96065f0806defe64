"""Rating a stream batch against storage, exactly once (see infra/README.md, "Rating and summaries").

``RatingRepository(tenant).rate(records, now)``:

1. **Read** what the batch needs, once: the tenant's catalog (``CatalogView``: a handful of Queries), each
   account with its subscriptions (``AccountsRepository``), the credit counters of every wallet the records
   draw from (``WalletsRepository.counters``), the summaries they book into (BatchGetItem) and the originals
   their corrections point at. The pure pipeline (``core.processing.process``) runs first on what is known and
   tells which wallets and summaries it touched; those are read and it runs again, until nothing new is needed.
2. **Group** the outcomes: records that touch a common wallet or summary belong together.
3. **Write** each group as TransactWriteItems of ≤ 100 items: every record's rated update, conditioned on
   ``status = NEW AND attempt = <the attempt rated>`` (a redelivered or replayed record is a no-op); one counter
   update per wallet credit touched (conditioned on the total read: ``core.wallets``/``infra.wallets_repo``);
   one ledger entry per wallet, usage time and kind; one Put per summary, conditioned on its version (a
   concurrent writer or a period close forces a re-read). A large group is split into several transactions that
   chain on each other's versions.
4. A cancelled transaction says why, item by item: a record that is no longer NEW at that attempt was processed
   already (dropped); anything else (a wallet or summary changed underneath) sends the group's records round
   again, on fresh reads. Whatever has been written stays written: a crash between two transactions loses nothing
   and counts nothing twice, because the records of the first are no longer NEW when the batch comes again.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from core.catalog import (
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    ResourcePolicy,
    UsageResource,
)
from core.policies import resolve
from core.processing import BatchResult, CatalogView, Outcome, RatingContext, WalletState, applied, process
from core.processing.gate import booking_period, is_closed
from core.subscriptions import Subscription, wallets_of
from core.summaries import UsageSummary, aggregate
from core.summaries import apply as apply_delta
from core.usage import UsageRecord, UsageStatus
from core.wallets import BucketChange, CreditCounter, LedgerEntryType, WalletRef, book
from infra import keys
from infra.accounts_repo import AccountsRepository, cancellation_codes, is_cancelled
from infra.catalog_repo import CatalogRepository
from infra.dynamo import dynamodb_client
from infra.summaries_repo import SummariesRepository, SummaryRef
from infra.usage_repo import UsageRepository, record_from_item
from infra.wallets_repo import WalletsRepository

logger = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = 100
MAX_ROUNDS = 8
MAX_LOAD_PASSES = 6
READ_THREADS = 8


class RecordStore(Protocol):
    """The usage records side of rating (``infra.usage_repo``): read records, and the transaction entries that
    set a record's rated fields exactly once and mark a corrected original."""

    def get_many(self, ids: Iterable[str]) -> dict[str, UsageRecord]: ...

    def rated_update(self, record: UsageRecord, attempt: int) -> dict[str, Any]: ...

    def corrected_update(self, original_id: str, corrected_by: str) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------- catalog snapshot
def catalog_view(catalog: CatalogRepository, product_codes: Iterable[str], resource_codes: Iterable[str]
                 ) -> CatalogView:
    """The ACTIVE catalog rating needs for these products and resources, with every PUR's effective policy."""
    classes, units = catalog.units_and_classes()
    cards, entries = catalog.rate_cards()
    products: dict[str, Product] = {}
    purs: dict[str, tuple[ProductUsageResource, ...]] = {}
    grants: dict[str, tuple[ProductUsageGrant, ...]] = {}
    product_policies: dict[str, ProductResourcePolicy] = {}
    for code in dict.fromkeys(product_codes):
        graph = catalog.product_graph(code)
        if graph is None:
            continue
        products[code] = graph.product
        purs[code] = tuple(graph.purs)
        grants.update({k: tuple(v) for k, v in graph.grants.items()})
        product_policies.update(graph.policies)
    wanted = set(resource_codes) | {p.resource_code for ps in purs.values() for p in ps}
    resources = catalog.batch_get(UsageResource, sorted(wanted))
    tokens = {r.token_resource_code for r in resources.values() if r.token_resource_code}
    tokens |= {p.token_resource_code for ps in purs.values() for p in ps if p.token_resource_code}
    if tokens - resources.keys():
        resources.update(catalog.batch_get(UsageResource, sorted(tokens - resources.keys())))
    resource_policies = catalog.batch_get(ResourcePolicy, sorted(resources))
    policies = {p.id: p for p in catalog.policies()}
    effective = {}
    for pur in (p for ps in purs.values() for p in ps):
        product_level = product_policies.get(pur.id)
        resource_level = resource_policies.get(pur.resource_code)
        effective[pur.id] = resolve(_active_set(product_level), _active_set(resource_level), policies,
                                    active_only=True)
    return CatalogView(resources=resources, units={u.unit_code: u for u in units},
                       classes={c.code: c for c in classes}, products=products, purs=purs, grants=grants,
                       policies=effective, rate_cards={c.id: c for c in cards}, rate_entries=tuple(entries))


def _active_set(level: ProductResourcePolicy | ResourcePolicy | None) -> Any:
    return level.policies if level is not None and level.status == RecordStatus.ACTIVE else None


def read_subscriptions_and_catalog(tenant: str, records: Sequence[UsageRecord], client: Any | None = None
                                   ) -> tuple[dict[str, tuple[Subscription, ...]], CatalogView]:
    """The records' accounts' subscriptions (one Query per account, in parallel) and the catalog they need."""
    accounts_repo = AccountsRepository(tenant, client)
    names = sorted({r.account_external_id for r in records})
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, max(1, len(names)))) as pool:
        accounts = dict(zip(names, pool.map(accounts_repo.get, names), strict=True))
    subscriptions = {name: account.subscriptions for name, account in accounts.items() if account is not None}
    products = {s.product_code for subs in subscriptions.values() for s in subs}
    return subscriptions, catalog_view(CatalogRepository(tenant), products, {r.resource_code for r in records})


class SummariesPeriodGate:
    """``core.usage_validation.PeriodGate`` backed by the summaries table: the records whose billing period no
    longer accepts usage (``core.processing.gate``). Per batch: one Query per account, the catalog's few Queries
    and one BatchGetItem of summaries."""

    def __init__(self, clock: Callable[[], datetime] | None = None, client: Any | None = None):
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = client

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        if not records:
            return set()
        subscriptions, catalog = read_subscriptions_and_catalog(tenant, records, self._client)
        bookings = {i: b for i, r in enumerate(records)
                    if (b := booking_period(r, catalog, subscriptions.get(r.account_external_id, ()))) is not None}
        if not bookings:
            return set()
        refs = {(b.key.account_external_id, b.key.id) for b in bookings.values()}
        summaries = SummariesRepository(tenant, self._client).batch_get(refs)
        now = self._clock()
        return {i for i, b in bookings.items()
                if is_closed(b, summaries.get((b.key.account_external_id, b.key.id)), now)}


# ---------------------------------------------------------------------------------------------- reading a batch
@dataclass
class BatchState:
    """What storage holds for a batch, as read so far."""

    catalog: CatalogView
    subscriptions: dict[str, tuple[Subscription, ...]]
    refs: dict[str, WalletRef]
    counters: dict[str, dict[str, CreditCounter]] = field(default_factory=dict)
    summaries: dict[SummaryRef, UsageSummary] = field(default_factory=dict)
    looked_up: set[SummaryRef] = field(default_factory=set)
    originals: dict[str, UsageRecord] = field(default_factory=dict)

    def context(self, now: datetime) -> RatingContext:
        wallets = {wid: WalletState(ref, self.counters.get(wid, {})) for wid, ref in self.refs.items()}
        return RatingContext(self.catalog, now, self.subscriptions, wallets, dict(self.summaries))


@dataclass
class RateReport:
    """What became of each record of a batch: rated now, processed already (a redelivery), or not yet."""

    rated: list[Outcome] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class RatingRepository:
    def __init__(self, tenant: str, records: RecordStore, client: Any | None = None,
                 summaries: SummariesRepository | None = None,
                 transact: Callable[[list[dict[str, Any]]], None] | None = None):
        self.tenant = tenant
        self.records = records
        self._client = client
        self.summaries = summaries or SummariesRepository(tenant, client)
        self._transact = transact

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def transact(self, items: list[dict[str, Any]]) -> None:
        if self._transact is not None:
            self._transact(items)
        else:  # the token makes the SDK's retry of a transaction whose response was lost a no-op success
            self.client.transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))

    # ------------------------------------------------------------------------------------------ the batch
    def rate(self, records: Sequence[UsageRecord], now: datetime) -> RateReport:
        """Rate the NEW records of a batch (of this tenant) exactly once; see the module docstring."""
        report = RateReport()
        pending = latest_new(records)
        for round_ in range(MAX_ROUNDS):
            if not pending:
                return report
            state, result = self.load_and_process(pending, now)
            images = {**state.originals, **{r.id: r for r in pending}}
            retry: set[str] = set()
            for group in groups(result.outcomes):
                written, already, again = self.write_group(group, images, state, result)
                report.rated.extend(written)
                report.already.extend(already)
                retry.update(again)
            pending = [r for r in pending if r.id in retry]
            if pending:
                time.sleep(random.uniform(0, 0.005 * (round_ + 1)))  # jittered: let a concurrent writer finish
        report.failed.extend(r.id for r in pending)
        return report

    def load_and_process(self, records: Sequence[UsageRecord], now: datetime) -> tuple[BatchState, BatchResult]:
        """Read what the records need and rate them in memory; reads again until the pipeline needs nothing new."""
        state = self.load(records)
        # what corrections give back: their originals' wallets and summaries
        self._read_counters(state, {w for o in state.originals.values()
                                    for w in (o.wallet_id, o.commitment_wallet_id) if w})
        booked = {(o.account_external_id, b.summary_id) for o in state.originals.values() for b in o.bookings}
        state.summaries.update(self.summaries.batch_get(booked))
        state.looked_up |= booked
        result = process(records, state.context(now), state.originals)
        for _ in range(MAX_LOAD_PASSES):
            wallets = {c.wallet_id for o in result.outcomes for c in o.wallet_changes} - state.counters.keys()
            summaries = _summary_refs(result) - state.looked_up
            if not wallets and not summaries:
                return state, result
            self._read_counters(state, wallets)
            state.summaries.update(self.summaries.batch_get(summaries))
            state.looked_up |= summaries
            result = process(records, state.context(now), state.originals)
        raise RuntimeError("rating kept needing more state than it read; giving up on this batch")

    def load(self, records: Sequence[UsageRecord]) -> BatchState:
        originals: dict[str, UsageRecord] = {}
        wanted = {r.correction_of for r in records if r.correction_of}
        while wanted:  # originals, and the originals of those still NEW (an AMEND not yet processed)
            originals.update(self.records.get_many(wanted))
            wanted = {o.correction_of for o in originals.values()
                      if o.correction_of and o.status == UsageStatus.NEW} - originals.keys()
        everyone = list(records) + list(originals.values())
        subscriptions, catalog = read_subscriptions_and_catalog(self.tenant, everyone, self._client)
        all_subs = [s for subs in subscriptions.values() for s in subs]
        return BatchState(catalog, subscriptions, wallets_of(all_subs), originals=originals)

    def _read_counters(self, state: BatchState, wallet_ids: Iterable[str]) -> None:
        wallets = WalletsRepository(self.tenant, client=self._client)
        ids = sorted(wallet_ids)
        if not ids:
            return
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(ids))) as pool:
            for wallet_id, counters in zip(ids, pool.map(wallets.counters, ids), strict=True):
                state.counters[wallet_id] = counters

    # ------------------------------------------------------------------------------------------ writing a group
    def write_group(self, group: Sequence[Outcome], images: Mapping[str, UsageRecord], state: BatchState,
                    result: BatchResult) -> tuple[list[Outcome], list[str], set[str]]:
        """Write a group's outcomes in as few transactions as fit; (written, processed already, to retry)."""
        written: list[Outcome] = []
        already: list[str] = []
        summaries = {ref: state.summaries.get(ref) or result.new_summaries[ref] for ref in _group_refs(group)}
        stored = {ref for ref in summaries if ref in state.summaries}
        counters = {wid: dict(state.counters.get(wid, {})) for o in group for wid in _wallet_ids(o)}
        for start, end in chunk_bounds(group):
            chunk = list(group[start:end])
            items, kinds = self._chunk_items(chunk, images, summaries, stored, counters)
            try:
                self.transact(items)
            except ClientError as exc:
                if not is_cancelled(exc):
                    raise
                codes = cancellation_codes(exc)
                done = {kinds[i][1] for i, code in enumerate(codes)
                        if code == "ConditionalCheckFailed" and kinds[i][0] == "record"}
                already.extend(sorted(done))
                logger.info("transaction cancelled (%s): %d of %d records processed already", codes.count(
                    "ConditionalCheckFailed"), len(done), len(chunk))
                return written, already, {o.record_id for o in group[start:]} - done
            written.extend(chunk)
            for o in chunk:
                for change in o.wallet_changes:
                    counters[change.wallet_id] = book(counters[change.wallet_id], change.changes)
        return written, already, set()

    def _chunk_items(self, chunk: Sequence[Outcome], images: Mapping[str, UsageRecord],
                     summaries: dict[SummaryRef, UsageSummary], stored: set[SummaryRef],
                     counters: Mapping[str, Mapping[str, CreditCounter]]
                     ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        items: list[dict[str, Any]] = []
        kinds: list[tuple[str, str]] = []  # (what, which) per item, to read cancellation reasons
        in_chunk = {o.record_id for o in chunk}
        corrected_here = {o.reverses: o.record_id for o in chunk if o.reverses}
        for o in chunk:
            record = applied(images[o.record_id], o)
            if o.record_id in corrected_here:
                record = replace(record, corrected_by=corrected_here[o.record_id])
            items.append(self.records.rated_update(record, o.attempt))
            kinds.append(("record", o.record_id))
            if o.reverses and o.reverses not in in_chunk:
                items.append(self.records.corrected_update(o.reverses, o.record_id))
                kinds.append(("original", o.reverses))
        for wallet_id, wallet_items in self._wallet_items(chunk, images, counters).items():
            items.extend(wallet_items)
            kinds.extend(("wallet", wallet_id) for _ in wallet_items)
        for account_summaries in _summary_deltas(chunk).items():
            ref, delta = account_summaries
            before = summaries[ref]
            after = apply_delta(before, delta, chunk[0].processed_at)
            items.append(self.summaries.put_item(after, before.version if ref in stored else None))
            kinds.append(("summary", ref[1]))
            summaries[ref] = after
            stored.add(ref)
        return items, kinds

    def _wallet_items(self, chunk: Sequence[Outcome], images: Mapping[str, UsageRecord],
                      counters: Mapping[str, Mapping[str, CreditCounter]]) -> dict[str, list[dict[str, Any]]]:
        """Per wallet: one counter update per credit (changes merged per bucket) and one ledger entry per usage
        time and kind (DEBIT or REVERSAL), named after its first record."""
        wallets = WalletsRepository(self.tenant, client=self._client)
        out: dict[str, list[dict[str, Any]]] = {}
        by_wallet: dict[str, list[tuple[Outcome, BucketChange, datetime]]] = {}
        for o in chunk:
            for change in o.wallet_changes:
                for c in change.changes:
                    by_wallet.setdefault(change.wallet_id, []).append((o, c, change.at))
        for wallet_id, entries in by_wallet.items():
            stored = counters.get(wallet_id, {})
            pk = keys.wallet_pk(self.tenant, wallet_id)
            items = [wallets.counter_update(pk, credit_id, merged, credit_id in stored)
                     for credit_id, merged in merge_by_credit([c for _, c, _ in entries]).items()]
            ledgers: dict[tuple[datetime, LedgerEntryType], list[tuple[Outcome, BucketChange]]] = {}
            for o, c, at in entries:
                kind = LedgerEntryType.DEBIT if c.quantity > 0 else LedgerEntryType.REVERSAL
                ledgers.setdefault((at, kind), []).append((o, c))
            for (at, kind), lines in ledgers.items():
                first = lines[0][0]
                summary_id = first.summary_id if len({o.record_id for o, _ in lines}) > 1 else None
                ledger = wallets.booking_items(wallet_id, at, kind, [c for _, c in lines], stored,
                                               f"{first.record_id}:{first.attempt}", first.record_id, summary_id,
                                               first.attempt, first.processed_at)
                items.append(ledger[-1])
            out[wallet_id] = items
        return out


# ---------------------------------------------------------------------------------------------- the stream
def rate_stream(records: Sequence[Mapping[str, Any]], now: datetime | None = None, client: Any | None = None,
                transact: Callable[[list[dict[str, Any]]], None] | None = None) -> set[str]:
    """Rate the usage records of a Lambda DynamoDB Streams batch (their NEW images), tenant by tenant.

    Returns the sequence numbers of the records that could not be rated yet (their wallets or summaries kept
    changing underneath): the caller reports them as batch item failures, and the stream delivers them again.
    """
    moment = now or datetime.now(UTC)
    by_tenant: dict[str, list[tuple[str, UsageRecord]]] = {}
    for raw in records:
        image = raw.get("dynamodb", {}).get("NewImage")
        if image:
            record = record_from_item(image)
            by_tenant.setdefault(record.tenant, []).append((raw["dynamodb"]["SequenceNumber"], record))
    unfinished: set[str] = set()
    for tenant, entries in by_tenant.items():
        repo = RatingRepository(tenant, UsageRepository(tenant, client), client, transact=transact)
        failed = set(repo.rate([record for _, record in entries], moment).failed)
        unfinished |= {sequence for sequence, record in entries if record.id in failed}
    return unfinished


# ---------------------------------------------------------------------------------------------- pure helpers
def latest_new(records: Iterable[UsageRecord]) -> list[UsageRecord]:
    """The NEW records of a batch, each once (its latest attempt), in first-seen order."""
    latest: dict[str, UsageRecord] = {}
    for record in records:
        if record.status != UsageStatus.NEW:
            continue
        if record.id not in latest or record.attempt >= latest[record.id].attempt:
            latest[record.id] = record
    return list(latest.values())


def groups(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    """Outcomes that share a wallet, a summary or a record (a correction and its original) belong together;
    each group keeps the batch's order."""
    parent = list(range(len(outcomes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, o in enumerate(outcomes):
        links = [("wallet", w) for w in _wallet_ids(o)]
        links += [("summary", f"{o.account_external_id}\x00{c.summary_id}") for c in o.contributions]
        links += [("record", o.record_id)] + ([("record", o.reverses)] if o.reverses else [])
        for link in links:
            if link in owner:
                parent[find(i)] = find(owner[link])
            else:
                owner[link] = i
    by_root: dict[int, list[Outcome]] = {}
    for i, o in enumerate(outcomes):
        by_root.setdefault(find(i), []).append(o)
    return list(by_root.values())


def chunk_bounds(group: Sequence[Outcome]) -> list[tuple[int, int]]:
    """Split a group into consecutive runs whose transaction holds at most 100 items."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(group):
        end = start + 1
        while end < len(group) and item_count(group[start:end + 1]) <= MAX_TRANSACTION_ITEMS:
            end += 1
        if item_count(group[start:end]) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"record {group[start].record_id} alone needs more than {MAX_TRANSACTION_ITEMS} items")
        bounds.append((start, end))
        start = end
    return bounds


def item_count(chunk: Sequence[Outcome]) -> int:
    in_chunk = {o.record_id for o in chunk}
    records = len(chunk) + sum(1 for o in chunk if o.reverses and o.reverses not in in_chunk)
    credits = {(c.wallet_id, ch.credit_id) for o in chunk for c in o.wallet_changes for ch in c.changes}
    ledgers = {(c.wallet_id, c.at, ch.quantity > 0) for o in chunk for c in o.wallet_changes for ch in c.changes}
    summaries = {(o.account_external_id, c.summary_id) for o in chunk for c in o.contributions}
    return records + len(credits) + len(ledgers) + len(summaries)


def merge_by_credit(changes: Sequence[BucketChange]) -> dict[str, list[BucketChange]]:
    """Changes of one wallet merged per bucket (one counter write each), grouped per credit in order.

    A credit's first change carries the total its counter holds before the chunk (what its write is conditioned
    on); a bucket's merged change runs from its first opening to its last closing.
    """
    merged: dict[str, dict[str, BucketChange]] = {}
    for change in changes:
        buckets = merged.setdefault(change.credit_id, {})
        seen = next(iter(buckets.values())).seen_total if buckets else change.seen_total
        previous = buckets.get(change.bucket_id)
        if previous is None:
            buckets[change.bucket_id] = replace(change, seen_total=seen)
        else:
            buckets[change.bucket_id] = replace(previous, quantity=previous.quantity + change.quantity,
                                                closing=change.closing)
    return {credit: list(buckets.values()) for credit, buckets in merged.items()}


def _wallet_ids(outcome: Outcome) -> list[str]:
    return list(dict.fromkeys(c.wallet_id for c in outcome.wallet_changes))


def _summary_refs(result: BatchResult) -> set[SummaryRef]:
    refs = {(o.account_external_id, c.summary_id) for o in result.outcomes for c in o.contributions}
    return refs | set(result.new_summaries)


def _group_refs(group: Sequence[Outcome]) -> list[SummaryRef]:
    return list(dict.fromkeys((o.account_external_id, c.summary_id) for o in group for c in o.contributions))


def _summary_deltas(chunk: Sequence[Outcome]) -> dict[SummaryRef, Any]:
    out: dict[SummaryRef, Any] = {}
    for account in dict.fromkeys(o.account_external_id for o in chunk):
        contributions = [c for o in chunk if o.account_external_id == account for c in o.contributions]
        for summary_id, delta in aggregate(contributions).items():
            out[(account, summary_id)] = delta
    return out

