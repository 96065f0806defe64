"""The PERIOD_CLOSED rule of ingestion (DOMAIN §4, late usage), as rating sees periods.

A record's period is the billing period of the subscription that would pay for it (``matching``) containing its
usage time; it accepts usage until the period's end plus the rating delay of the effective policy — and not at
all once its summary is no longer OPEN — which may be before the waiting period passed, when an admin closed it
early ("invoice now"). Records that rating could not attribute (no subscription, an unknown
resource, …) are never closed here: they are accepted and processed to WARNING_UNRATED or ERROR.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from core.catalog import Policy, PolicyKind, RecordStatus
from core.periods import Period, as_utc
from core.policies import DEFAULT_RATING_DELAY_DAYS
from core.processing.context import CatalogView
from core.processing.matching import Resolution, resolve_record, usage_time
from core.subscriptions import Subscription
from core.summaries import SummaryKey, UsageSummary, closes_at
from core.usage import UsageRecord
from core.values import immutable


@immutable
class BookingPeriod:
    """The summary a record would be booked into, its period, and when that period stops accepting usage."""

    key: SummaryKey
    period: Period
    closes_at: datetime


def booking_period(record: UsageRecord, catalog: CatalogView, subscriptions: tuple[Subscription, ...]
                   ) -> BookingPeriod | None:
    """The period ``record`` belongs to, or None when it cannot be attributed (it will not be rated into one)."""
    res = resolve_record(record, catalog, subscriptions)
    if not isinstance(res, Resolution):
        return None
    try:
        period = res.billing.period(res.at)
    except (ArithmeticError, ValueError):  # terms beyond the calendar: rating makes the record ERROR RATING_FAILED
        return None
    key = SummaryKey(record.account_external_id, res.binding_target, res.resource.code, period.start)
    return BookingPeriod(key, period, closes_at(period, res.policy.rating_delay_days))


@immutable
class EarlyClose:
    """A period of an account whose summary was closed before its waiting period passed (``closes_at``)."""

    account_external_id: str
    period_start: datetime
    period_end: datetime
    closes_at: datetime


def surely_open(record: UsageRecord, shortest_delay_days: int, now: datetime,
                early_closes: Iterable[EarlyClose] = ()) -> bool:
    """True when the record's period cannot be closed yet, whatever it is: a period ends after the record's
    usage time and then waits at least the shortest rating delay, and no summary closes before that — unless an
    admin closed it early, so a period of the account closed early that holds the usage time (``early_closes``:
    those whose waiting period has not passed yet) leaves the record to be checked. Live usage needs no reads of
    summaries at all."""
    at = usage_time(record)
    if as_utc(now) >= at + timedelta(days=shortest_delay_days):
        return False
    return not any(e.account_external_id == record.account_external_id and e.period_start <= at < e.period_end
                   for e in early_closes)


def shortest_delay(policies: Iterable[Policy]) -> int:
    """The shortest rating delay any ACTIVE rating-frequency policy sets (the default when none is shorter)."""
    delays = [p.delay for p in policies if p.kind == PolicyKind.RATING_FREQUENCY and p.status == RecordStatus.ACTIVE
              and p.delay is not None]
    return min([DEFAULT_RATING_DELAY_DAYS, *delays])


def is_closed(booking: BookingPeriod, summary: UsageSummary | None, now: datetime) -> bool:
    """Closed once the waiting period has passed, or as soon as its summary is no longer OPEN."""
    if summary is not None:
        return not summary.accepts_usage(now)
    return as_utc(now) >= booking.closes_at
