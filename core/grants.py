"""The grant lifecycle as a pure function of time: which buckets a grant creates, and their balances as of any time.

``bucket_plan`` lists every bucket a grant yields up to a time — its first credit (GRANT, PACK or COMMITMENT), one
REFRESH per refresh period, and a potential ROLLOVER bucket for every balance that may carry over — each with a
deterministic id, so storage can create them idempotently and no scheduled job is needed. ``settle`` then takes
the debits booked against those buckets and works out, as of any time, what each was granted, what is left, what
rolled over and what expired, with the ledger events that explain it (DOMAIN §3.5, §4).

Rules:
- Refresh periods are the subscription's billing periods with the refresh step (``BillingAnchor``). A grant whose
  start falls inside a period is prorated: ``floor(quantity × days_remaining / days_in_period)`` to ``unit_scale``
  places, days counted inclusively over the full (nominal) period, so a stub period is prorated too.
- A credit is valid for ``validity_term × validity_unit`` from the start of its period (``NONE``: no expiry).
- At the natural end of its validity, what is left either expires or, with rollover, moves to a ROLLOVER bucket
  valid for one more validity term; with ``rollover_can_expire`` a balance rolls at most
  ``maximum_rollover_count`` times and then expires; with ``maximum_rollover_quantity`` at most that much of a
  balance carries over each time and the rest expires (an EXPIRY beside the ROLLOVER). Both limits may apply.
- The subscription's end and the pack's (product's) end are hard ends: buckets stop there and forfeit what is
  left (EXPIRY), with no rollover. The grant's own ``effective_to`` only stops new credits.
- A grant never starts before its subscription.
- Ids: ``{grant_id}:{GRANT|PACK|COMMITMENT}:0`` for the first credit, ``{grant_id}:REFRESH:{k}`` for the k-th
  refresh, ``{grant_id}:ROLLOVER:{k}:{n}`` for the n-th rollover of credit k's balance. ``grant_id`` must be
  unique within the wallet (compose it from the subscription and the product usage grant).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.drawdown import Bucket
from core.errors import DomainError, ErrorCode
from core.money import floor_quantity
from core.periods import MONTHS_PER_UNIT, BillingAnchor, Period, PeriodUnit, add_months, as_utc, days_between
from core.values import immutable

ZERO = Decimal(0)


class ValidityUnit(StrEnum):
    MONTH = "MONTH"
    YEAR = "YEAR"
    NONE = "NONE"


class GrantSource(StrEnum):
    GRANT = "GRANT"
    PACK = "PACK"
    COMMITMENT = "COMMITMENT"


class BucketSource(StrEnum):
    GRANT = "GRANT"
    PACK = "PACK"
    REFRESH = "REFRESH"
    ROLLOVER = "ROLLOVER"
    COMMITMENT = "COMMITMENT"


class LedgerType(StrEnum):
    GRANT = "GRANT"
    REFRESH = "REFRESH"
    ROLLOVER = "ROLLOVER"
    EXPIRY = "EXPIRY"


class EndAction(StrEnum):
    """What happens to a bucket's balance at its ``effective_to``."""

    EXPIRY = "EXPIRY"
    ROLLOVER = "ROLLOVER"


@immutable
class Refresh:
    """Re-credit the grant every ``every`` × ``unit``."""

    every: int
    unit: PeriodUnit

    @property
    def months(self) -> int:
        return self.every * MONTHS_PER_UNIT[self.unit]


@immutable
class GrantSchedule:
    """One grant as instantiated for one subscription; ``quantity`` is in the resource's default unit."""

    grant_id: str
    quantity: Decimal
    effective_from: datetime
    billing: BillingAnchor
    validity_term: int = 1
    validity_unit: ValidityUnit = ValidityUnit.MONTH
    effective_to: datetime | None = None
    refresh: Refresh | None = None
    rollover_allowed: bool = False
    rollover_can_expire: bool = False
    maximum_rollover_count: int | None = None
    #: at most this much carries over per rollover; the rest expires (None: no cap)
    maximum_rollover_quantity: Decimal | None = None
    source: GrantSource = GrantSource.GRANT
    subscription_end: datetime | None = None
    product_end: datetime | None = None
    #: decimal places proration floors to (0 for whole units such as texts)
    unit_scale: int = 0

    def __post_init__(self) -> None:
        if self.quantity < ZERO:
            raise DomainError(ErrorCode.NEGATIVE_QUANTITY, "a grant's quantity cannot be negative", "quantity")
        if self.validity_unit != ValidityUnit.NONE and self.validity_term < 1:
            raise DomainError(ErrorCode.INVALID_VALUE, "validity term must be at least 1", "validityTerm")
        if self.refresh is not None and self.refresh.every < 1:
            raise DomainError(ErrorCode.INVALID_VALUE, "refresh frequency must be at least 1", "refreshFrequency")
        expiring_rollover = self.rollover_allowed and self.rollover_can_expire
        if expiring_rollover and (self.maximum_rollover_count is None or self.maximum_rollover_count < 0):
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "a rollover that can expire needs a maximum rollover count of 0 or more",
                "maximumRolloverCount",
            )
        if self.maximum_rollover_quantity is not None and self.maximum_rollover_quantity < ZERO:
            raise DomainError(ErrorCode.INVALID_VALUE, "a maximum rollover quantity cannot be negative",
                              "maximumRolloverQuantity")

    @property
    def start(self) -> datetime:
        """When the grant starts for this subscription (never before the subscription)."""
        return max(as_utc(self.effective_from), as_utc(self.billing.start))

    @property
    def hard_end(self) -> datetime | None:
        """The subscription's or pack's end, whichever comes first: nothing outlives it."""
        return _earliest(self.subscription_end, self.product_end)

    @property
    def validity_months(self) -> int | None:
        if self.validity_unit == ValidityUnit.NONE:
            return None
        return self.validity_term * (12 if self.validity_unit == ValidityUnit.YEAR else 1)

    @property
    def anchor_day(self) -> int:
        return self.billing.anchor_day if self.refresh else self.start.day

    def may_roll(self, completed_rollovers: int) -> bool:
        if not self.rollover_allowed:
            return False
        if not self.rollover_can_expire:
            return True
        return completed_rollovers < (self.maximum_rollover_count or 0)


@immutable
class PlannedBucket:
    """A bucket a grant yields; ``quantity`` is None for a ROLLOVER (the balance of ``rolls_from`` at its end)."""

    id: str
    source: BucketSource
    quantity: Decimal | None
    effective_from: datetime
    effective_to: datetime | None
    completed_rollovers: int
    period_index: int
    on_end: EndAction
    #: when this quantity was first granted (a rollover keeps its credit's): older balances win drawdown ties
    granted_at: datetime
    rolls_from: str | None = None
    #: at most this much of the balance rolls over at the end (the rest expires); None = all of it
    rollover_cap: Decimal | None = None


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


def bucket_plan(schedule: GrantSchedule, until: datetime) -> list[PlannedBucket]:
    """Every bucket ``schedule`` yields that starts at or before ``until``, in start order."""
    until = as_utc(until)
    plan: list[PlannedBucket] = []
    for credit in _credits(schedule, until):
        plan.append(credit)
        bucket = credit
        while bucket.on_end == EndAction.ROLLOVER:
            bucket = _rollover(schedule, bucket)
            if bucket.effective_from > until:
                break
            plan.append(bucket)
    return sorted(plan, key=lambda b: (b.effective_from, b.period_index, b.completed_rollovers))


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
        if not ZERO <= debited <= granted:
            raise DomainError(ErrorCode.CONFLICT, f"bucket '{planned.id}' debited {debited} of {granted}")
        events.append(LedgerEvent(planned.id, _credit_type(planned.source), granted, planned.effective_from))
        left = granted - debited
        ended = planned.effective_to is not None and planned.effective_to <= as_of
        expired = rolled_out = ZERO
        if ended and left > ZERO:
            assert planned.effective_to is not None
            if planned.on_end == EndAction.ROLLOVER:
                if planned.id not in children:
                    raise DomainError(ErrorCode.INVALID_RANGE, f"the plan ends before '{planned.id}' rolls over")
                rolled_out = rolled[planned.id] = left if planned.rollover_cap is None else min(left, planned.rollover_cap)
                expired = left - rolled_out
                if rolled_out > ZERO:
                    events.append(LedgerEvent(planned.id, LedgerType.ROLLOVER, -rolled_out, planned.effective_to))
                if expired > ZERO:
                    events.append(LedgerEvent(planned.id, LedgerType.EXPIRY, -expired, planned.effective_to))
            else:
                expired = left
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
            )
        )
    events.sort(key=lambda e: (e.at, e.quantity >= ZERO))
    return Settlement(tuple(states), tuple(events))


def prorate(quantity: Decimal, start: datetime, period: Period, scale: int) -> Decimal:
    """``floor(quantity × days_remaining / days_in_period)``, days counted inclusively from ``start``'s day."""
    remaining = days_between(start, period.end)
    return floor_quantity(quantity * remaining / period.days, scale)


def _credits(schedule: GrantSchedule, until: datetime) -> Iterator[PlannedBucket]:
    start = schedule.start
    stop = _earliest(schedule.effective_to, schedule.hard_end)
    horizon = until + timedelta(microseconds=1) if stop is None else min(until + timedelta(microseconds=1), stop)
    if schedule.refresh is None:
        if start < horizon:
            yield _credit(schedule, 0, start, start, schedule.quantity)
        return
    step = schedule.refresh.months
    periods = schedule.billing.periods(schedule.refresh.every, schedule.refresh.unit, start, horizon)
    for index, period in enumerate(periods):
        nominal = Period(add_months(period.end, -step, schedule.anchor_day), period.end)
        begins = max(period.start, start)
        quantity = schedule.quantity
        if begins > nominal.start:
            quantity = prorate(schedule.quantity, begins, nominal, schedule.unit_scale)
        yield _credit(schedule, index, begins, nominal.start, quantity)


def _credit(
    schedule: GrantSchedule, index: int, begins: datetime, aligned: datetime, quantity: Decimal
) -> PlannedBucket:
    source = BucketSource(schedule.source) if index == 0 else BucketSource.REFRESH
    natural = _validity_end(schedule, aligned, begins)
    return PlannedBucket(
        id=f"{schedule.grant_id}:{source}:{index}",
        source=source,
        quantity=quantity,
        effective_from=begins,
        effective_to=_earliest(natural, schedule.hard_end),
        completed_rollovers=0,
        period_index=index,
        on_end=_on_end(schedule, natural, 0),
        granted_at=begins,
        rollover_cap=schedule.maximum_rollover_quantity,
    )


def _rollover(schedule: GrantSchedule, parent: PlannedBucket) -> PlannedBucket:
    assert parent.effective_to is not None
    count = parent.completed_rollovers + 1
    begins = parent.effective_to
    natural = _validity_end(schedule, begins, begins)
    return PlannedBucket(
        id=f"{schedule.grant_id}:{BucketSource.ROLLOVER}:{parent.period_index}:{count}",
        source=BucketSource.ROLLOVER,
        quantity=None,
        effective_from=begins,
        effective_to=_earliest(natural, schedule.hard_end),
        completed_rollovers=count,
        period_index=parent.period_index,
        on_end=_on_end(schedule, natural, count),
        granted_at=parent.granted_at,
        rolls_from=parent.id,
        rollover_cap=schedule.maximum_rollover_quantity,
    )


def _validity_end(schedule: GrantSchedule, aligned: datetime, begins: datetime) -> datetime | None:
    """The first validity boundary after ``begins``, stepping from ``aligned`` (None: never expires)."""
    months = schedule.validity_months
    if months is None:
        return None
    steps = 1
    while (end := add_months(aligned, steps * months, schedule.anchor_day)) <= begins:
        steps += 1
    return end


def _on_end(schedule: GrantSchedule, natural_end: datetime | None, completed_rollovers: int) -> EndAction:
    if natural_end is None or not schedule.may_roll(completed_rollovers):
        return EndAction.EXPIRY
    hard_end = schedule.hard_end
    if hard_end is not None and natural_end >= hard_end:
        return EndAction.EXPIRY
    return EndAction.ROLLOVER


def _granted(planned: PlannedBucket, rolled: Mapping[str, Decimal], as_of: datetime) -> Decimal:
    if planned.effective_from > as_of:
        return ZERO
    if planned.quantity is not None:
        return planned.quantity
    assert planned.rolls_from is not None
    return rolled.get(planned.rolls_from, ZERO)


def _credit_type(source: BucketSource) -> LedgerType:
    if source == BucketSource.REFRESH:
        return LedgerType.REFRESH
    if source == BucketSource.ROLLOVER:
        return LedgerType.ROLLOVER
    return LedgerType.GRANT


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [as_utc(m) for m in moments if m is not None]
    return min(present) if present else None
