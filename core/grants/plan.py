"""Bucket planning: every bucket a grant schedule yields up to a time — its first credit, one REFRESH per refresh
period, AMEND credits and reductions for quantity changes, and a potential ROLLOVER for every balance that may
carry over — each with a deterministic id (the rules are in ``core.grants``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.grants.schedule import ZERO, GrantSchedule
from core.money import floor_quantity
from core.periods import Period, add_months, as_utc, days_between, earliest
from core.values import immutable


class BucketSource(StrEnum):
    GRANT = "GRANT"
    PACK = "PACK"
    REFRESH = "REFRESH"
    ROLLOVER = "ROLLOVER"
    COMMITMENT = "COMMITMENT"


class EndAction(StrEnum):
    """What happens to a bucket's balance at its ``effective_to``."""

    EXPIRY = "EXPIRY"
    ROLLOVER = "ROLLOVER"


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
    stop = earliest(schedule.effective_to, schedule.hard_end)
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
        effective_to=earliest(natural, schedule.hard_end),
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
        effective_to=earliest(natural, schedule.hard_end),
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


def rollover_prefix(credit: PlannedBucket) -> str:
    """What the ids of a credit's rollovers start with (``{grant_id}:ROLLOVER:{chain}:``)."""
    return f"{credit.grant_id}:{BucketSource.ROLLOVER}:{credit.chain or credit.period_index}:"
