"""Settlement: given the debits booked against a grant's planned buckets, what each was granted, what is left,
what rolled over and what expired as of any time, with the ledger events that explain it (DOMAIN §3.5, §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.drawdown import Bucket
from core.errors import DomainError, ErrorCode
from core.grants.plan import BucketSource, EndAction, PlannedBucket, rollover_prefix
from core.grants.schedule import ZERO
from core.periods import as_utc
from core.values import immutable


class LedgerType(StrEnum):
    GRANT = "GRANT"
    REFRESH = "REFRESH"
    ROLLOVER = "ROLLOVER"
    EXPIRY = "EXPIRY"


@immutable
class BucketState:
    """A bucket as of a time: ``granted == balance + debited + expired + rolled_out``."""

    id: str
    source: BucketSource
    granted: Decimal
    balance: Decimal
    debited: Decimal
    expired: Decimal
    rolled_out: Decimal
    effective_from: datetime
    effective_to: datetime | None
    completed_rollovers: int
    granted_at: datetime
    rolls_from: str | None = None
    #: of ``expired``, what quantity decreases removed (a credit only): its chain may draw ``granted − reduced``
    reduced: Decimal = ZERO

    def as_bucket(self) -> Bucket:
        """The bucket drawdown works on; ``created_at`` is when its quantity was first granted."""
        return Bucket(self.id, self.balance, self.effective_from, self.effective_to, self.granted_at)


@immutable
class LedgerEvent:
    """One lifecycle change of a balance; ``quantity`` is signed (+ credit, − expiry or rollover out)."""

    bucket_id: str
    type: LedgerType
    quantity: Decimal
    at: datetime


@immutable
class Settlement:
    buckets: tuple[BucketState, ...]
    events: tuple[LedgerEvent, ...]

    def effective(self, at: datetime) -> tuple[BucketState, ...]:
        """The buckets drawable at ``at``."""
        return tuple(b for b in self.buckets if b.as_bucket().is_effective(as_utc(at)))


def settle(plan: Sequence[PlannedBucket], debits_by_bucket: Mapping[str, Decimal], as_of: datetime) -> Settlement:
    """Balances as of ``as_of`` given the total debited from each bucket before then.

    ``plan`` must reach ``as_of`` (``bucket_plan(schedule, until >= as_of)``). A bucket that would be granted
    nothing (an empty rollover, a credit prorated to 0) is left out. A bucket's ``rollover_cap`` (the schedule's
    ``maximum_rollover_quantity``) bounds what its rollover carries; the rest of the balance expires.

    The cap keeps the chain invariant of ``core.wallets``: a rollover is granted at most what its parent left, so
    the debits of a credit's chain never exceed the credit, and a late debit of the parent bounded by
    ``credit − chain total`` always leaves the rollover at least what it has been debited.
    """
    as_of = as_utc(as_of)
    children = {b.rolls_from for b in plan if b.rolls_from is not None}
    chain_debits = _chain_debits(plan, debits_by_bucket)
    rolled: dict[str, Decimal] = {}
    states: list[BucketState] = []
    events: list[LedgerEvent] = []
    for planned in sorted(plan, key=lambda b: (b.effective_from, b.period_index, b.completed_rollovers)):
        debited = debits_by_bucket.get(planned.id, ZERO)
        granted = _granted(planned, rolled, as_of)
        if granted == ZERO:
            if debited != ZERO:
                raise DomainError(ErrorCode.CONFLICT, f"bucket '{planned.id}' was debited but holds nothing")
            continue
        events.append(LedgerEvent(planned.id, _credit_type(planned.source), granted, planned.effective_from))
        reduced = ZERO
        for at, share in planned.reductions:  # a decrease takes at most what the chain has not consumed
            if at > as_of or (planned.effective_to is not None and at >= planned.effective_to):
                continue
            take = min(share, granted - reduced - chain_debits.get(planned.id, ZERO))
            if take > ZERO:
                reduced += take
                events.append(LedgerEvent(planned.id, LedgerType.EXPIRY, -take, at))
        if not ZERO <= debited <= granted - reduced:
            raise DomainError(ErrorCode.CONFLICT, f"bucket '{planned.id}' debited {debited} of {granted - reduced}")
        left = granted - reduced - debited
        ended = planned.effective_to is not None and planned.effective_to <= as_of
        expired, rolled_out = reduced, ZERO
        if ended and left > ZERO:
            assert planned.effective_to is not None
            if planned.on_end == EndAction.ROLLOVER:
                if planned.id not in children:
                    raise DomainError(ErrorCode.INVALID_RANGE, f"the plan ends before '{planned.id}' rolls over")
                cap = planned.rollover_cap
                rolled_out = rolled[planned.id] = left if cap is None else min(left, cap)
                expired += left - rolled_out
                if rolled_out > ZERO:
                    events.append(LedgerEvent(planned.id, LedgerType.ROLLOVER, -rolled_out, planned.effective_to))
                if left > rolled_out:
                    events.append(LedgerEvent(planned.id, LedgerType.EXPIRY, rolled_out - left, planned.effective_to))
            else:
                expired += left
                events.append(LedgerEvent(planned.id, LedgerType.EXPIRY, -left, planned.effective_to))
        states.append(
            BucketState(
                id=planned.id,
                source=planned.source,
                granted=granted,
                balance=ZERO if ended else left,
                debited=debited,
                expired=expired,
                rolled_out=rolled_out,
                effective_from=planned.effective_from,
                effective_to=planned.effective_to,
                completed_rollovers=planned.completed_rollovers,
                granted_at=planned.granted_at,
                rolls_from=planned.rolls_from,
                reduced=reduced,
            )
        )
    events.sort(key=lambda e: (e.at, e.quantity >= ZERO))
    return Settlement(tuple(states), tuple(events))


def _granted(planned: PlannedBucket, rolled: Mapping[str, Decimal], as_of: datetime) -> Decimal:
    if planned.effective_from > as_of:
        return ZERO
    if planned.quantity is not None:
        return planned.quantity
    assert planned.rolls_from is not None
    return rolled.get(planned.rolls_from, ZERO)


def _chain_debits(plan: Sequence[PlannedBucket], debits: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Per credit that has reductions: what its whole chain (itself and every rollover of it, planned yet or not:
    late usage is drawn as of earlier times) has been debited."""
    out: dict[str, Decimal] = {}
    for credit in plan:
        if credit.reductions:
            prefix = rollover_prefix(credit)
            out[credit.id] = sum((q for b, q in debits.items() if b == credit.id or b.startswith(prefix)), ZERO)
    return out


def _credit_type(source: BucketSource) -> LedgerType:
    if source == BucketSource.REFRESH:
        return LedgerType.REFRESH
    if source == BucketSource.ROLLOVER:
        return LedgerType.ROLLOVER
    return LedgerType.GRANT
