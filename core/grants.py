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
- Quantity changes (``changes``: a subscription amended from a date, DOMAIN §2 "Subscription changes"): from
  its date a change sets the quantity of every later period. Inside the period it falls in, an increase adds an
  AMEND credit of the added share prorated by DOMAIN §4 (days left of the period, floored), valid like the
  period's credit; a decrease removes the prorated share (rounded up: never more kept than paid for) from that
  period's credits (newest first) at its date, as an EXPIRY — but never below what their chains have been debited,
  so consumed usage is never taken back. A removed share no credit can give up any more (it expired) is netted
  against a later increase in the same period.
  A one-time grant's "period" is its first validity term (none when it never expires: the whole share).
- Ids: ``{grant_id}:{GRANT|PACK|COMMITMENT}:0`` for the first credit, ``{grant_id}:REFRESH:{k}`` for the k-th
  refresh, ``{grant_id}:ROLLOVER:{k}:{n}`` for the n-th rollover of credit k's balance; ``{grant_id}:AMEND:{k}:{j}``
  for the share change j adds in period k, and ``{grant_id}:ROLLOVER:{k}A{j}:{n}`` for its rollovers.
  ``grant_id`` must be unique within the wallet (compose it from the subscription and the product usage grant).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
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
class QuantityChange:
    """From ``at`` on, the schedule grants ``quantity`` (default unit) per period: a subscription amendment."""

    at: datetime
    quantity: Decimal


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
    #: quantity changes from a date on (amendments), in date order
    changes: tuple[QuantityChange, ...] = ()

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
        if any(c.quantity < ZERO for c in self.changes):
            raise DomainError(ErrorCode.NEGATIVE_QUANTITY, "a grant's quantity cannot be negative", "quantity")
        if self.maximum_rollover_quantity is not None and self.maximum_rollover_quantity < ZERO:
            raise DomainError(ErrorCode.INVALID_VALUE, "a maximum rollover quantity cannot be negative",
                              "maximumRolloverQuantity")

    def quantity_at(self, at: datetime) -> Decimal:
        """The per-period quantity in force at ``at``: the last change on or before it, else ``quantity``."""
        current = self.quantity
        for change in self.changes:
            if as_utc(change.at) <= as_utc(at):
                current = change.quantity
        return current

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
    #: a credit's shares removed by quantity decreases: (when, how much), never below what its chain consumed
    reductions: tuple[tuple[datetime, Decimal], ...] = ()
    #: names the credit's chain in its rollovers' ids: the period index, or ``{k}A{j}`` for an AMEND credit
    chain: str = ""
    #: the schedule's grant id (every bucket id starts with it)
    grant_id: str = ""


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


def prorate(quantity: Decimal, start: datetime, period: Period, scale: int) -> Decimal:
    """``floor(quantity × days_remaining / days_in_period)``, days counted inclusively from ``start``'s day."""
    remaining = days_between(start, period.end)
    return floor_quantity(quantity * remaining / period.days, scale)


def prorate_removal(quantity: Decimal, start: datetime, period: Period, scale: int) -> Decimal:
    """The share a decrease removes: the same proration rounded *up*, so that what is kept never exceeds what was
    paid for (8,000 texts cut by 4,000 with 17 of 31 days left: 4,000 × 17 / 31 = 2,193.5 → 2,194 removed)."""
    remaining = days_between(start, period.end)
    return -floor_quantity(-(quantity * remaining / period.days), scale)


def _credits(schedule: GrantSchedule, until: datetime) -> Iterator[PlannedBucket]:
    start = schedule.start
    stop = _earliest(schedule.effective_to, schedule.hard_end)
    horizon = until + timedelta(microseconds=1) if stop is None else min(until + timedelta(microseconds=1), stop)
    if schedule.refresh is None:
        if start < horizon:
            natural = _validity_end(schedule, start, start)
            window = Period(start, natural) if natural is not None else None
            yield from _period_credits(schedule, 0, start, start, window, stop, until)
        return
    step = schedule.refresh.months
    periods = schedule.billing.periods(schedule.refresh.every, schedule.refresh.unit, start, horizon)
    for index, period in enumerate(periods):
        nominal = Period(add_months(period.end, -step, schedule.anchor_day), period.end)
        begins = max(period.start, start)
        yield from _period_credits(schedule, index, begins, nominal.start, nominal, stop, until)


def _period_credits(schedule: GrantSchedule, index: int, begins: datetime, aligned: datetime,
                    nominal: Period | None, stop: datetime | None, until: datetime) -> Iterator[PlannedBucket]:
    """The credit of period ``index`` (prorated when it begins late) and what the quantity changes inside the
    period add (AMEND credits) or remove (reductions of the period's credits, newest first)."""
    current = schedule.quantity_at(begins)
    quantity = current
    if nominal is not None and begins > nominal.start:
        quantity = prorate(current, begins, nominal, schedule.unit_scale)
    credits = [_credit(schedule, index, begins, aligned, quantity)]
    owed = ZERO  # removed shares no credit could give up (expired already): later increases in the period net them
    for j, change in enumerate(schedule.changes):
        at = as_utc(change.at)
        inside = begins < at and (nominal is None or at < nominal.end) and (stop is None or at < stop)
        if not inside or change.quantity == current:
            continue
        delta, current = change.quantity - current, change.quantity
        if delta > ZERO:
            share = delta if nominal is None else prorate(delta, at, nominal, schedule.unit_scale)
            share, owed = max(share - owed, ZERO), max(owed - share, ZERO)
            if share > ZERO:
                credits.append(_credit(schedule, index, at, aligned, share, amend=j))
            continue
        share = -delta if nominal is None else prorate_removal(-delta, at, nominal, schedule.unit_scale)
        for pos in sorted(range(len(credits)), key=lambda i: credits[i].effective_from, reverse=True):
            credit = credits[pos]
            if share <= ZERO:
                break
            if credit.effective_from >= at or (credit.effective_to is not None and credit.effective_to <= at):
                continue
            assert credit.quantity is not None
            take = min(share, credit.quantity - sum((q for _, q in credit.reductions), ZERO))
            if take > ZERO:
                credits[pos] = replace(credit, reductions=(*credit.reductions, (at, take)))
                share -= take
        owed += share
    yield from (c for c in credits if c.effective_from <= until)


def _credit(
    schedule: GrantSchedule, index: int, begins: datetime, aligned: datetime, quantity: Decimal,
    amend: int | None = None,
) -> PlannedBucket:
    source = BucketSource(schedule.source) if index == 0 or amend is not None else BucketSource.REFRESH
    natural = _validity_end(schedule, aligned, begins)
    kind, chain = (source.value, str(index)) if amend is None else ("AMEND", f"{index}A{amend}")
    return PlannedBucket(
        id=f"{schedule.grant_id}:{kind}:{index}" if amend is None else f"{schedule.grant_id}:AMEND:{index}:{amend}",
        source=source,
        quantity=quantity,
        effective_from=begins,
        effective_to=_earliest(natural, schedule.hard_end),
        completed_rollovers=0,
        period_index=index,
        on_end=_on_end(schedule, natural, 0),
        granted_at=begins,
        rollover_cap=schedule.maximum_rollover_quantity,
        chain=chain,
        grant_id=schedule.grant_id,
    )


def _rollover(schedule: GrantSchedule, parent: PlannedBucket) -> PlannedBucket:
    assert parent.effective_to is not None
    count = parent.completed_rollovers + 1
    begins = parent.effective_to
    natural = _validity_end(schedule, begins, begins)
    return PlannedBucket(
        id=f"{schedule.grant_id}:{BucketSource.ROLLOVER}:{parent.chain or parent.period_index}:{count}",
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
        chain=parent.chain,
        grant_id=schedule.grant_id,
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


def _chain_debits(plan: Sequence[PlannedBucket], debits: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Per credit that has reductions: what its whole chain (itself and every rollover of it, planned yet or not:
    late usage is drawn as of earlier times) has been debited."""
    out: dict[str, Decimal] = {}
    for credit in plan:
        if credit.reductions:
            prefix = rollover_prefix(credit)
            out[credit.id] = sum((q for b, q in debits.items() if b == credit.id or b.startswith(prefix)), ZERO)
    return out


def rollover_prefix(credit: PlannedBucket) -> str:
    """What the ids of a credit's rollovers start with (``{grant_id}:ROLLOVER:{chain}:``)."""
    return f"{credit.grant_id}:{BucketSource.ROLLOVER}:{credit.chain or credit.period_index}:"


def _credit_type(source: BucketSource) -> LedgerType:
    if source == BucketSource.REFRESH:
        return LedgerType.REFRESH
    if source == BucketSource.ROLLOVER:
        return LedgerType.ROLLOVER
    return LedgerType.GRANT


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [as_utc(m) for m in moments if m is not None]
    return min(present) if present else None
