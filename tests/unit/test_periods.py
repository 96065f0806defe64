"""Billing periods: day-of-month anchoring, month-end clamping, stubs, quarters, years and leap years."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DomainError
from core.periods import (
    BillingAnchor,
    Period,
    PeriodUnit,
    add_months,
    billing_period,
    days_between,
    periods_between,
)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_add_months_clamps_to_month_end_and_keeps_the_anchor_day():
    # GIVEN Jan 31 WHEN moved one, two and thirteen months on day 31 THEN each lands on its month's last day
    assert add_months(utc(2023, 1, 31), 1) == utc(2023, 2, 28)
    assert add_months(utc(2024, 1, 31), 1) == utc(2024, 2, 29)
    assert add_months(utc(2023, 1, 31), 2) == utc(2023, 3, 31)
    # GIVEN a clamped date WHEN moved on with the original anchor day THEN the anchor comes back
    assert add_months(utc(2023, 2, 28), 1, anchor_day=31) == utc(2023, 3, 31)
    assert add_months(utc(2023, 3, 31), -1) == utc(2023, 2, 28)
    assert add_months(utc(2023, 11, 15, 10), 3) == utc(2024, 2, 15, 10)


def test_monthly_period_follows_the_billing_day():
    # GIVEN billing day 20 from Jul 20 WHEN asked for Aug 3 THEN the period is Jul 20 – Aug 19 (31 days)
    period = billing_period(utc(2024, 7, 20), 1, PeriodUnit.MONTH, 20, utc(2024, 8, 3))
    assert period == Period(utc(2024, 7, 20), utc(2024, 8, 20))
    assert period.days == 31
    assert period.contains(utc(2024, 8, 19, 23)) and not period.contains(utc(2024, 8, 20))


def test_billing_day_31_clamps_in_february_and_returns_in_march():
    # GIVEN billing day 31 WHEN asked for days in Feb and Mar of a common year THEN boundaries clamp to Feb 28
    anchor = (utc(2023, 1, 31), 1, PeriodUnit.MONTH, 31)
    assert billing_period(*anchor, utc(2023, 2, 10)) == Period(utc(2023, 1, 31), utc(2023, 2, 28))
    assert billing_period(*anchor, utc(2023, 2, 28)) == Period(utc(2023, 2, 28), utc(2023, 3, 31))
    assert billing_period(*anchor, utc(2023, 4, 30)) == Period(utc(2023, 4, 30), utc(2023, 5, 31))


def test_leap_year_february_has_29_days_in_its_period():
    # GIVEN billing day 29 WHEN asked in February of a leap and a common year THEN the boundary is the 29th / 28th
    assert billing_period(utc(2024, 1, 29), 1, PeriodUnit.MONTH, 29, utc(2024, 2, 29)).start == utc(2024, 2, 29)
    assert billing_period(utc(2023, 1, 29), 1, PeriodUnit.MONTH, 29, utc(2023, 3, 1)) == Period(
        utc(2023, 2, 28), utc(2023, 3, 29)
    )


def test_start_off_the_billing_day_opens_a_stub_period():
    # GIVEN a start on Jan 15 with billing day 1 WHEN asked in January THEN the stub runs to Feb 1
    assert billing_period(utc(2024, 1, 15), 1, PeriodUnit.MONTH, 1, utc(2024, 1, 20)) == Period(
        utc(2024, 1, 15), utc(2024, 2, 1)
    )
    # ... and full quarters follow from the first billing day
    assert billing_period(utc(2024, 1, 15), 1, PeriodUnit.QUARTER, 1, utc(2024, 4, 30)) == Period(
        utc(2024, 2, 1), utc(2024, 5, 1)
    )


def test_without_a_billing_day_periods_step_from_the_start_day():
    # GIVEN a start at 14:30 on Mar 10 with no billing day WHEN asked later THEN periods run midnight to midnight
    assert billing_period(utc(2024, 3, 10, 14), 1, PeriodUnit.MONTH, None, utc(2024, 3, 10, 15)) == Period(
        utc(2024, 3, 10), utc(2024, 4, 10)
    )
    assert billing_period(utc(2024, 3, 10), 1, PeriodUnit.QUARTER, None, utc(2024, 9, 9)) == Period(
        utc(2024, 6, 10), utc(2024, 9, 10)
    )


def test_yearly_periods_from_leap_day_clamp_to_feb_28():
    # GIVEN a yearly term started on Feb 29 WHEN asked in the next years THEN the boundary is Feb 28, then Feb 29
    assert billing_period(utc(2024, 2, 29), 1, PeriodUnit.YEAR, None, utc(2025, 6, 1)) == Period(
        utc(2025, 2, 28), utc(2026, 2, 28)
    )
    assert billing_period(utc(2024, 2, 29), 1, PeriodUnit.YEAR, None, utc(2028, 3, 1)).start == utc(2028, 2, 29)
    assert billing_period(utc(2024, 2, 29), 2, PeriodUnit.YEAR, None, utc(2026, 2, 28)) == Period(
        utc(2026, 2, 28), utc(2028, 2, 29)
    )


def test_periods_between_lists_every_overlapping_period_unclipped():
    # GIVEN a monthly anchor on the 20th WHEN asked for mid-Aug to mid-Oct THEN three whole periods come back
    periods = list(periods_between(utc(2024, 7, 20), 1, PeriodUnit.MONTH, 20, utc(2024, 8, 15), utc(2024, 10, 21)))
    assert [p.start for p in periods] == [utc(2024, 7, 20), utc(2024, 8, 20), utc(2024, 9, 20), utc(2024, 10, 20)]
    # GIVEN an empty or pre-start window THEN nothing, or only periods from the start
    assert list(periods_between(utc(2024, 7, 20), 1, PeriodUnit.MONTH, 20, utc(2024, 9, 1), utc(2024, 9, 1))) == []
    anchor = BillingAnchor(utc(2024, 7, 20), 20)
    assert next(anchor.periods(1, PeriodUnit.MONTH, utc(2024, 1, 1), utc(2024, 12, 1))).start == utc(2024, 7, 20)


def test_invalid_terms_and_times_before_the_start_are_refused():
    # GIVEN a zero term, a billing day of 32 or a time before the start WHEN asked THEN DomainError
    with pytest.raises(DomainError):
        billing_period(utc(2024, 1, 1), 0, PeriodUnit.MONTH, None, utc(2024, 2, 1))
    with pytest.raises(DomainError):
        billing_period(utc(2024, 1, 1), 1, PeriodUnit.MONTH, 32, utc(2024, 2, 1))
    with pytest.raises(DomainError):
        billing_period(utc(2024, 1, 1), 1, PeriodUnit.MONTH, None, utc(2023, 12, 31))


def test_days_between_counts_the_first_day_and_not_the_end():
    # GIVEN Aug 3 and the period end Aug 20 THEN 17 days remain (Aug 3 … Aug 19)
    assert days_between(utc(2024, 8, 3, 15), utc(2024, 8, 20)) == 17


@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    day=st.none() | st.integers(1, 31),
    term=st.integers(1, 4),
    unit=st.sampled_from(PeriodUnit),
    offset=st.integers(0, 3650 * 24),
)
def test_every_instant_after_the_start_falls_in_exactly_one_contiguous_period(start, day, term, unit, offset):
    # GIVEN any anchor and instant WHEN its period is found THEN it contains the instant and its neighbours touch it
    at = start + timedelta(hours=offset)
    period = billing_period(start, term, unit, day, at)
    assert period.contains(at)
    assert period.start < period.end
    assert billing_period(start, term, unit, day, period.end).start == period.end
    if period.start > start.replace(hour=0, minute=0, second=0, microsecond=0):
        assert billing_period(start, term, unit, day, period.start - timedelta(microseconds=1)).end == period.start


def test_remembered_periods_answer_as_the_computation_does() -> None:
    # GIVEN instants in random order over three years, for schedules of monthly, quarterly and yearly terms
    import random

    from core import periods as p

    rng = random.Random(11)
    start = datetime(2026, 1, 31, 15, tzinfo=UTC)
    instants = [start + timedelta(hours=rng.randint(0, 3 * 365 * 24)) for _ in range(2_000)]
    schedules = [(1, p.PeriodUnit.MONTH, None), (3, p.PeriodUnit.MONTH, 30), (1, p.PeriodUnit.YEAR, 1)]
    # WHEN each is asked for (the answer remembered per schedule) THEN each equals the period computed afresh
    for at in instants:
        for term, unit, day in schedules:
            found = p.billing_period(start, term, unit, day, at)
            assert found == p._billing_period(start, term, unit, day, at) and found.start <= at < found.end
