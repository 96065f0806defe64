"""The drawdown engine: which buckets of a wallet pay for a quantity, in which order, and what is left as overage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.errors import DomainError, ErrorCode
from core.values import immutable

ZERO = Decimal(0)


class DrawdownOrder(StrEnum):
    EXPIRING_FIRST = "EXPIRING_FIRST"
    GRANTED_FIRST = "GRANTED_FIRST"
    GRANTED_LAST = "GRANTED_LAST"


@immutable
class Bucket:
    """A grant bucket as drawdown sees it: a balance valid over ``[effective_from, effective_to)``."""

    id: str
    balance: Decimal
    effective_from: datetime
    effective_to: datetime | None
    created_at: datetime

    def is_effective(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


@immutable
class Debit:
    """``quantity`` taken from one bucket, with its balance before and after."""

    bucket_id: str
    quantity: Decimal
    opening: Decimal
    closing: Decimal


@immutable
class Credit:
    """``quantity`` given back to one bucket (a reversal), with its balance before and after."""

    bucket_id: str
    quantity: Decimal
    opening: Decimal
    closing: Decimal


@immutable
class DrawdownResult:
    debits: tuple[Debit, ...]
    overage: Decimal

    @property
    def debited(self) -> Decimal:
        return sum((d.quantity for d in self.debits), ZERO)


def draw_down(
    buckets: Iterable[Bucket], quantity: Decimal, at: datetime, order: DrawdownOrder = DrawdownOrder.EXPIRING_FIRST
) -> DrawdownResult:
    """Take ``quantity`` from the buckets effective at ``at``, in ``order``; what none covers is overage."""
    if quantity < ZERO:
        raise DomainError(ErrorCode.NEGATIVE_QUANTITY, f"cannot draw down a negative quantity {quantity}", "quantity")
    remaining = quantity
    debits: list[Debit] = []
    for bucket in arrange(buckets, at, order):
        if remaining == ZERO:
            break
        taken = min(bucket.balance, remaining)
        debits.append(Debit(bucket.id, taken, bucket.balance, bucket.balance - taken))
        remaining -= taken
    return DrawdownResult(tuple(debits), remaining)


def arrange(buckets: Iterable[Bucket], at: datetime, order: DrawdownOrder) -> list[Bucket]:
    """The buckets drawable at ``at`` (effective, positive balance) in drawdown order; ties by created_at, then id."""
    eligible = sorted((b for b in buckets if b.balance > ZERO and b.is_effective(at)), key=_tie_break)
    if order == DrawdownOrder.EXPIRING_FIRST:
        return sorted(eligible, key=lambda b: (b.effective_to is None, b.effective_to or at))
    if order == DrawdownOrder.GRANTED_FIRST:
        return sorted(eligible, key=lambda b: b.effective_from)
    if order == DrawdownOrder.GRANTED_LAST:
        return sorted(eligible, key=lambda b: b.effective_from, reverse=True)
    raise DomainError(ErrorCode.INVALID_VALUE, f"unknown drawdown order {order!r}", "drawdownOrder")


def reverse(debits: Sequence[Debit], buckets: Iterable[Bucket]) -> tuple[Credit, ...]:
    """Credits that give each debited quantity back to the bucket it came from (for a void or an amendment).

    Buckets are credited whatever their effectivity now; the credits chain from each bucket's current balance.
    """
    balances = {b.id: b.balance for b in buckets}
    credits: list[Credit] = []
    for debit in debits:
        if debit.bucket_id not in balances:
            raise DomainError(ErrorCode.NOT_FOUND, f"bucket '{debit.bucket_id}' does not exist", "bucketId")
        opening = balances[debit.bucket_id]
        balances[debit.bucket_id] = opening + debit.quantity
        credits.append(Credit(debit.bucket_id, debit.quantity, opening, balances[debit.bucket_id]))
    return tuple(credits)


def apply(buckets: Iterable[Bucket], entries: Iterable[Debit | Credit]) -> tuple[Bucket, ...]:
    """The buckets with ``entries`` booked: debits lower a balance, credits raise it."""
    buckets = tuple(buckets)
    balances = {b.id: b.balance for b in buckets}
    for entry in entries:
        sign = -1 if isinstance(entry, Debit) else 1
        balances[entry.bucket_id] = balances[entry.bucket_id] + sign * entry.quantity
    return tuple(replace(b, balance=balances[b.id]) for b in buckets)


def _tie_break(bucket: Bucket) -> tuple[datetime, str]:
    return (bucket.created_at, bucket.id)
