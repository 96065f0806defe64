"""Rating a stream batch against storage, exactly once (see infra/README.md, "Rating and summaries"): the reads
and writes. The pure pieces live in ``core.processing`` (rating in ``pipeline``, grouping and packing in
``packing``); what rating reads of the catalog in ``infra.catalog_view``; what a warm container remembers
between batches in ``infra.warm_state``.

``RatingRepository(tenant).rate(records, now)``:

1. **Read** what the batch needs, once: the tenant's catalog (``CatalogView``: a handful of Queries), each
   account with its subscriptions (``AccountsRepository``), the credit counters of every wallet the records
   draw from (``WalletsRepository.counters``), the summaries they book into (BatchGetItem) and the originals
   their corrections point at. The pure pipeline (``core.processing.process``) runs first on what is known and
   tells which wallets and summaries it touched; those are read and it runs again, until nothing new is needed.
2. **Group** the outcomes: records that touch a common wallet or summary belong together.
3. **Write** each group as TransactWriteItems of ≤ 100 items (small groups share a transaction): every
   record's rated update, conditioned on
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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from core.processing import BatchResult, CatalogView, Outcome, RatingContext, WalletState, applied, process, usage_time
from core.processing.gate import booking_period
from core.processing.packing import chunk_bounds, group_refs, groups, latest_new, merge_by_credit, pack, wallet_ids
from core.subscriptions import Subscription, wallets_of
from core.summaries import UsageSummary, aggregate
from core.summaries import apply as apply_delta
from core.usage import UsageRecord, UsageStatus
from core.values import immutable
from core.wallets import BucketChange, CreditCounter, LedgerEntryType, WalletRef, book
from infra import keys
from infra.accounts_repo import AccountsRepository
from infra.catalog_repo import CatalogRepository
from infra.catalog_view import catalog_view, read_accounts
from infra.dynamo import bulk_writer_client, dynamodb_client
from infra.dynamo_direct import direct_reads_client
from infra.dynamo_kit import TransactionCancelled, backoff, is_cancelled, transact_write
from infra.summaries_repo import SummariesRepository, SummaryRef
from infra.usage_repo import UsageRepository, record_from_item
from infra.wallets_repo import WalletsRepository
from infra.warm_state import WARM, Subscriptions, WarmState

logger = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = 100
MAX_ROUNDS = 8
MAX_LOAD_PASSES = 6
READ_THREADS = 8
WRITE_THREADS = 8  # a batch of 1,000 records is some 12 transactions of 100 items


class RecordStore(Protocol):
    """The usage records side of rating (``infra.usage_repo``): read records, and the transaction entries that
    set a record's rated fields exactly once and mark a corrected original."""

    def get_many(self, ids: Iterable[str]) -> dict[str, UsageRecord]: ...

    def rated_update(self, record: UsageRecord, attempt: int) -> dict[str, Any]: ...

    def corrected_update(self, original_id: str, corrected_by: str) -> dict[str, Any]: ...


@lru_cache(maxsize=1)
def _writers() -> ThreadPoolExecutor:
    """The threads a batch's independent transactions go out on (one pool per container, made on first use)."""
    return ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="rating-writer")




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
    #: subscriptions or the catalog came from the warm state
    warm_reads: bool = False

    def context(self, now: datetime) -> RatingContext:
        wallets = {wid: WalletState(ref, self.counters.get(wid, {})) for wid, ref in self.refs.items()}
        return RatingContext(self.catalog, now, self.subscriptions, wallets, dict(self.summaries))


@immutable
class Chunk:
    """Consecutive outcomes of one group and the transaction items that write them (``kinds`` names each item)."""

    group: int
    outcomes: list[Outcome]
    items: list[dict[str, Any]]
    kinds: list[tuple[str, str]]
    #: the wallet counters and summaries as storage holds them once the chunk is written
    counters_after: dict[str, dict[str, CreditCounter]] = field(default_factory=dict)
    summaries_after: dict[SummaryRef, UsageSummary] = field(default_factory=dict)


@dataclass
class RateReport:
    """What became of each record of a batch: rated now, processed already (a redelivery), or not yet."""

    rated: list[Outcome] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class RatingRepository:
    def __init__(self, tenant: str, records: RecordStore, client: Any | None = None,
                 summaries: SummariesRepository | None = None,
                 transact: Callable[[list[dict[str, Any]]], None] | None = None, warm: WarmState | None = WARM):
        self.tenant = tenant
        self.records = records
        self._client = client
        self.summaries = summaries or SummariesRepository(tenant, client)
        self._transact = transact
        self.warm = warm

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def transact(self, items: list[dict[str, Any]]) -> None:
        if self._transact is not None:
            self._transact(items)
            return
        # the token makes the SDK's retry of a transaction whose response was lost a no-op success
        transact_write(self._client or bulk_writer_client(), items, token=True)  # no client-side validation

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
            written, already, retry = self.write(result, images, state)
            report.rated.extend(written)
            report.already.extend(already)
            pending = [r for r in pending if r.id in retry]
            if pending:
                backoff(round_)  # let a concurrent writer finish
        report.failed.extend(r.id for r in pending)
        return report

    def load_and_process(self, records: Sequence[UsageRecord], now: datetime, fresh: bool = False
                         ) -> tuple[BatchState, BatchResult]:
        """Read what the records need and rate them in memory; reads again until the pipeline needs nothing new."""
        state = self.load(records, fresh)
        # read up front what the records will most likely need, so that the first pass is usually the last:
        # the wallets and summaries their periods point at, and what corrections give back
        wallets, summaries = expected_needs(records, state)
        self._read_counters(state, wallets)
        self._read_summaries(state, summaries)
        result = process(records, state.context(now), state.originals)
        for _ in range(MAX_LOAD_PASSES):
            wallets = {c.wallet_id for o in result.outcomes for c in o.wallet_changes} - state.counters.keys()
            summaries = _summary_refs(result) - state.looked_up
            if not wallets and not summaries:
                break
            self._read_counters(state, wallets)
            self._read_summaries(state, summaries)
            result = process(records, state.context(now), state.originals)
        else:
            raise RuntimeError("rating kept needing more state than it read; giving up on this batch")
        if state.warm_reads and any(o.status != UsageStatus.PROCESSED for o in result.outcomes):
            return self.load_and_process(records, now, fresh=True)  # never fail a record on a remembered read
        return state, result

    def load(self, records: Sequence[UsageRecord], fresh: bool = False) -> BatchState:
        originals: dict[str, UsageRecord] = {}
        wanted = {r.correction_of for r in records if r.correction_of}
        while wanted:  # originals, and the originals of those still NEW (an AMEND not yet processed)
            originals.update(self.records.get_many(wanted))
            wanted = {o.correction_of for o in originals.values()
                      if o.correction_of and o.status == UsageStatus.NEW} - originals.keys()
        everyone = list(records) + list(originals.values())
        accounts, warm_accounts = self._subscriptions(sorted({r.account_external_id for r in everyone}), fresh)
        subscriptions = {n: subs for n, subs in accounts.items() if subs is not None}
        products = {s.product_code for subs in subscriptions.values() for s in subs}
        resources = {r.resource_code for r in everyone}
        warm = self.warm if not fresh else None
        catalog = warm.catalog(self.tenant, products, resources) if warm is not None else None
        warm_reads = warm_accounts or catalog is not None
        if catalog is None:
            catalog = catalog_view(CatalogRepository(self.tenant), products, resources)
            if self.warm is not None:
                self.warm.keep_catalog(self.tenant, products, resources, catalog)
        all_subs = [s for subs in subscriptions.values() for s in subs]
        return BatchState(catalog, subscriptions, wallets_of(all_subs), originals=originals, warm_reads=warm_reads)

    def _subscriptions(self, names: Sequence[str], fresh: bool) -> tuple[dict[str, Subscriptions], bool]:
        """Each account's subscriptions (None: no such account), and whether some came from the warm state: those
        are remembered while the account's subscriptions version is unchanged (``infra.warm_state``), which one
        consistent BatchGetItem of the accounts' versions tells; the others are read (one Query per account)."""
        if self.warm is None or not names:
            return read_accounts(self.tenant, names, self._client), False
        versions = AccountsRepository(self.tenant, self._client).subscriptions_versions(names)
        remembered = {} if fresh else self.warm.subscriptions(self.tenant, versions)
        read = read_accounts(self.tenant, [n for n in names if n not in remembered], self._client)
        self.warm.keep_subscriptions(self.tenant, read, versions)  # read after their versions were
        return {**remembered, **read}, bool(remembered)

    def _read_counters(self, state: BatchState, wallet_ids: Iterable[str]) -> None:
        ids = sorted(wallet_ids)
        if self.warm is not None:
            state.counters.update(self.warm.known_counters(self.tenant, ids))
            ids = [i for i in ids if i not in state.counters]
        if not ids:
            return
        wallets = WalletsRepository(self.tenant, client=self._client)
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(ids))) as pool:
            for wallet_id, counters in zip(ids, pool.map(wallets.counters, ids), strict=True):
                state.counters[wallet_id] = counters
        self._remember(counters={i: state.counters[i] for i in ids})

    def _read_summaries(self, state: BatchState, refs: set[SummaryRef]) -> None:
        wanted = set(refs)
        if self.warm is not None:
            known = self.warm.known_summaries(self.tenant, refs)
            state.summaries.update(known)
            wanted -= known.keys()
        found = self.summaries.batch_get(wanted)
        state.summaries.update(found)
        state.looked_up |= refs
        self._remember(summaries=found)

    def _remember(self, counters: Mapping[str, Mapping[str, CreditCounter]] | None = None,
                  summaries: Mapping[SummaryRef, UsageSummary] | None = None) -> None:
        if self.warm is not None:
            self.warm.remember(self.tenant, counters, summaries)

    def _forget(self, chunks: Iterable[Chunk]) -> None:
        if self.warm is not None:
            chunks = list(chunks)
            self.warm.forget(self.tenant, [w for c in chunks for w in c.counters_after],
                             [ref for c in chunks for ref in c.summaries_after])

    # ------------------------------------------------------------------------------------------ writing
    def write(self, result: BatchResult, images: Mapping[str, UsageRecord], state: BatchState
              ) -> tuple[list[Outcome], list[str], set[str]]:
        """Write the outcomes: each group as a chain of chunks (≤ 100 items each), the chunks of different groups
        packed together into transactions of ≤ 100 items, step by step; a step's transactions touch different groups,
        so they go out at once. (written, processed already, to retry)"""
        plans = [self.plan_group(i, group, images, state, result) for i, group in enumerate(groups(result.outcomes))]
        written: list[Outcome] = []
        already: list[str] = []
        retry: set[str] = set()
        live = [plan for plan in plans if plan]
        step = 0
        while live:
            ready = [plan[step] for plan in live]
            failed: set[int] = set()
            transactions = pack(ready, lambda chunk: len(chunk.items), MAX_TRANSACTION_ITEMS)
            errors = self._transact_all(transactions)
            unexpected = next((e for e in errors if e is not None and not is_cancelled(e)), None)
            for transaction, exc in zip(transactions, errors, strict=True):
                if exc is None:
                    written.extend(o for chunk in transaction for o in chunk.outcomes)
                    for chunk in transaction:
                        self._remember(chunk.counters_after, chunk.summaries_after)
                    continue
                self._forget(transaction)
                if unexpected is not None:
                    continue  # the whole batch fails below and comes again
                cancelled = exc if isinstance(exc, TransactionCancelled) else TransactionCancelled(
                    exc, [item for chunk in transaction for item in chunk.items])
                for chunk in transaction:  # each chunk's reasons by its own items, wherever they sat
                    mine = [r.code if (r := cancelled.reason_for(item)) else "None" for item in chunk.items]
                    done = {which for (what, which), code in zip(chunk.kinds, mine, strict=True)
                            if what == "record" and code == "ConditionalCheckFailed"}
                    already.extend(sorted(done))
                    plan = plans[chunk.group]
                    retry |= {o.record_id for later in plan[step:] for o in later.outcomes} - done
                    failed.add(chunk.group)
                logger.info("transaction cancelled %s: %d records processed already, %d to retry",
                            sorted(set(cancelled.codes)), len(already), len(retry))
            if unexpected is not None:
                raise unexpected  # what the others wrote stands; the batch comes again and finds it written
            step += 1
            live = [plan for plan in live if plan[0].group not in failed and step < len(plan)]
        return written, already, retry

    def _transact_all(self, transactions: Sequence[Sequence[Chunk]]) -> list[BaseException | None]:
        """Send one step's transactions — of different groups, so independent — at once; each one's error."""
        def send(transaction: Sequence[Chunk]) -> BaseException | None:
            try:
                self.transact([item for chunk in transaction for item in chunk.items])
            except Exception as exc:  # returned, and re-raised by write() unless a cancellation
                return exc
            return None

        if len(transactions) <= 1:
            return [send(t) for t in transactions]
        return list(_writers().map(send, transactions))

    def plan_group(self, index: int, group: Sequence[Outcome], images: Mapping[str, UsageRecord],
                   state: BatchState, result: BatchResult) -> list[Chunk]:
        """A group's chunks, each built on the state the previous ones leave (they are written in order)."""
        summaries = {ref: state.summaries.get(ref) or result.new_summaries[ref] for ref in group_refs(group)}
        stored = {ref for ref in summaries if ref in state.summaries}
        counters = {wid: dict(state.counters.get(wid, {})) for o in group for wid in wallet_ids(o)}
        chunks = []
        for start, end in chunk_bounds(group, MAX_TRANSACTION_ITEMS):
            outcomes = list(group[start:end])
            before = dict(summaries)
            items, kinds = self._chunk_items(outcomes, images, summaries, stored, counters)
            for o in outcomes:
                for change in o.wallet_changes:
                    counters[change.wallet_id] = book(counters[change.wallet_id], change.changes)
            touched = {c.wallet_id for o in outcomes for c in o.wallet_changes}
            chunks.append(Chunk(index, outcomes, items, kinds, {w: dict(counters[w]) for w in touched},
                                {ref: s for ref, s in summaries.items() if s is not before.get(ref)}))
        return chunks

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
                items.append(wallets.ledger_item(wallet_id, at, kind, [c for _, c in lines],
                                                 f"{first.record_id}:{first.attempt}", first.record_id, summary_id,
                                                 first.attempt, first.processed_at))
            out[wallet_id] = items
        return out


# ---------------------------------------------------------------------------------------------- the stream
@dataclass
class StreamRating:
    """What rating a stream batch came to: the sequence numbers of the records not rated yet (the caller reports
    them as batch item failures), the statuses this batch wrote, and how many an earlier delivery had written."""

    unfinished: set[str] = field(default_factory=set)
    statuses: Counter[UsageStatus] = field(default_factory=Counter)
    already: int = 0


def rate_stream(records: Sequence[Mapping[str, Any]], now: datetime | None = None, client: Any | None = None,
                transact: Callable[[list[dict[str, Any]]], None] | None = None) -> StreamRating:
    """Rate the usage records of a Lambda DynamoDB Streams batch (their NEW images), tenant by tenant.

    Records that could not be rated yet (their wallets or summaries kept changing underneath) come back as
    ``unfinished``: the caller reports them as batch item failures, and the stream delivers them again.
    """
    moment = now or datetime.now(UTC)
    if client is None:
        client = direct_reads_client()  # reads and transactions without botocore's per-request cost
    by_tenant: dict[str, list[tuple[str, UsageRecord]]] = {}
    for raw in records:
        image = raw.get("dynamodb", {}).get("NewImage")
        if image:
            record = record_from_item(image)
            by_tenant.setdefault(record.tenant, []).append((raw["dynamodb"]["SequenceNumber"], record))
    rating = StreamRating()
    for tenant, entries in by_tenant.items():
        repo = RatingRepository(tenant, UsageRepository(tenant, client), client, transact=transact)
        report = repo.rate([record for _, record in entries], moment)
        failed = set(report.failed)
        rating.unfinished |= {sequence for sequence, record in entries if record.id in failed}
        rating.statuses.update(outcome.status for outcome in report.rated)
        rating.already += len(report.already)
    return rating


# ---------------------------------------------------------------------------------------------- planning reads
def expected_needs(records: Sequence[UsageRecord], state: BatchState) -> tuple[set[str], set[SummaryRef]]:
    """The wallets and summaries a batch will most likely touch: each record's period as the gate sees it, the
    wallets of the subscriptions covering its resource, and what the originals of corrections drew and booked."""
    wallets: set[str] = set()
    summaries: set[SummaryRef] = set()
    seen: set[tuple[Any, ...]] = set()  # records alike in what their period depends on (a metering window's)
    for record in records:
        alike = (record.account_external_id, record.resource_code, record.unit_code,
                 record.subscription_external_id, record.end_time)
        if alike in seen:
            continue
        subscriptions = state.subscriptions.get(record.account_external_id, ())
        booking = booking_period(record, state.catalog, subscriptions)
        if booking is not None:
            seen.add(alike)  # (a record that cannot be attributed does not stand for the others)
            summaries.add((record.account_external_id, booking.key.id))
            at = usage_time(record)
            wallets |= {s.wallet_id(booking.key.resource_code) for s in subscriptions
                        if s.covers(booking.key.resource_code, at)}
    for original in state.originals.values():
        wallets |= {w for w in (original.wallet_id, original.commitment_wallet_id) if w}
        summaries |= {(original.account_external_id, b.summary_id) for b in original.bookings}
    return wallets & state.refs.keys(), summaries

def _summary_refs(result: BatchResult) -> set[SummaryRef]:
    refs = {(o.account_external_id, c.summary_id) for o in result.outcomes for c in o.contributions}
    return refs | set(result.new_summaries)


def _summary_deltas(chunk: Sequence[Outcome]) -> dict[SummaryRef, Any]:
    out: dict[SummaryRef, Any] = {}
    for account in dict.fromkeys(o.account_external_id for o in chunk):
        contributions = [c for o in chunk if o.account_external_id == account for c in o.contributions]
        for summary_id, delta in aggregate(contributions).items():
            out[(account, summary_id)] = delta
    return out

