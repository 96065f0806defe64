"""Usage summaries (core.summaries): keys and billing periods, aggregation, closing, drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.catalog import AggregationPeriod
from core.errors import DomainError, ErrorCode
from core.periods import BillingAnchor, Period, PeriodUnit
from core.rating import PriceSpec, price
from core.summaries import (
    BillingTerms,
    Contribution,
    SummaryKey,
    SummaryStatus,
    WindowPeak,
    aggregate,
    apply,
    close,
    closes_at,
    drift,
    is_closed,
    new_summary,
    peak_window,
)

D = Decimal
JAN = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = PriceSpec(D("0.75"), "USD")


def summary_of(period: Period = Period(JAN, datetime(2026, 2, 1, tzinfo=UTC)), delay: int = 3):
    key = SummaryKey("acme", "ACCOUNT:acme", "TEXTS", period.start)
    return new_summary(key, period, "EA", delay)


def test_a_summary_id_names_resource_period_and_owner_and_parses_back() -> None:
    # GIVEN a key WHEN its id is parsed back within the account THEN it is the same key
    key = SummaryKey("acme", "SUBSCRIPTION:s-1", "TEXTS", datetime(2026, 3, 15, tzinfo=UTC))
    assert key.id == "TEXTS/20260315T000000Z/SUBSCRIPTION:s-1"
    assert SummaryKey.parse("acme", key.id) == key


@pytest.mark.parametrize("bad", ["TEXTS", "TEXTS/notadate/X", "/20260101T000000Z/X"])
def test_an_id_that_is_not_a_summary_id_is_refused(bad: str) -> None:
    with pytest.raises(DomainError) as err:
        SummaryKey.parse("acme", bad)
    assert err.value.code == ErrorCode.INVALID_VALUE


def test_billing_periods_follow_the_subscriptions_term_and_billing_day() -> None:
    # GIVEN a subscription started Jan 20, billed on the 1st, quarterly
    terms = BillingTerms(BillingAnchor(datetime(2026, 1, 20, tzinfo=UTC), 1), 1, PeriodUnit.QUARTER)
    # THEN Jan 25 falls in the stub to Feb 1, and Mar 3 in the quarter Feb 1 – May 1
    assert terms.period(datetime(2026, 1, 25, tzinfo=UTC)) == Period(datetime(2026, 1, 20, tzinfo=UTC),
                                                                      datetime(2026, 2, 1, tzinfo=UTC))
    assert terms.period(datetime(2026, 3, 3, tzinfo=UTC)) == Period(datetime(2026, 2, 1, tzinfo=UTC),
                                                                     datetime(2026, 5, 1, tzinfo=UTC))


def test_a_period_closes_after_its_end_plus_the_rating_delay() -> None:
    # GIVEN January with the default 3-day delay
    period = Period(JAN, datetime(2026, 2, 1, tzinfo=UTC))
    end = closes_at(period, 3)
    # THEN it accepts usage until Feb 4 00:00 and is closed from then on
    assert end == datetime(2026, 2, 4, tzinfo=UTC)
    assert not is_closed(period, 3, end - timedelta(microseconds=1))
    assert is_closed(period, 3, end)
    summary = summary_of(period)
    assert summary.accepts_usage(end - timedelta(seconds=1)) and not summary.accepts_usage(end)


def test_closing_marks_complete_only_after_the_waiting_period() -> None:
    # GIVEN an OPEN January summary
    summary = summary_of()
    # WHEN closing before Feb 4 THEN refused; after THEN COMPLETE, frozen, and not closed twice
    with pytest.raises(DomainError):
        close(summary, datetime(2026, 2, 3, tzinfo=UTC))
    closed = close(summary, datetime(2026, 2, 4, tzinfo=UTC))
    assert (closed.status, closed.version) == (SummaryStatus.COMPLETE, summary.version + 1)
    with pytest.raises(DomainError):
        close(closed, datetime(2026, 2, 5, tzinfo=UTC))
    delta = aggregate([Contribution(closed.id, consumed=D(1), count=1)])[closed.id]
    with pytest.raises(DomainError) as err:
        apply(closed, delta)
    assert err.value.code == ErrorCode.PERIOD_CLOSED


def test_one_delta_per_summary_adds_up_a_batch() -> None:
    # GIVEN three contributions to one summary, two rated, one prerated
    sid = summary_of().id
    contributions = [
        Contribution(sid, consumed=D(300), debited=D(200), overage=D(100), amount=D(75), count=1,
                     rate_key="r1", spec=SPEC),
        Contribution(sid, consumed=D(50), overage=D(50), amount=D("37.50"), count=1, rate_key="r1", spec=SPEC),
        Contribution(sid, consumed=D(10), count=1, amount=D(7), prerated_amount=D(7), prerated_quantity=D(10)),
    ]
    # WHEN aggregated and applied
    delta = aggregate(contributions)[sid]
    summary = apply(summary_of(), delta)
    # THEN the totals are sums, the overage is kept per rate, and the amount is the price of the total
    assert (summary.consumed_quantity, summary.debited_quantity, summary.overage_quantity) == (360, 200, 150)
    assert (summary.usage_count, summary.prerated_quantity) == (3, 10)
    assert [(r.key, r.overage) for r in summary.rates] == [("r1", 150)]
    assert summary.amount == price(SPEC, D(150)) + 7 == D("119.50")
    assert summary.version == 1


def test_peak_windows_are_days_or_the_whole_period() -> None:
    period = Period(JAN, datetime(2026, 2, 1, tzinfo=UTC))
    at = datetime(2026, 1, 9, 17, 30, tzinfo=UTC)
    assert peak_window(period, AggregationPeriod.DAILY, at) == "20260109T000000Z"
    assert peak_window(period, AggregationPeriod.MONTHLY, at) == "20260101T000000Z"
    # AND a batch keeps each window's latest peak
    sid = summary_of().id
    delta = aggregate([Contribution(sid, consumed=D(5), peak=WindowPeak("w", D(5))),
                       Contribution(sid, consumed=D(2), peak=WindowPeak("w", D(7)))])[sid]
    assert delta.peaks == (WindowPeak("w", D(7)),) and delta.consumed == 7


def test_drift_names_every_field_that_differs() -> None:
    # GIVEN a stored summary and the one its records add up to, 1 text apart
    sid = summary_of().id
    expected = apply(summary_of(), aggregate([Contribution(sid, consumed=D(10), count=1)])[sid])
    stored = apply(summary_of(), aggregate([Contribution(sid, consumed=D(11), count=1)])[sid])
    # THEN drift reports consumed_quantity, and nothing for identical summaries
    assert [(d.field, d.stored, d.expected) for d in drift(stored, expected)] == [("consumed_quantity", 11, 10)]
    assert drift(expected, expected) == []
    assert [d.field for d in drift(None, expected)] == ["summary"]


# ---------------------------------------------------------------------------------------------- the invoicing loop
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)


def test_close_periods_as_of_is_the_given_moment_but_never_later_than_now() -> None:
    from core.summaries import close_as_of

    now = datetime(2026, 2, 10, tzinfo=UTC)
    # GIVEN no asOf, one in the past, one in the future THEN now, that moment, now (the rule is never bent)
    assert close_as_of(None, now) == now
    assert close_as_of(FEB_1, now) == FEB_1
    assert close_as_of(now + timedelta(days=30), now) == now


def test_a_summary_is_due_once_its_waiting_period_has_passed_and_only_while_open() -> None:
    from core.summaries import is_due

    summary = summary_of()
    assert not is_due(summary, datetime(2026, 2, 3, 23, tzinfo=UTC))
    assert is_due(summary, datetime(2026, 2, 4, tzinfo=UTC))
    assert not is_due(close(summary, datetime(2026, 2, 4, tzinfo=UTC)), datetime(2026, 3, 1, tzinfo=UTC))
    # AND a close by the rule as of Feb 4 that runs on Feb 10 was closed on Feb 10
    late = close(summary, datetime(2026, 2, 4, tzinfo=UTC), at=datetime(2026, 2, 10, tzinfo=UTC))
    assert late.closed_at == datetime(2026, 2, 10, tzinfo=UTC) and not late.closed_early


def test_invoice_now_closes_a_summary_once_its_period_has_ended_giving_up_its_waiting_period() -> None:
    from core.summaries import close_now

    summary = summary_of()
    # WHEN closed on Jan 31 (the period runs) THEN refused PERIOD_NOT_ENDED
    with pytest.raises(DomainError) as err:
        close_now(summary, datetime(2026, 1, 31, 23, tzinfo=UTC))
    assert err.value.code == ErrorCode.PERIOD_NOT_ENDED
    # WHEN closed on Feb 2 (ended; late usage would be accepted until Feb 4) THEN COMPLETE at once, closed early
    closed = close_now(summary, datetime(2026, 2, 2, tzinfo=UTC))
    assert (closed.status, closed.closed_at, closed.version) == (SummaryStatus.COMPLETE,
                                                                 datetime(2026, 2, 2, tzinfo=UTC), 1)
    assert closed.closed_early and closed.closes_at == summary.closes_at
    assert not closed.accepts_usage(datetime(2026, 2, 2, 1, tzinfo=UTC))
    # AND closing it again changes nothing; a summary closed by the schedule is not "early"
    assert close_now(closed, datetime(2026, 2, 3, tzinfo=UTC)) is closed
    assert not close(summary, datetime(2026, 2, 4, tzinfo=UTC)).closed_early


def test_only_a_complete_summary_is_invoiced_and_a_repeat_with_the_same_reference_changes_nothing() -> None:
    from core.summaries import mark_invoiced

    summary = summary_of()
    at = datetime(2026, 2, 5, tzinfo=UTC)
    # GIVEN an OPEN summary WHEN marked invoiced THEN refused STATUS_FORBIDS
    with pytest.raises(DomainError) as err:
        mark_invoiced(summary, "INV-1", at)
    assert err.value.code == ErrorCode.STATUS_FORBIDS
    # GIVEN it COMPLETE WHEN marked THEN INVOICED with the reference
    invoiced = mark_invoiced(close(summary, datetime(2026, 2, 4, tzinfo=UTC)), "INV-1", at)
    assert (invoiced.status, invoiced.invoice_reference, invoiced.invoiced_at) == (SummaryStatus.INVOICED, "INV-1", at)
    # AND the same reference again changes nothing, another one is a CONFLICT
    assert mark_invoiced(invoiced, "INV-1", at + timedelta(days=1)) is invoiced
    with pytest.raises(DomainError) as err:
        mark_invoiced(invoiced, "INV-2", at)
    assert err.value.code == ErrorCode.CONFLICT
    # AND it stays frozen: usage is not booked into it
    with pytest.raises(DomainError):
        apply(invoiced, aggregate([Contribution(invoiced.id, consumed=D(1), count=1)])[invoiced.id])


@pytest.mark.parametrize(("value", "code"), [("", ErrorCode.REQUIRED), ("   ", ErrorCode.REQUIRED),
                                             ("x" * 201, ErrorCode.INVALID_VALUE),
                                             ("INV\n1", ErrorCode.INVALID_VALUE)])
def test_an_invoice_reference_is_one_line_of_at_most_200_characters(value: str, code: str) -> None:
    from core.summaries import invoice_reference

    assert invoice_reference("  INV-2026-001 ") == "INV-2026-001"
    with pytest.raises(DomainError) as err:
        invoice_reference(value)
    assert (err.value.code, err.value.field) == (code, "invoiceReference")


def test_a_change_of_several_summaries_is_all_or_nothing_and_names_each_id_at_fault() -> None:
    from core.summaries import close_now, plan_changes

    january = summary_of()
    february = summary_of(Period(FEB_1, datetime(2026, 3, 1, tzinfo=UTC)))
    done = close(summary_of(Period(datetime(2025, 12, 1, tzinfo=UTC), JAN)), datetime(2026, 1, 5, tzinfo=UTC))
    feb_2 = datetime(2026, 2, 2, tzinfo=UTC)
    # GIVEN January (ended), February (running), an unknown id
    with pytest.raises(DomainError) as err:
        plan_changes([january, february, None], lambda s: close_now(s, feb_2), limit=50)
    # THEN every problem is named by its input path, and nothing is planned
    assert [(d.code, d.field) for d in err.value.all_details()] == [
        (ErrorCode.PERIOD_NOT_ENDED, "ids[1]"), (ErrorCode.NOT_FOUND, "ids[2]")]
    # WHEN only ended ones are named (January twice, December already COMPLETE) THEN January once, December left
    changed = plan_changes([january, january, done], lambda s: close_now(s, feb_2), limit=50)
    assert [(s.id, s.status) for s in changed] == [(january.id, SummaryStatus.COMPLETE)]
    # AND no ids, or more than the limit, are refused
    for requested, code in (([], ErrorCode.REQUIRED), ([january] * 3, ErrorCode.MAX_LIMIT_EXCEEDED)):
        with pytest.raises(DomainError) as err:
            plan_changes(requested, lambda s: close_now(s, feb_2), limit=2)
        assert (err.value.code, err.value.field) == (code, "ids")
