"""Subscription changes, pure (DOMAIN §2 "Subscription changes", §4 proration): amend, cancel and renew edit the
grant schedules; the wallet as of any time, and rating, see the change; consumed usage is never touched."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.errors import DomainError
from core.grants import BucketSource
from core.subscription_changes import amend, cancel, renew
from core.subscriptions import ChangeKind, Subscription, build_subscription, matching_subscriptions, wallets_of
from core.wallets import CreditCounter, balance_as_of, book, debits_by_bucket, plan_draw
from infra.codec import decode, encode
from tests.unit.test_subscriptions import offer, request

D = Decimal
NOW = datetime(2024, 12, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def texts_plan(**fields: object) -> Subscription:
    """4,000 texts a month (refreshed monthly), periods from the 20th: Jul 20 – Aug 19 is 31 days."""
    product = offer()
    pur = replace(product.purs[0], effective_from=utc(2024, 1, 1))
    grant = replace(product.grants[pur.id][0], effective_from=utc(2024, 1, 1))
    product = replace(product, purs=[pur], grants={pur.id: [grant]})
    return build_subscription(request(start_date=utc(2024, 7, 20), billing_day_of_month=20, **fields), product,
                              utc(2024, 7, 1))


def wallet(sub: Subscription):  # type: ignore[no-untyped-def]
    [ref] = wallets_of([sub]).values()
    return ref


def buckets(sub: Subscription, as_of: datetime, counters: dict[str, CreditCounter] | None = None
            ) -> dict[str, tuple[BucketSource, Decimal, Decimal]]:
    """bucket id (after the subscription's) → (source, granted, balance), for the buckets effective at ``as_of``."""
    state = balance_as_of(wallet(sub).grants, debits_by_bucket(counters or {}), as_of)
    return {b.id.split("/", 1)[1]: (b.source, b.granted, b.balance) for b in state.effective}


# --- amend ----------------------------------------------------------------------------------------------------


def test_an_amendment_adds_the_prorated_share_for_the_rest_of_the_period_domain_vector() -> None:
    # GIVEN 4,000 texts/month, period Jul 20 – Aug 19 (31 days) WHEN amended to 2 on Aug 3 (17 days left)
    sub = amend(texts_plan(), D(2), utc(2024, 8, 3), NOW)
    # THEN from Aug 3 an added bucket of floor(4,000 × 17 / 31) = 2,193 beside the period's 4,000
    aug = buckets(sub, utc(2024, 8, 5))
    assert aug == {"PLAN:P:G:GRANT:0": (BucketSource.GRANT, D(4000), D(4000)),
                   "PLAN:P:G:AMEND:0:0": (BucketSource.GRANT, D(2193), D(2193))}
    # AND before Aug 3 nothing changed; from the next period on the full 8,000
    assert set(buckets(sub, utc(2024, 8, 2))) == {"PLAN:P:G:GRANT:0"}
    assert buckets(sub, utc(2024, 8, 25)) == {"PLAN:P:G:REFRESH:1": (BucketSource.REFRESH, D(8000), D(8000))}
    # AND the history says so
    [change] = sub.changes
    assert (change.kind, change.effective_date, change.quantity_before, change.quantity_after, change.version) == (
        ChangeKind.AMENDED, utc(2024, 8, 3), D(1), D(2), 1)
    assert (sub.quantity, sub.version) == (D(2), 1)


def test_rating_draws_from_the_added_bucket() -> None:
    sub = amend(texts_plan(), D(2), utc(2024, 8, 3), NOW)
    plan = plan_draw(wallet(sub).grants, {}, D(6000), utc(2024, 8, 10))
    assert (plan.debited, plan.overage) == (D(6000), D(0))
    assert plan_draw(wallet(sub).grants, {}, D(7000), utc(2024, 8, 10)).overage == D(807)


def test_a_decrease_never_takes_back_what_was_consumed() -> None:
    # GIVEN 2 lines (8,000 texts) and 7,000 used by Aug 2
    sub = texts_plan(quantity=D(2))
    grants = wallet(sub).grants
    counters = book({}, plan_draw(grants, {}, D(7000), utc(2024, 8, 2)).changes)
    # WHEN cut to 1 line from Aug 3 (removes 4,000 × 17 / 31 rounded up: 2,194, but only 1,000 were left)
    cut = amend(sub, D(1), utc(2024, 8, 3), NOW)
    # THEN the bucket keeps what was consumed: 1,000 removed, balance 0 — never negative; usage after is overage
    [(_source, granted, balance)] = buckets(cut, utc(2024, 8, 5), counters).values()
    assert (granted, balance) == (D(8000), D(0))
    assert plan_draw(wallet(cut).grants, counters, D(10), utc(2024, 8, 5)).overage == D(10)
    # AND with only 5,000 used, 2,194 are removed and 806 are left; September grants 4,000
    light = book({}, plan_draw(grants, {}, D(5000), utc(2024, 8, 2)).changes)
    assert list(buckets(cut, utc(2024, 8, 5), light).values()) == [(BucketSource.GRANT, D(8000), D(806))]
    assert list(buckets(cut, utc(2024, 9, 1), light).values()) == [(BucketSource.REFRESH, D(4000), D(4000))]


def test_an_amendment_is_refused_outside_the_term_for_a_non_positive_quantity_or_out_of_order() -> None:
    sub = texts_plan(end_date=utc(2024, 12, 20))
    for quantity, at, code, field in ((D(0), utc(2024, 8, 3), "INVALID_VALUE", "quantity"),
                                      (D(-1), utc(2024, 8, 3), "NEGATIVE_QUANTITY", "quantity"),
                                      (D("1.0000001"), utc(2024, 8, 3), "TOO_MANY_DECIMALS", "quantity"),
                                      (D(2), utc(2024, 7, 19), "INVALID_RANGE", "effectiveDate"),
                                      (D(2), utc(2024, 12, 20), "INVALID_RANGE", "effectiveDate")):
        with pytest.raises(DomainError) as caught:
            amend(sub, quantity, at, NOW)
        assert [(d.code, d.field) for d in caught.value.all_details()] == [(code, field)]
    later = amend(sub, D(2), utc(2024, 9, 1), NOW)
    with pytest.raises(DomainError) as caught:
        amend(later, D(3), utc(2024, 8, 25), NOW)
    assert caught.value.field == "effectiveDate"
    # the same quantity again changes nothing
    assert amend(later, D(2), utc(2024, 10, 1), NOW) is later


# --- cancel ---------------------------------------------------------------------------------------------------


def test_a_cancellation_ends_the_buckets_and_the_matching_then() -> None:
    sub = cancel(texts_plan(), utc(2024, 8, 10), NOW)
    # THEN the bucket ends Aug 10 (what is left expires), nothing is granted after, and usage then matches nothing
    state = balance_as_of(wallet(sub).grants, {}, utc(2024, 9, 1))
    assert [(b.id.split("/")[1], b.effective_to, b.expired) for b in state.buckets] == [
        ("PLAN:P:G:GRANT:0", utc(2024, 8, 10), D(4000))]
    assert matching_subscriptions([sub], "TEXTS", utc(2024, 8, 9)) == [sub]
    assert matching_subscriptions([sub], "TEXTS", utc(2024, 8, 10)) == []
    [change] = sub.changes
    assert (change.kind, change.end_date_before, change.end_date_after) == (ChangeKind.CANCELLED, None,
                                                                             utc(2024, 8, 10))


def test_a_cancellation_before_the_start_or_after_the_end_is_refused() -> None:
    sub = texts_plan(end_date=utc(2024, 12, 20))
    for end in (utc(2024, 7, 20), utc(2024, 7, 1), utc(2025, 1, 1)):
        with pytest.raises(DomainError) as caught:
            cancel(sub, end, NOW)
        assert (caught.value.code, caught.value.field) == ("INVALID_RANGE", "endDate")


# --- renew ----------------------------------------------------------------------------------------------------


def test_a_renewal_extends_refreshing_grants_and_grants_one_time_grants_afresh() -> None:
    # GIVEN a one-year term ending Jul 20, 2025, renewed by one term of 12 months
    sub = texts_plan(end_date=utc(2025, 7, 20), billing_term=12)
    renewed = renew(sub, NOW, terms=1)
    assert renewed.end_date == utc(2026, 7, 20)
    # THEN the monthly grant keeps refreshing after the old end
    assert buckets(sub, utc(2025, 8, 1)) == {}
    assert list(buckets(renewed, utc(2025, 8, 1)).values()) == [(BucketSource.REFRESH, D(4000), D(4000))]
    # GIVEN a one-time grant (no refresh) valid a year WHEN renewed THEN a fresh credit from the old end
    one_time = replace(offer(), policies={})
    pur = replace(one_time.purs[0], effective_from=utc(2024, 1, 1))
    grant = replace(one_time.grants[pur.id][0], effective_from=utc(2024, 1, 1), refresh_policy_id=None,
                    validity_unit="YEAR")
    yearly = build_subscription(request(start_date=utc(2024, 7, 20), end_date=utc(2025, 7, 20)),
                                replace(one_time, purs=[pur], grants={pur.id: [grant]}), utc(2024, 7, 1))
    again = renew(yearly, NOW, end_date=utc(2026, 7, 20))
    assert list(buckets(again, utc(2025, 8, 1)).values()) == [(BucketSource.GRANT, D(4000), D(4000))]
    assert [k for k in buckets(again, utc(2025, 8, 1))] == ["PLAN:P:G~R1:GRANT:0"]
    assert again.changes[-1].kind == ChangeKind.RENEWED


def test_a_renewal_needs_an_end_date_and_a_later_one() -> None:
    with pytest.raises(DomainError) as caught:
        renew(texts_plan(), NOW, terms=1)
    assert (caught.value.code, caught.value.field) == ("INVALID_VALUE", "externalId")
    ending = texts_plan(end_date=utc(2025, 7, 20))
    for kwargs, field in (({"end_date": utc(2025, 7, 20)}, "endDate"), ({"terms": 0}, "terms"), ({}, "endDate")):
        with pytest.raises(DomainError) as caught:
            renew(ending, NOW, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field


def test_a_changed_subscription_reads_back_exactly_as_stored() -> None:
    sub = renew(amend(texts_plan(end_date=utc(2025, 7, 20)), D(3), utc(2024, 8, 3), NOW), NOW, terms=2)
    sub = cancel(sub, utc(2025, 8, 1), NOW)
    assert decode(Subscription, encode(sub)) == sub
    assert [c.kind for c in sub.changes] == [ChangeKind.AMENDED, ChangeKind.RENEWED, ChangeKind.CANCELLED]
    assert sub.version == 3


def test_a_subscription_stored_before_unit_quantities_were_kept_amends_exactly() -> None:
    # GIVEN 3 lines of 4,000 texts stored without the grant's unit quantity
    sub = texts_plan(quantity=D(3))
    legacy = replace(sub, resources=tuple(replace(r, grants=tuple(replace(g, unit_quantity=None) for g in r.grants))
                                          for r in sub.resources))
    # WHEN amended to 6 from the next period THEN 24,000 a month, not 23,999.999999
    amended = amend(legacy, D(6), utc(2024, 8, 20), NOW)
    assert list(buckets(amended, utc(2024, 8, 25)).values()) == [(BucketSource.REFRESH, D(24000), D(24000))]
    assert amend(legacy, D(1), utc(2024, 8, 20), NOW).resources[0].grants[0].schedule.changes[0].quantity == D(4000)
