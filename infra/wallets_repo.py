"""Wallets in the accounts table: credit counters, the ledger, and the debits rating books against them.

API for rating (and for corrections)
====================================
::

    repo = WalletsRepository(tenant)                        # one per request or per stream batch

    plan = repo.plan_debit(account_external_id, resource_code, at, quantity,
                           usage_record_id=record.id, attempt=record.attempt,
                           subscription_external_id=None, summary_id=None, recorded_at=None)
    # -> DebitPlan | None   (None: no subscription of the account covers the resource at ``at``)

- ``quantity`` is in the resource's default unit (``plan.wallet.unit_code``), ``at`` is the usage time that
  decides (DOMAIN §3.1: the end time). ``plan.subscriptions`` are the matched subscriptions, most recently
  started first (for the competing-rates rule); ``plan.wallet_id`` is the paying wallet (SELF: the
  subscription's, ACCOUNT: the account's; when the matched subscriptions fill different wallets, the first of
  them, in that order, that holds anything at ``at`` pays, else the first). ``plan.draw.result`` is
  ``core.drawdown.draw_down``'s result in the wallet's drawdown order (COMMITMENT buckets first):
  ``plan.debits`` ((bucket id, quantity) pairs, for ``UsageRecord.debits``), ``plan.debited``, ``plan.overage``.
- ``plan.items`` are low-level ``TransactWriteItems`` entries: one conditional ``Update`` per credit counter
  debited and one conditional ``Put`` of the ledger entry. Put them in ONE transaction with your own items
  (record status, summary): ``len(plan.items) == len(plan.debits) + 1`` (0 when nothing is debited), so keep
  the total ≤ 100. ``plan.outcome(cancelled)`` reads the cancellation reasons of a failed transaction
  (``infra.dynamo_kit.TransactionCancelled``: the reasons of ``plan.items``, found by identity):
  ``WALLET_CHANGED`` → plan again and retry;
  ``ALREADY_BOOKED`` → this debit (usage record id + attempt) is in the ledger already; ``OTHER`` → one of
  your items failed.
- ``repo.commit(lambda: repo.plan_debit(...), extra_items=lambda plan: [...])`` does all of that: plans, adds
  your items, writes one transaction, re-plans on WALLET_CHANGED, raises ``AlreadyBooked`` on ALREADY_BOOKED.

::

    plan = repo.plan_reversal(wallet_id, debits, at, usage_record_id=..., attempt=..., recorded_at=None)
    # -> ReversalPlan: credits each (bucket id, quantity) of ``debits`` back (a void or an amendment)

``at`` must be the original debit's usage time (the reversal takes effect where the debit did, so balances as
of any time stay consistent). Same ``items``/``outcome``/``commit`` contract.

Why it cannot overdraw and books exactly once
---------------------------------------------
A credit (a GRANT/PACK/COMMITMENT/REFRESH bucket) and the ROLLOVER buckets that carry its balance on share one
counter item ``C#{credit id}``: the total debited from the chain ``t``, and per bucket ``d_…``. Every write is
conditioned on the total the plan read (``t = :seen``), so two concurrent debits of one wallet can never both
pass on the same balance: the loser's transaction is cancelled and it plans again on fresh counters, and the
opening/closing balances written to the ledger are exact. The ledger item's key is the debit's usage record id
and attempt (``attribute_not_exists``), so a replayed transaction cannot book twice.

State is read with one consistent Query (``begins_with(sk, "C#")``); balances as of a time add one Query of
the ledger entries effective after it. See ``core.wallets`` for why nothing else needs storing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

from core.drawdown import DrawdownOrder, DrawdownResult
from core.errors import DomainError, ErrorCode
from core.money import normalize_quantity
from core.periods import as_utc
from core.subscriptions import Subscription, matching_subscriptions, wallets_of
from core.values import immutable
from core.wallets import (
    RANK_DEBIT,
    RANK_REVERSAL,
    BucketChange,
    CreditCounter,
    DrawPlan,
    LedgerEntryType,
    LedgerLine,
    WalletBalance,
    WalletRef,
    balance_as_of,
    debits_as_of,
    ledger_key,
    lifecycle_lines,
    plan_draw,
    plan_reversal,
    timestamp,
)
from infra import keys
from infra.accounts_repo import AccountsRepository
from infra.codec import from_iso, to_iso
from infra.dynamo_kit import (
    TransactionCancelled,
    backoff,
    expression_values,
    from_attributes,
    key,
    query_all,
    query_pages,
    to_attribute,
    to_attributes,
    transact_write,
)
from infra.table_repo import TableRepository

ZERO = Decimal(0)
TOTAL = "t"
GRANTED = "g"
DEBITED_PREFIX = "d_"
BUCKET_PREFIX = "b_"
COMMIT_ATTEMPTS = 25
MAX_YEARS_AHEAD = 100  # balances are computed period by period up to asOf


class Outcome(StrEnum):
    WALLET_CHANGED = "WALLET_CHANGED"
    ALREADY_BOOKED = "ALREADY_BOOKED"
    OTHER = "OTHER"


class AlreadyBooked(DomainError):
    """The ledger already holds this debit or reversal (same usage record id and attempt)."""

    def __init__(self, ref: str):
        super().__init__(ErrorCode.DUPLICATE, f"wallet entry '{ref}' is booked already")


@immutable
class _Booking:
    """What debit and reversal plans share: the wallet, the counter writes and the ledger entry."""

    wallet_id: str
    at: datetime
    changes: tuple[BucketChange, ...]
    items: tuple[dict[str, Any], ...]
    ref: str

    def outcome(self, cancelled: TransactionCancelled) -> Outcome:
        """Why a transaction holding ``items`` (anywhere in it) was cancelled."""
        codes = cancelled.codes
        mine = [reason.code for item in self.items if (reason := cancelled.reason_for(item)) is not None]
        if mine and mine[-1] == "ConditionalCheckFailed":
            return Outcome.ALREADY_BOOKED
        if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in mine):
            return Outcome.WALLET_CHANGED
        if "TransactionConflict" in codes:
            return Outcome.WALLET_CHANGED
        return Outcome.OTHER


@immutable
class DebitPlan(_Booking):
    wallet: WalletRef | None = None
    subscriptions: tuple[Subscription, ...] = ()
    quantity: Decimal = ZERO
    draw: DrawPlan | None = None

    @property
    def result(self) -> DrawdownResult:
        assert self.draw is not None
        return self.draw.result

    @property
    def order(self) -> DrawdownOrder:
        assert self.draw is not None
        return self.draw.order

    @property
    def debits(self) -> tuple[tuple[str, Decimal], ...]:
        return tuple((d.bucket_id, d.quantity) for d in self.result.debits)

    @property
    def debited(self) -> Decimal:
        return self.result.debited

    @property
    def overage(self) -> Decimal:
        return self.result.overage


@immutable
class ReversalPlan(_Booking):
    @property
    def credited(self) -> Decimal:
        return sum((-c.quantity for c in self.changes), ZERO)


@immutable
class WalletView:
    """A wallet as of a time, for reading: what fills it and its settled balances."""

    wallet: WalletRef
    balance: WalletBalance


P = TypeVar("P", bound=_Booking)


class WalletsRepository(TableRepository):
    table_setting = "accounts_table"

    def __init__(self, tenant: str, accounts: AccountsRepository | None = None, client: Any | None = None,
                 table: str | None = None):
        super().__init__(tenant, client, table)
        self.accounts = accounts or AccountsRepository(tenant, client, table)

    # ------------------------------------------------------------------------------------------ state
    def counters(self, wallet_id: str) -> dict[str, CreditCounter]:
        """Every credit counter of the wallet: one consistent Query."""
        items = query_all(self.client, TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                          ExpressionAttributeValues=expression_values(pk=keys.wallet_pk(self.tenant, wallet_id),
                                                                      prefix=keys.CREDIT_PREFIX))
        counters = {}
        for raw in items:
            item = from_attributes(raw)
            credit_id = item["sk"][len(keys.CREDIT_PREFIX):]
            by_bucket = {item[BUCKET_PREFIX + name[len(DEBITED_PREFIX):]]: Decimal(item[name])
                         for name in item if name.startswith(DEBITED_PREFIX)}
            counters[credit_id] = CreditCounter(credit_id, Decimal(item[GRANTED]), by_bucket)
        return counters

    def _ledger_items(self, wallet_id: str, low: str, high: str, limit: int | None = None,
                      start: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": expression_values(pk=keys.wallet_pk(self.tenant, wallet_id), low=low,
                                                           high=high)}
        if limit is not None:
            kwargs["Limit"] = limit
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        if limit is None:
            return [from_attributes(i) for i in query_all(self.client, **kwargs)], None
        page = next(query_pages(self.client, kwargs))  # one page: the caller pages on with its key
        return [from_attributes(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    def balance(self, wallet: WalletRef, as_of: datetime) -> WalletBalance:
        """The wallet's buckets as of ``as_of``: its counters, less the entries effective after ``as_of``."""
        later_items, _ = self._ledger_items(wallet.id, keys.ledger_after_sk(timestamp(as_of)), keys.LEDGER_END_SK)
        later = [(line.bucket_id, -line.quantity) for item in later_items for line in _lines(item)]
        return balance_as_of(wallet.grants, debits_as_of(self.counters(wallet.id), later), as_of)

    def debited_since(self, wallet_id: str, at: datetime, bucket_prefix: str) -> Decimal:
        """Net quantity debited (debits less reversals) at or after ``at`` from the wallet's buckets whose ids
        start with ``bucket_prefix`` (a subscription's: ``{externalId}/``): one Query of the ledger."""
        items, _ = self._ledger_items(wallet_id, keys.ledger_from_sk(timestamp(at)), keys.LEDGER_END_SK)
        return sum((-line.quantity for item in items for line in _lines(item)
                    if line.bucket_id.startswith(bucket_prefix)), ZERO)

    def wallet_refs(self, account_external_id: str) -> dict[str, WalletRef]:
        account = self.accounts.get(account_external_id)
        return wallets_of(account.subscriptions) if account else {}

    def wallets(self, account_external_id: str, as_of: datetime) -> list[WalletView]:
        """Every wallet the account's subscriptions fill, as of ``as_of`` (at most a century ahead)."""
        if as_of.year > datetime.now(UTC).year + MAX_YEARS_AHEAD:
            raise DomainError(ErrorCode.INVALID_RANGE, f"asOf may be at most {MAX_YEARS_AHEAD} years ahead", "asOf")
        return [WalletView(ref, self.balance(ref, as_of)) for ref in self.wallet_refs(account_external_id).values()]

    def ledger_page(self, view: WalletView, first: int, after: str | None) -> tuple[list[LedgerLine], bool]:
        """Up to ``first`` ledger lines effective by the view's time, after the line keyed ``after``."""
        derived = [line for line in lifecycle_lines(view.balance.settlement) if after is None or line.key > after]
        low = keys.ledger_sk(after.split("#", 1)[0]) if after else keys.LEDGER_PREFIX
        high = keys.ledger_after_sk(timestamp(view.balance.as_of))
        stored: list[LedgerLine] = []
        start: dict[str, Any] | None = None
        while len(stored) <= first:
            items, start = self._ledger_items(view.wallet.id, low, high, limit=first + 1, start=start)
            stored.extend(line for item in items for line in _lines(item) if after is None or line.key > after)
            if start is None:
                break
        merged = sorted([*derived[:first + 1], *stored[:first + 1]], key=lambda line: line.key)
        return merged[:first], len(merged) > first

    # ------------------------------------------------------------------------------------------ rating
    def plan_debit(self, account_external_id: str, resource_code: str, at: datetime, quantity: Decimal, *,
                   usage_record_id: str | None = None, attempt: int = 0, subscription_external_id: str | None = None,
                   summary_id: str | None = None, recorded_at: datetime | None = None) -> DebitPlan | None:
        """Find the paying wallet and plan drawing ``quantity`` (default unit) at ``at``; None when no
        subscription of the account covers the resource then."""
        at = as_utc(at)
        account = self.accounts.get(account_external_id)
        if account is None:
            return None
        matched = matching_subscriptions(account.subscriptions, resource_code, at, subscription_external_id)
        if not matched:
            return None
        refs = wallets_of(account.subscriptions)
        candidates = list(dict.fromkeys(s.wallet_id(resource_code) for s in matched))
        ref = _ref(usage_record_id, summary_id, attempt)
        chosen: tuple[WalletRef, DrawPlan, dict[str, CreditCounter]] | None = None
        for wallet_id in candidates:
            wallet = refs[wallet_id]
            counters = self.counters(wallet_id)
            draw = plan_draw(wallet.grants, counters, quantity, at)
            if chosen is None or (chosen[1].debited == ZERO and draw.debited > ZERO):
                chosen = (wallet, draw, counters)
            if draw.debited > ZERO:
                break
        assert chosen is not None
        wallet, draw, counters = chosen
        items = self._items(wallet.id, at, LedgerEntryType.DEBIT, draw.changes, counters, ref, usage_record_id,
                            summary_id, attempt, recorded_at)
        return DebitPlan(wallet.id, at, draw.changes, items, ref, wallet, tuple(matched), quantity, draw)

    def plan_reversal(self, wallet_id: str, debits: Sequence[tuple[str, Decimal]], at: datetime, *,
                      usage_record_id: str | None = None, attempt: int = 0, summary_id: str | None = None,
                      recorded_at: datetime | None = None) -> ReversalPlan:
        """Credit each (bucket id, quantity) of ``debits`` back; ``at`` is the original debit's usage time."""
        at = as_utc(at)
        counters = self.counters(wallet_id)
        changes = plan_reversal(counters, debits)
        ref = _ref(usage_record_id, summary_id, attempt)
        items = self._items(wallet_id, at, LedgerEntryType.REVERSAL, changes, counters, ref, usage_record_id,
                            summary_id, attempt, recorded_at)
        return ReversalPlan(wallet_id, at, changes, items, ref)

    def commit(self, plan: Callable[[], P | None],
               extra_items: Callable[[P | None], Sequence[dict[str, Any]]] = lambda _: (),
               attempts: int = COMMIT_ATTEMPTS) -> P | None:
        """Plan, write the plan's items and ``extra_items(plan)`` in one transaction; plan again while the wallet
        changed underneath. Raises AlreadyBooked when the ledger holds another entry under the same key (the
        usage record id and attempt); an entry identical to the plan is ours (a retried write) and counts as done."""
        for attempt in range(attempts):
            current = plan()
            mine = list(current.items) if current else []
            items = mine + list(extra_items(current))
            if not items:
                return current
            try:
                transact_write(self.client, items)
                return current
            except TransactionCancelled as exc:
                outcome = current.outcome(exc) if current else (
                    Outcome.WALLET_CHANGED if "TransactionConflict" in exc.codes else Outcome.OTHER)
                if outcome == Outcome.ALREADY_BOOKED:
                    assert current is not None
                    if self._booked_as_planned(current):
                        return current  # our own write, whose response was lost and retried by the SDK
                    raise AlreadyBooked(current.ref) from None
                if outcome == Outcome.OTHER:
                    raise
                backoff(attempt)
        raise DomainError(ErrorCode.CONFLICT, f"the wallet kept changing; gave up after {attempts} attempts")

    def _booked_as_planned(self, plan: _Booking) -> bool:
        """Whether the ledger entry under the plan's key holds exactly the plan's changes."""
        ledger = plan.items[-1]["Put"]["Item"]
        found = self.client.get_item(TableName=self.table, Key={"pk": ledger["pk"], "sk": ledger["sk"]},
                                     ConsistentRead=True).get("Item")
        return found is not None and [line[1:] for line in _line_values(from_attributes(found))] == [
            (c.bucket_id, -c.quantity, c.opening, c.closing) for c in plan.changes]

    # ------------------------------------------------------------------------------------------ items
    def _items(self, wallet_id: str, at: datetime, entry_type: LedgerEntryType, changes: Sequence[BucketChange],
               counters: Mapping[str, CreditCounter], ref: str, usage_record_id: str | None, summary_id: str | None,
               attempt: int, recorded_at: datetime | None) -> tuple[dict[str, Any], ...]:
        if not changes:
            return ()
        pk = keys.wallet_pk(self.tenant, wallet_id)
        by_credit: dict[str, list[BucketChange]] = {}
        for change in changes:
            by_credit.setdefault(change.credit_id, []).append(change)
        items: list[dict[str, Any]] = [
            self._counter_update(pk, credit_id, group, credit_id in counters) for credit_id, group in by_credit.items()]
        items.append(self.ledger_item(wallet_id, at, entry_type, changes, ref, usage_record_id, summary_id, attempt,
                                      recorded_at))
        return tuple(items)

    def ledger_item(self, wallet_id: str, at: datetime, entry_type: LedgerEntryType, changes: Sequence[BucketChange],
                    ref: str, usage_record_id: str | None, summary_id: str | None, attempt: int,
                    recorded_at: datetime | None) -> dict[str, Any]:
        """A booking's ledger entry: the Put (conditioned on its key being new) of its lines."""
        rank = RANK_DEBIT if entry_type == LedgerEntryType.DEBIT else RANK_REVERSAL
        entries = [{"bucket": c.bucket_id, "quantity": -c.quantity, "opening": c.opening, "closing": c.closing}
                   for c in changes]
        ledger = to_attributes({
            "pk": keys.wallet_pk(self.tenant, wallet_id), "sk": keys.ledger_sk(ledger_key(at, rank, ref)),
            "kind": "LedgerEntry", "type": entry_type.value, "at": to_iso(at),
            "recorded_at": to_iso(recorded_at or datetime.now(UTC)), "attempt": attempt,
            "entries": entries, "usage_record_id": usage_record_id or None, "summary_id": summary_id or None})
        return {"Put": {"TableName": self.table, "Item": ledger, "ConditionExpression": "attribute_not_exists(sk)"}}

    def _counter_update(self, pk: str, credit_id: str, group: Sequence[BucketChange], exists: bool) -> dict[str, Any]:
        seen = group[0].seen_total
        delta = sum((c.quantity for c in group), ZERO)
        names = {"#t": TOTAL, "#g": GRANTED}
        values = {":zero": to_attribute(0), ":delta": to_attribute(delta),  # rating's hot path: no keyword packing
                  ":g": to_attribute(group[0].credit_granted)}
        sets = ["#t = if_not_exists(#t, :zero) + :delta", "#g = :g"]
        conditions = ["attribute_not_exists(#t)"]
        if exists:  # DynamoDB refuses expression values the expressions do not use
            values[":seen"] = to_attribute(seen)
            conditions = ["#t = :seen"]
        for i, change in enumerate(group):
            slot = _slot(change.bucket_id)
            names[f"#d{i}"], names[f"#b{i}"] = DEBITED_PREFIX + slot, BUCKET_PREFIX + slot
            values[f":q{i}"], values[f":b{i}"] = to_attribute(change.quantity), to_attribute(change.bucket_id)
            sets += [f"#d{i} = if_not_exists(#d{i}, :zero) + :q{i}", f"#b{i} = :b{i}"]
            if not change.is_debit:
                values[f":r{i}"] = to_attribute(-change.quantity)
                conditions.append(f"#d{i} >= :r{i}")
        return {"Update": {"TableName": self.table, "Key": key(pk, keys.credit_sk(credit_id)),
                           "UpdateExpression": "SET " + ", ".join(sets),
                           "ConditionExpression": " AND ".join(conditions),
                           "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


    #: Public names of the item builders, for callers that batch several records per wallet (rating): the
    #: conditional counter update of one credit, and a booking's items (counter updates, then the ledger Put).
    counter_update = _counter_update
    booking_items = _items


@lru_cache(maxsize=100_000)  # the buckets seen: a hash per counter update and bucket otherwise
def _slot(bucket_id: str) -> str:
    """A short, stable attribute-name suffix for a bucket (bucket ids can be long)."""
    return hashlib.sha256(bucket_id.encode()).hexdigest()[:16]


def _ref(usage_record_id: str | None, summary_id: str | None, attempt: int) -> str:
    source = usage_record_id or summary_id
    if not source:
        raise DomainError(ErrorCode.REQUIRED, "a wallet entry needs the usage record or summary it books",
                          "usageRecordId")
    return f"{source}:{attempt}"


def _line_values(item: Mapping[str, Any]) -> list[tuple[int, str, Decimal, Decimal, Decimal]]:
    return [(i, e["bucket"], Decimal(e["quantity"]), Decimal(e["opening"]), Decimal(e["closing"]))
            for i, e in enumerate(item["entries"])]


def _lines(item: Mapping[str, Any]) -> Iterable[LedgerLine]:
    """The ledger lines of one stored DEBIT/REVERSAL item."""
    key = item["sk"][len(keys.LEDGER_PREFIX):]
    at = from_iso(item["at"])
    recorded = from_iso(item["recorded_at"])
    for i, bucket, quantity, opening, closing in _line_values(item):
        yield LedgerLine(f"{key}#{i:03d}", bucket, LedgerEntryType(item["type"]), normalize_quantity(quantity),
                         normalize_quantity(opening), normalize_quantity(closing), at, recorded,
                         item.get("usage_record_id"), item.get("summary_id"))
