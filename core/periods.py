"""Billing periods: half-open ``[start, end)`` UTC windows anchored on a start date and a billing day of month.

Boundaries fall at 00:00 UTC. Without a billing day, periods step from the start date's day. With one, a start that
is not on the billing day opens a short first period (a stub) that ends on the next billing day; full periods of
``term × unit`` follow. A billing day past a month's end is clamped to its last day (31 → Feb 28/29, then Mar 31).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime, time
from enum import StrEnum

from core.errors import DomainError, ErrorCode
from core.values import immutable


class PeriodUnit(StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


MONTHS_PER_UNIT: dict[PeriodUnit, int] = {PeriodUnit.MONTH: 1, PeriodUnit.QUARTER: 3, PeriodUnit.YEAR: 12}


@immutable
class Period:
    """A half-open UTC window ``[start, end)``."""

    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= as_utc(at) < self.end

    @property
    def days(self) -> int:
        """Calendar days in the period (Jul 20 – Aug 19 → 31)."""
        return days_between(self.start, self.end)


@immutable
class BillingAnchor:
    """Where a subscription's billing periods are anchored: its start and optional billing day of month."""

    start: datetime
    billing_day_of_month: int | None = None

    @property
    def anchor_day(self) -> int:
        """The day of month period boundaries fall on (before month-end clamping)."""
        return self.billing_day_of_month or start_of_day(self.start).day

    def period(self, term: int, unit: PeriodUnit, at: datetime) -> Period:
        return billing_period(self.start, term, unit, self.billing_day_of_month, at)

    def periods(self, term: int, unit: PeriodUnit, since: datetime, until: datetime) -> Iterator[Period]:
        return periods_between(self.start, term, unit, self.billing_day_of_month, since, until)


def as_utc(dt: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def earliest(*moments: datetime | None) -> datetime | None:
    """The earliest of the moments given (in UTC), ignoring None; None when none is given."""
    present = [as_utc(m) for m in moments if m is not None]
    return min(present) if present else None


def start_of_day(dt: datetime) -> datetime:
    """00:00 UTC of the day ``dt`` falls on."""
    return datetime.combine(as_utc(dt).date(), time(), tzinfo=UTC)


def days_between(first: datetime, end: datetime) -> int:
    """Whole UTC days from ``first``'s day up to (not including) ``end``'s day: Aug 3 → Aug 20 is 17."""
    return (as_utc(end).date() - as_utc(first).date()).days


def add_months(dt: datetime, months: int, anchor_day: int | None = None) -> datetime:
    """``dt`` moved by ``months`` onto ``anchor_day`` (default: dt's day), clamped to the target month's end."""
    index = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor_day or dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


#: the last period found per billing schedule: periods partition time, so one that contains ``at`` is the answer
#: (rating asks for the same few periods thousands of times a batch); bounded, and safe to share between threads
_LAST_PERIOD: dict[tuple[datetime, int, PeriodUnit, int | None], Period] = {}
_LAST_PERIOD_MAX = 10_000


def billing_period(
    start_date: datetime, term: int, unit: PeriodUnit, billing_day_of_month: int | None, at: datetime
) -> Period:
    """The billing period that contains ``at``."""
    at = as_utc(at)
    schedule = (start_date, term, unit, billing_day_of_month)
    last = _LAST_PERIOD.get(schedule)
    if last is not None and last.start <= at < last.end:
        return last
    period = _billing_period(start_date, term, unit, billing_day_of_month, at)
    if len(_LAST_PERIOD) >= _LAST_PERIOD_MAX:
        _LAST_PERIOD.clear()
    _LAST_PERIOD[schedule] = period
    return period


def _billing_period(
    start_date: datetime, term: int, unit: PeriodUnit, billing_day_of_month: int | None, at: datetime
) -> Period:
    start, first_full, months, anchor_day = _anchor(start_date, term, unit, billing_day_of_month)
    if at < start:
        raise DomainError(ErrorCode.INVALID_RANGE, f"{at.isoformat()} is before the billing start {start.isoformat()}")
    if at < first_full:
        return Period(start, first_full)
    k = _months_apart(first_full, at) // months
    while add_months(first_full, k * months, anchor_day) > at:
        k -= 1
    while add_months(first_full, (k + 1) * months, anchor_day) <= at:
        k += 1
    return Period(add_months(first_full, k * months, anchor_day), add_months(first_full, (k + 1) * months, anchor_day))


def periods_between(
    start_date: datetime,
    term: int,
    unit: PeriodUnit,
    billing_day_of_month: int | None,
    since: datetime,
    until: datetime,
) -> Iterator[Period]:
    """Every billing period that overlaps ``[since, until)``, in order and unclipped."""
    start, *_ = _anchor(start_date, term, unit, billing_day_of_month)
    until = as_utc(until)
    since = max(as_utc(since), start)
    if since >= until:
        return
    period = billing_period(start_date, term, unit, billing_day_of_month, since)
    while period.start < until:
        yield period
        period = billing_period(start_date, term, unit, billing_day_of_month, period.end)


def _anchor(
    start_date: datetime, term: int, unit: PeriodUnit, billing_day_of_month: int | None
) -> tuple[datetime, datetime, int, int]:
    """(start, start of the first full period, months per period, anchor day)."""
    if term < 1:
        raise DomainError(ErrorCode.INVALID_VALUE, f"billing term must be at least 1, got {term}", "billingTerm")
    if billing_day_of_month is not None and not 1 <= billing_day_of_month <= 31:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            f"billing day of month must be 1–31, got {billing_day_of_month}",
            "billingDayOfMonth",
        )
    start = start_of_day(start_date)
    months = term * MONTHS_PER_UNIT[PeriodUnit(unit)]
    if billing_day_of_month is None:
        return start, start, months, start.day
    first_full = add_months(start, 0, billing_day_of_month)
    if first_full < start:
        first_full = add_months(start, 1, billing_day_of_month)
    return start, first_full, months, billing_day_of_month


def _months_apart(earlier: datetime, later: datetime) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month
