"""Rating a stream batch against storage, exactly once (see infra/README.md, "Rating and summaries").

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
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

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
from core.processing import BatchResult, CatalogView, Outcome, RatingContext, WalletState, applied, process, usage_time
from core.processing.gate import booking_period, is_closed, shortest_delay, surely_open
from core.subscriptions import Subscription, wallets_of
from core.summaries import UsageSummary, aggregate
from core.summaries import apply as apply_delta
from core.usage import UsageRecord, UsageStatus
from core.values import immutable
from core.wallets import BucketChange, CreditCounter, LedgerEntryType, WalletRef, book
from infra import keys
from infra.accounts_repo import AccountsRepository
from infra.catalog_repo import CatalogRepository
from infra.dynamo import bulk_writer_client, dynamodb_client
from infra.dynamo_kit import TransactionCancelled, backoff, is_cancelled, transact_write
from infra.summaries_repo import SummariesRepository, SummaryRef
from infra.usage_repo import UsageRepository, record_from_item
from infra.wallets_repo import WalletsRepository

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


def read_accounts(tenant: str, names: Sequence[str], client: Any | None = None
                  ) -> dict[str, tuple[Subscription, ...] | None]:
    """Each account's subscriptions (None: no such account), one Query per account, in parallel."""
    if not names:
        return {}
    accounts_repo = AccountsRepository(tenant, client)
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(names))) as pool:
        accounts = dict(zip(names, pool.map(accounts_repo.get, names), strict=True))
    return {name: account.subscriptions if account is not None else None for name, account in accounts.items()}


def read_subscriptions_and_catalog(tenant: str, records: Sequence[UsageRecord], client: Any | None = None
                                   ) -> tuple[dict[str, tuple[Subscription, ...]], CatalogView]:
    """The records' accounts' subscriptions (one Query per account, in parallel) and the catalog they need."""
    accounts = read_accounts(tenant, sorted({r.account_external_id for r in records}), client)
    subscriptions = {name: subs for name, subs in accounts.items() if subs is not None}
    products = {s.product_code for subs in subscriptions.values() for s in subs}
    return subscriptions, catalog_view(CatalogRepository(tenant), products, {r.resource_code for r in records})


class SummariesPeriodGate:
    """``core.usage_validation.PeriodGate`` backed by the summaries table: the records whose billing period no
    longer accepts usage (``core.processing.gate``). Per batch: one Query of the tenant's policies and one of its
    early-close markers (periods an admin closed before their waiting period passed); only for records older than
    the shortest rating delay (late usage) or in a period closed early, one Query per account, the catalog's few
    Queries and one BatchGetItem of summaries."""

    def __init__(self, clock: Callable[[], datetime] | None = None, client: Any | None = None):
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = client

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        if not records:
            return set()
        now = self._clock()
        delay = shortest_delay(CatalogRepository(tenant).policies())
        early = SummariesRepository(tenant, self._client).early_closes(now)
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


class WarmState:
    """What a warm container keeps between the stream batches it rates, so that a batch reads only what changed.

    - Subscriptions and the catalog, for ``ttl_s`` seconds. They carry no version the writes could be
      conditioned on, so they are trusted only for records that rate cleanly: a batch in which any record comes
      out ERROR or WARNING_UNRATED is rated again on fresh reads. (A subscription or rate that appears within the
      TTL may be seen that much later — the same as if the usage had arrived that much earlier.)
    - Wallet counters and summaries as this container last wrote or read them, without expiry: every write is
      conditioned on exactly that state (a counter's total, a summary's version), so a stale entry can only make
      a transaction fail, after which the entries of its groups are dropped and read again.
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 100_000):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.lock = threading.Lock()
        self.accounts: dict[tuple[str, str], tuple[float, tuple[Subscription, ...] | None]] = {}
        self.catalogs: dict[str, tuple[float, frozenset[str], frozenset[str], CatalogView]] = {}
        self.counters: dict[tuple[str, str], dict[str, CreditCounter]] = {}
        self.summaries: dict[tuple[str, str, str], UsageSummary] = {}

    def fresh(self, read_at: float) -> bool:
        return time.monotonic() - read_at < self.ttl_s

    def trim(self) -> None:
        if len(self.counters) + len(self.summaries) + len(self.accounts) > self.max_entries:
            self.accounts.clear()
            self.counters.clear()
            self.summaries.clear()


#: The container's warm state (one per process: a Lambda container, or `make serve`).
WARM = WarmState()


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
        warm = self.warm if not fresh else None
        names = sorted({r.account_external_id for r in everyone})
        remembered = self._remembered_accounts(names) if warm else {}
        missing = [n for n in names if n not in remembered]
        read = read_accounts(self.tenant, missing, self._client)
        if self.warm is not None:
            with self.warm.lock:
                self.warm.trim()
                self.warm.accounts.update({(self.tenant, n): (time.monotonic(), read.get(n)) for n in missing})
        subscriptions = {n: subs for n, subs in {**remembered, **read}.items() if subs is not None}
        products = {s.product_code for subs in subscriptions.values() for s in subs}
        resources = {r.resource_code for r in everyone}
        catalog = self._remembered_catalog(products, resources) if warm else None
        warm_reads = bool(remembered) or catalog is not None
        if catalog is None:
            catalog = catalog_view(CatalogRepository(self.tenant), products, resources)
            if self.warm is not None:
                with self.warm.lock:
                    self.warm.catalogs[self.tenant] = (time.monotonic(), frozenset(products), frozenset(resources),
                                                       catalog)
        all_subs = [s for subs in subscriptions.values() for s in subs]
        return BatchState(catalog, subscriptions, wallets_of(all_subs), originals=originals, warm_reads=warm_reads)

    def _remembered_accounts(self, names: Sequence[str]) -> dict[str, tuple[Subscription, ...] | None]:
        assert self.warm is not None
        with self.warm.lock:
            entries = {n: self.warm.accounts.get((self.tenant, n)) for n in names}
        return {n: e[1] for n, e in entries.items() if e is not None and self.warm.fresh(e[0])}

    def _remembered_catalog(self, products: set[str], resources: set[str]) -> CatalogView | None:
        assert self.warm is not None
        with self.warm.lock:
            entry = self.warm.catalogs.get(self.tenant)
        if entry is None or not self.warm.fresh(entry[0]) or not (products <= entry[1] and resources <= entry[2]):
            return None
        return entry[3]

    def _read_counters(self, state: BatchState, wallet_ids: Iterable[str]) -> None:
        ids = sorted(wallet_ids)
        if self.warm is not None:
            with self.warm.lock:
                for wallet_id in ids:
                    if (self.tenant, wallet_id) in self.warm.counters:
                        state.counters[wallet_id] = dict(self.warm.counters[(self.tenant, wallet_id)])
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
            with self.warm.lock:
                for account, summary_id in refs:
                    cached = self.warm.summaries.get((self.tenant, account, summary_id))
                    if cached is not None:
                        state.summaries[(account, summary_id)] = cached
                        wanted.discard((account, summary_id))
        found = self.summaries.batch_get(wanted)
        state.summaries.update(found)
        state.looked_up |= refs
        self._remember(summaries=found)

    def _remember(self, counters: Mapping[str, Mapping[str, CreditCounter]] | None = None,
                  summaries: Mapping[SummaryRef, UsageSummary] | None = None) -> None:
        if self.warm is None:
            return
        with self.warm.lock:
            for wallet_id, counter in (counters or {}).items():
                self.warm.counters[(self.tenant, wallet_id)] = dict(counter)
            for (account, summary_id), summary in (summaries or {}).items():
                self.warm.summaries[(self.tenant, account, summary_id)] = summary

    def _forget(self, chunks: Iterable[Chunk]) -> None:
        if self.warm is None:
            return
        with self.warm.lock:
            for chunk in chunks:
                for wallet_id in chunk.counters_after:
                    self.warm.counters.pop((self.tenant, wallet_id), None)
                for account, summary_id in chunk.summaries_after:
                    self.warm.summaries.pop((self.tenant, account, summary_id), None)

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
            transactions = pack(ready)
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
        summaries = {ref: state.summaries.get(ref) or result.new_summaries[ref] for ref in _group_refs(group)}
        stored = {ref for ref in summaries if ref in state.summaries}
        counters = {wid: dict(state.counters.get(wid, {})) for o in group for wid in _wallet_ids(o)}
        chunks = []
        for start, end in chunk_bounds(group):
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
                ledger = wallets.booking_items(wallet_id, at, kind, [c for _, c in lines], stored,
                                               f"{first.record_id}:{first.attempt}", first.record_id, summary_id,
                                               first.attempt, first.processed_at)
                items.append(ledger[-1])
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


# ---------------------------------------------------------------------------------------------- pure helpers
def expected_needs(records: Sequence[UsageRecord], state: BatchState) -> tuple[set[str], set[SummaryRef]]:
    """The wallets and summaries a batch will most likely touch: each record's period as the gate sees it, the
    wallets of the subscriptions covering its resource, and what the originals of corrections drew and booked."""
    wallets: set[str] = set()
    summaries: set[SummaryRef] = set()
    for record in records:
        subscriptions = state.subscriptions.get(record.account_external_id, ())
        booking = booking_period(record, state.catalog, subscriptions)
        if booking is not None:
            summaries.add((record.account_external_id, booking.key.id))
            at = usage_time(record)
            wallets |= {s.wallet_id(booking.key.resource_code) for s in subscriptions
                        if s.covers(booking.key.resource_code, at)}
    for original in state.originals.values():
        wallets |= {w for w in (original.wallet_id, original.commitment_wallet_id) if w}
        summaries |= {(original.account_external_id, b.summary_id) for b in original.bookings}
    return wallets & state.refs.keys(), summaries

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


def pack(chunks: Sequence[Chunk]) -> list[list[Chunk]]:
    """Chunks of different groups gathered into transactions of at most 100 items, in order."""
    transactions: list[list[Chunk]] = []
    size = MAX_TRANSACTION_ITEMS
    for chunk in chunks:
        if size + len(chunk.items) > MAX_TRANSACTION_ITEMS:
            transactions.append([])
            size = 0
        transactions[-1].append(chunk)
        size += len(chunk.items)
    return transactions


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

