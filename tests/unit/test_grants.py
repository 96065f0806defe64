"""Grant lifecycle: proration, refresh, rollover with and without a limit, expiry, hard ends, ids and invariants."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.drawdown import DrawdownOrder, draw_down
from core.errors import DomainError
from core.grants import (
    BucketSource,
    EndAction,
    GrantSchedule,
    GrantSource,
    LedgerType,
    QuantityChange,
    Refresh,
    Settlement,
    ValidityUnit,
    bucket_plan,
    settle,
)
from core.periods import BillingAnchor, PeriodUnit

D = Decimal
MONTHLY = Refresh(1, PeriodUnit.MONTH)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def texts(**overrides) -> GrantSchedule:
    """4,000 texts a month on a subscription billed on the 20th since Jul 20, 2024."""
    fields = dict(
        grant_id="sub1:texts",
        quantity=D(4000),
        effective_from=utc(2024, 7, 20),
        billing=BillingAnchor(utc(2024, 7, 20), 20),
        refresh=MONTHLY,
    )
    fields.update(overrides)
    return GrantSchedule(**fields)


def states(settlement: Settlement) -> dict[str, tuple[Decimal, Decimal]]:
    """bucket id → (granted, balance)."""
    return {b.id: (b.granted, b.balance) for b in settlement.buckets}


def simulate(schedule: GrantSchedule, usage: list[tuple[datetime, Decimal]], order=DrawdownOrder.EXPIRING_FIRST):
    """Draw each usage from the grant's buckets as of its time; return the debits and the total overage."""
    usage = sorted(usage, key=lambda u: u[0])
    until = max([t for t, _ in usage], default=schedule.start)
    plan = bucket_plan(schedule, until)
    debits: dict[str, Decimal] = {}
    overage = D(0)
    for at, quantity in usage:
        drawable = [b.as_bucket() for b in settle(plan, debits, at).buckets]
        result = draw_down(drawable, quantity, at, order)
        for debit in result.debits:
            debits[debit.bucket_id] = debits.get(debit.bucket_id, D(0)) + debit.quantity
        overage += result.overage
    return debits, overage


# --- proration -----------------------------------------------------------------------------------------------


def test_a_grant_added_mid_period_is_prorated_by_remaining_days():
    # GIVEN 4,000 texts/month, period Jul 20 – Aug 19 (31 days) WHEN the grant is added Aug 3 (17 days left)
    plan = bucket_plan(texts(effective_from=utc(2024, 8, 3)), utc(2024, 8, 3))
    # THEN the first bucket holds floor(4,000 × 17 / 31) = 2,193 texts until the period ends
    assert len(plan) == 1
    first = plan[0]
    assert (first.id, first.source, first.quantity) == ("sub1:texts:GRANT:0", BucketSource.GRANT, D(2193))
    assert (first.effective_from, first.effective_to) == (utc(2024, 8, 3), utc(2024, 8, 20))


def test_a_grant_starting_on_the_period_start_is_not_prorated():
    # GIVEN the grant starts with the subscription on the billing day WHEN planned THEN the full 4,000
    assert bucket_plan(texts(), utc(2024, 7, 20))[0].quantity == D(4000)


def test_a_stub_period_is_prorated_against_a_full_period():
    # GIVEN a subscription from Jul 15 billed on the 1st WHEN its grant starts with it
    plan = bucket_plan(
        texts(effective_from=utc(2024, 1, 1), billing=BillingAnchor(utc(2024, 7, 15), 1)), utc(2024, 8, 1)
    )
    # THEN the stub Jul 15 – Jul 31 gets 17/31 of the month, and the first full month all of it
    assert [(b.quantity, b.effective_from, b.effective_to) for b in plan] == [
        (D(2193), utc(2024, 7, 15), utc(2024, 8, 1)),
        (D(4000), utc(2024, 8, 1), utc(2024, 9, 1)),
    ]


def test_proration_floors_to_the_unit_scale():
    # GIVEN 10 GB a month kept to 2 places WHEN added Aug 3 THEN floor(10 × 17 / 31, 2) = 5.48
    plan = bucket_plan(texts(quantity=D(10), unit_scale=2, effective_from=utc(2024, 8, 3)), utc(2024, 8, 3))
    assert plan[0].quantity == D("5.48")


def test_a_one_time_grant_is_not_prorated_and_runs_a_term_from_its_start():
    # GIVEN a grant without refresh, valid one month, starting mid-period at 10:00
    plan = bucket_plan(texts(refresh=None, effective_from=utc(2024, 8, 3, 10)), utc(2025, 1, 1))
    # THEN one full bucket from Aug 3 10:00 to Sep 3 10:00
    assert [(b.quantity, b.effective_from, b.effective_to) for b in plan] == [
        (D(4000), utc(2024, 8, 3, 10), utc(2024, 9, 3, 10))
    ]


# --- refresh and expiry --------------------------------------------------------------------------------------


def test_refresh_recredits_every_period_and_unused_balance_expires():
    # GIVEN 4,000 texts/month without rollover and 1,000 texts used in each of the first two months
    schedule = texts()
    debits, overage = simulate(schedule, [(utc(2024, 7, 25), D(1000)), (utc(2024, 8, 25), D(1000))])
    # WHEN settled on Oct 1
    result = settle(bucket_plan(schedule, utc(2024, 10, 1)), debits, utc(2024, 10, 1))
    # THEN each month had its own bucket, the past ones expired what was left and the current one is full
    assert overage == 0
    assert states(result) == {
        "sub1:texts:GRANT:0": (D(4000), D(0)),
        "sub1:texts:REFRESH:1": (D(4000), D(0)),
        "sub1:texts:REFRESH:2": (D(4000), D(4000)),
    }
    expiries = [(e.bucket_id, e.quantity, e.at) for e in result.events if e.type == LedgerType.EXPIRY]
    assert expiries == [
        ("sub1:texts:GRANT:0", D(-3000), utc(2024, 8, 20)),
        ("sub1:texts:REFRESH:1", D(-3000), utc(2024, 9, 20)),
    ]
    assert [e.type for e in result.events if e.quantity > 0] == [
        LedgerType.GRANT,
        LedgerType.REFRESH,
        LedgerType.REFRESH,
    ]


def test_balances_are_right_as_of_any_time_without_a_job():
    # GIVEN a plan and no usage WHEN settled one second before and at a period boundary
    plan = bucket_plan(texts(), utc(2024, 9, 1))
    before, at = settle(plan, {}, utc(2024, 8, 19, 23)), settle(plan, {}, utc(2024, 8, 20))
    # THEN before the boundary only the first bucket is live; at it the refresh has replaced it
    assert [b.id for b in before.effective(utc(2024, 8, 19, 23))] == ["sub1:texts:GRANT:0"]
    assert [b.id for b in at.effective(utc(2024, 8, 20))] == ["sub1:texts:REFRESH:1"]


def test_longer_validity_lets_refreshes_stack():
    # GIVEN 100 a month, each valid a year WHEN settled after three refreshes THEN 400 is available
    schedule = texts(quantity=D(100), validity_unit=ValidityUnit.YEAR)
    result = settle(bucket_plan(schedule, utc(2024, 10, 20)), {}, utc(2024, 10, 20))
    assert sum(b.balance for b in result.effective(utc(2024, 10, 20))) == D(400)
    assert result.buckets[0].effective_to == utc(2025, 7, 20)


def test_validity_shorter_than_the_refresh_period_ends_on_the_next_validity_boundary():
    # GIVEN 3,000 a quarter valid one month, quarters from Jul 20, added on Sep 25 (in the quarter's third month)
    schedule = texts(quantity=D(3000), refresh=Refresh(1, PeriodUnit.QUARTER), effective_from=utc(2024, 9, 25))
    first = bucket_plan(schedule, utc(2024, 9, 25))[0]
    # THEN it is prorated over the quarter (25 of 92 days) and valid until the month boundary Oct 20
    assert first.quantity == D(3000 * 25 // 92)
    assert (first.effective_from, first.effective_to) == (utc(2024, 9, 25), utc(2024, 10, 20))


def test_never_expiring_grant_keeps_its_balance():
    # GIVEN a one-time grant with no validity limit WHEN settled years later THEN it is still all there
    schedule = texts(refresh=None, validity_unit=ValidityUnit.NONE)
    result = settle(bucket_plan(schedule, utc(2030, 1, 1)), {"sub1:texts:GRANT:0": D(5)}, utc(2030, 1, 1))
    assert states(result) == {"sub1:texts:GRANT:0": (D(4000), D(3995))}
    assert result.buckets[0].effective_to is None


# --- rollover ------------------------------------------------------------------------------------------------


def test_unused_balance_rolls_into_the_next_period_without_limit():
    # GIVEN rollover without expiry and 1,000 texts used in the first month only
    schedule = texts(rollover_allowed=True)
    debits, _ = simulate(schedule, [(utc(2024, 7, 25), D(1000))])
    # WHEN settled on Sep 25
    result = settle(bucket_plan(schedule, utc(2024, 9, 25)), debits, utc(2024, 9, 25))
    # THEN July's 3,000 rolled into August and again into September; August's 4,000 rolled into September
    live = {b.id: (b.balance, b.completed_rollovers, b.rolls_from) for b in result.effective(utc(2024, 9, 25))}
    assert live == {
        "sub1:texts:ROLLOVER:0:2": (D(3000), 2, "sub1:texts:ROLLOVER:0:1"),
        "sub1:texts:ROLLOVER:1:1": (D(4000), 1, "sub1:texts:REFRESH:1"),
        "sub1:texts:REFRESH:2": (D(4000), 0, None),
    }
    assert not [e for e in result.events if e.type == LedgerType.EXPIRY]


def test_rolled_over_balance_expires_after_the_maximum_count():
    # GIVEN rollover that expires after 1 rollover and 4,000 unused in July
    schedule = texts(rollover_allowed=True, rollover_can_expire=True, maximum_rollover_count=1)
    plan = bucket_plan(schedule, utc(2024, 10, 1))
    # WHEN settled on Oct 1 with 500 of the rolled-over July balance used in August
    result = settle(plan, {"sub1:texts:ROLLOVER:0:1": D(500)}, utc(2024, 10, 1))
    # THEN July's balance rolled once, and what was left of it (3,500) expired on Sep 20 instead of rolling again
    by_id = {b.id: b for b in result.buckets}
    assert (by_id["sub1:texts:ROLLOVER:0:1"].granted, by_id["sub1:texts:ROLLOVER:0:1"].expired) == (D(4000), D(3500))
    assert "sub1:texts:ROLLOVER:0:2" not in {b.id for b in plan}
    assert by_id["sub1:texts:ROLLOVER:1:1"].balance == D(4000)
    assert [p.on_end for p in plan if p.id.startswith("sub1:texts:ROLLOVER:")] == [EndAction.EXPIRY] * 2


def test_a_rollover_quantity_cap_carries_at_most_the_cap_and_expires_the_rest():
    # GIVEN rollover without expiry capped at 1,000 texts, and 4,000 texts unused in July
    schedule = texts(rollover_allowed=True, maximum_rollover_quantity=D(1000))
    # WHEN settled on Aug 25 with 200 of July's rolled-over texts used
    result = settle(bucket_plan(schedule, utc(2024, 8, 25)), {"sub1:texts:ROLLOVER:0:1": D(200)}, utc(2024, 8, 25))
    # THEN 1,000 rolled over on Aug 20, the other 3,000 expired then, each with its ledger event
    by_id = {b.id: b for b in result.buckets}
    july = by_id["sub1:texts:GRANT:0"]
    assert (july.granted, july.rolled_out, july.expired, july.balance) == (D(4000), D(1000), D(3000), D(0))
    assert (by_id["sub1:texts:ROLLOVER:0:1"].granted, by_id["sub1:texts:ROLLOVER:0:1"].balance) == (D(1000), D(800))
    july_events = [(e.type, e.quantity, e.at) for e in result.events if e.bucket_id == "sub1:texts:GRANT:0"]
    assert july_events == [(LedgerType.GRANT, D(4000), utc(2024, 7, 20)),
                           (LedgerType.ROLLOVER, D(-1000), utc(2024, 8, 20)),
                           (LedgerType.EXPIRY, D(-3000), utc(2024, 8, 20))]


def test_a_balance_under_the_cap_rolls_over_whole():
    # GIVEN a cap of 1,000 and 3,500 of July's 4,000 texts used WHEN settled in August THEN all 500 left roll over
    schedule = texts(rollover_allowed=True, maximum_rollover_quantity=D(1000))
    result = settle(bucket_plan(schedule, utc(2024, 8, 25)), {"sub1:texts:GRANT:0": D(3500)}, utc(2024, 8, 25))
    by_id = {b.id: b for b in result.buckets}
    assert (by_id["sub1:texts:GRANT:0"].rolled_out, by_id["sub1:texts:GRANT:0"].expired) == (D(500), D(0))
    assert not [e for e in result.events if e.type == LedgerType.EXPIRY]


def test_count_and_quantity_limits_apply_together():
    # GIVEN rollover capped at 1,000 that expires after 1 rollover, nothing used
    schedule = texts(rollover_allowed=True, rollover_can_expire=True, maximum_rollover_count=1,
                     maximum_rollover_quantity=D(1000))
    result = settle(bucket_plan(schedule, utc(2024, 10, 1)), {}, utc(2024, 10, 1))
    by_id = {b.id: b for b in result.buckets}
    # THEN July's 4,000: 1,000 roll into August (3,000 expire on Aug 20), and those 1,000 expire on Sep 20
    assert (by_id["sub1:texts:GRANT:0"].rolled_out, by_id["sub1:texts:GRANT:0"].expired) == (D(1000), D(3000))
    rolled = by_id["sub1:texts:ROLLOVER:0:1"]
    assert (rolled.granted, rolled.expired, rolled.rolled_out) == (D(1000), D(1000), D(0))
    assert "sub1:texts:ROLLOVER:0:2" not in by_id


def test_a_zero_cap_rolls_nothing_over():
    # GIVEN a cap of 0 WHEN July's 4,000 are unused THEN they all expire and the empty rollover is left out
    schedule = texts(rollover_allowed=True, maximum_rollover_quantity=D(0))
    result = settle(bucket_plan(schedule, utc(2024, 8, 25)), {}, utc(2024, 8, 25))
    by_id = {b.id: b for b in result.buckets}
    assert by_id["sub1:texts:GRANT:0"].expired == D(4000)
    assert "sub1:texts:ROLLOVER:0:1" not in by_id


def test_a_negative_rollover_cap_is_refused():
    with pytest.raises(DomainError) as caught:
        texts(rollover_allowed=True, maximum_rollover_quantity=D(-1))
    assert caught.value.field == "maximumRolloverQuantity"


def test_a_maximum_of_zero_rollovers_means_expiry():
    # GIVEN rollover that can expire with a maximum of 0 WHEN planned THEN nothing ever rolls
    plan = bucket_plan(
        texts(rollover_allowed=True, rollover_can_expire=True, maximum_rollover_count=0), utc(2025, 1, 1)
    )
    assert {p.source for p in plan} == {BucketSource.GRANT, BucketSource.REFRESH}


def test_an_expiring_rollover_needs_a_maximum_count():
    # GIVEN rollover that can expire but no maximum WHEN the schedule is built THEN INVALID_VALUE
    with pytest.raises(DomainError):
        texts(rollover_allowed=True, rollover_can_expire=True)


def test_an_empty_bucket_does_not_roll_over():
    # GIVEN July's 4,000 all used WHEN settled in August THEN there is no rollover bucket and no event for it
    schedule = texts(rollover_allowed=True)
    result = settle(bucket_plan(schedule, utc(2024, 8, 25)), {"sub1:texts:GRANT:0": D(4000)}, utc(2024, 8, 25))
    assert [b.id for b in result.buckets] == ["sub1:texts:GRANT:0", "sub1:texts:REFRESH:1"]


def test_rolled_over_balance_is_drawn_before_the_fresh_one_on_a_tie():
    # GIVEN July's 4,000 rolled into August beside August's refresh, both ending Sep 20
    schedule = texts(rollover_allowed=True, rollover_can_expire=True, maximum_rollover_count=1)
    # WHEN 1,000 are used in August
    debits, _ = simulate(schedule, [(utc(2024, 8, 25), D(1000))])
    # THEN the older, rolled-over quantity pays
    assert debits == {"sub1:texts:ROLLOVER:0:1": D(1000)}


# --- hard ends -----------------------------------------------------------------------------------------------


def test_the_subscription_end_forfeits_what_is_left():
    # GIVEN a subscription ending Sep 5 with rollover on and 1,000 used in August
    schedule = texts(rollover_allowed=True, subscription_end=utc(2024, 9, 5))
    debits, _ = simulate(schedule, [(utc(2024, 8, 25), D(1000))])
    # WHEN settled long after the end
    plan = bucket_plan(schedule, utc(2025, 1, 1))
    result = settle(plan, debits, utc(2025, 1, 1))
    # THEN no refresh after the end, the live buckets stop at the end and expire there, nothing rolls past it
    assert max(p.effective_from for p in plan) < utc(2024, 9, 5)
    assert all(b.balance == 0 for b in result.buckets)
    expired_at_end = {e.bucket_id: e.quantity for e in result.events if e.at == utc(2024, 9, 5)}
    assert expired_at_end == {"sub1:texts:ROLLOVER:0:1": D(-3000), "sub1:texts:REFRESH:1": D(-4000)}
    assert {e.type for e in result.events if e.at == utc(2024, 9, 5)} == {LedgerType.EXPIRY}


def test_pack_buckets_end_with_the_pack():
    # GIVEN a 2,000-text pack that never expires on its own, bought Aug 3 and ending Aug 10
    schedule = texts(
        grant_id="sub1:pack",
        quantity=D(2000),
        source=GrantSource.PACK,
        refresh=None,
        validity_unit=ValidityUnit.NONE,
        effective_from=utc(2024, 8, 3),
        product_end=utc(2024, 8, 10),
    )
    plan = bucket_plan(schedule, utc(2024, 9, 1))
    # WHEN settled after the pack ended with 500 used
    result = settle(plan, {"sub1:pack:PACK:0": D(500)}, utc(2024, 9, 1))
    # THEN one full, unprorated PACK bucket ended with the pack and forfeited 1,500
    assert [(p.id, p.source, p.quantity, p.effective_to) for p in plan] == [
        ("sub1:pack:PACK:0", BucketSource.PACK, D(2000), utc(2024, 8, 10))
    ]
    assert (result.buckets[0].expired, result.events[-1].type) == (D(1500), LedgerType.EXPIRY)


def test_the_grant_end_stops_refreshes_but_not_the_current_bucket():
    # GIVEN a grant ending Sep 1 WHEN planned THEN no refresh after Sep 1, and August's bucket still runs to Sep 20
    plan = bucket_plan(texts(effective_to=utc(2024, 9, 1)), utc(2025, 1, 1))
    assert [(p.id, p.effective_to) for p in plan] == [
        ("sub1:texts:GRANT:0", utc(2024, 8, 20)),
        ("sub1:texts:REFRESH:1", utc(2024, 9, 20)),
    ]


# --- ids, plans and refusals ---------------------------------------------------------------------------------


def test_a_grant_never_starts_before_its_subscription():
    # GIVEN a grant effective since January on a subscription from Jul 20 WHEN planned THEN it starts Jul 20
    plan = bucket_plan(texts(effective_from=utc(2024, 1, 1)), utc(2024, 7, 31))
    assert [(p.quantity, p.effective_from) for p in plan] == [(D(4000), utc(2024, 7, 20))]


def test_settling_past_the_end_of_the_plan_is_refused():
    # GIVEN a plan that stops in July for a grant that rolls over WHEN settled in September THEN INVALID_RANGE
    plan = bucket_plan(texts(rollover_allowed=True), utc(2024, 7, 31))
    with pytest.raises(DomainError) as err:
        settle(plan, {}, utc(2024, 9, 1))
    assert err.value.code == "INVALID_RANGE"


@pytest.mark.parametrize(
    "debits",
    [{"sub1:texts:GRANT:0": D(4001)}, {"sub1:texts:GRANT:0": D(-1)}, {"sub1:texts:REFRESH:1": D(1)}],
)
def test_debits_that_cannot_have_happened_are_refused(debits):
    # GIVEN more than granted, a negative debit, or a debit of a bucket not yet started WHEN settled THEN CONFLICT
    with pytest.raises(DomainError) as err:
        settle(bucket_plan(texts(), utc(2024, 9, 1)), debits, utc(2024, 8, 1))
    assert err.value.code == "CONFLICT"


def test_debits_of_other_grants_buckets_are_ignored():
    # GIVEN a wallet-wide debit map WHEN one grant is settled THEN other grants' buckets do not matter
    result = settle(bucket_plan(texts(), utc(2024, 8, 1)), {"other:GRANT:0": D(9)}, utc(2024, 8, 1))
    assert states(result) == {"sub1:texts:GRANT:0": (D(4000), D(4000))}


# --- quantity changes (subscription amendments) ----------------------------------------------------------------


def test_an_increase_mid_period_adds_the_prorated_share_then_full_shares_domain_4_vector() -> None:
    # GIVEN 4,000 texts a month, periods from the 20th (Jul 20 – Aug 19: 31 days), the quantity doubled on Aug 3
    schedule = texts(changes=(QuantityChange(utc(2024, 8, 3), D(8000)),))
    plan = bucket_plan(schedule, utc(2024, 9, 25))
    # THEN Aug 3 adds an AMEND bucket of floor(4,000 × 17 / 31) = 2,193 until the period ends; then 8,000 a month
    assert [(b.id, b.quantity, b.effective_from, b.effective_to) for b in plan if b.quantity is not None] == [
        ("sub1:texts:GRANT:0", D(4000), utc(2024, 7, 20), utc(2024, 8, 20)),
        ("sub1:texts:AMEND:0:0", D(2193), utc(2024, 8, 3), utc(2024, 8, 20)),
        ("sub1:texts:REFRESH:1", D(8000), utc(2024, 8, 20), utc(2024, 9, 20)),
        ("sub1:texts:REFRESH:2", D(8000), utc(2024, 9, 20), utc(2024, 10, 20)),
    ]
    # AND before Aug 3 nothing changed (balances as of any time)
    before = settle(plan, {}, utc(2024, 8, 2))
    assert sum(b.balance for b in before.effective(utc(2024, 8, 2))) == D(4000)


def test_the_added_share_rolls_over_on_its_own_chain() -> None:
    schedule = texts(rollover_allowed=True, changes=(QuantityChange(utc(2024, 8, 3), D(8000)),))
    result = settle(bucket_plan(schedule, utc(2024, 8, 25)), {}, utc(2024, 8, 25))
    live = {b.id: b.balance for b in result.effective(utc(2024, 8, 25))}
    assert live == {"sub1:texts:ROLLOVER:0:1": D(4000), "sub1:texts:ROLLOVER:0A0:1": D(2193),
                    "sub1:texts:REFRESH:1": D(8000)}


def test_a_decrease_removes_the_prorated_share_but_never_what_was_consumed() -> None:
    # GIVEN 8,000 texts a month halved on Aug 3 (the removed share: 4,000 × 17 / 31 = 2,193.5, rounded up: 2,194)
    schedule = texts(quantity=D(8000), changes=(QuantityChange(utc(2024, 8, 3), D(4000)),))
    plan = bucket_plan(schedule, utc(2024, 8, 25))
    # WHEN 5,000 were used before Aug 3 THEN 2,194 expire on Aug 3 and 806 are left
    light = settle(plan, {"sub1:texts:GRANT:0": D(5000)}, utc(2024, 8, 10))
    [bucket] = light.effective(utc(2024, 8, 10))
    assert (bucket.granted, bucket.debited, bucket.expired, bucket.reduced, bucket.balance) == (
        D(8000), D(5000), D(2194), D(2194), D(806))
    assert [(e.type, e.quantity, e.at) for e in light.events if e.type == LedgerType.EXPIRY] == [
        (LedgerType.EXPIRY, D(-2194), utc(2024, 8, 3))]
    # WHEN 7,000 were used THEN only the 1,000 not consumed are removed: the balance is 0, never negative
    heavy = settle(plan, {"sub1:texts:GRANT:0": D(7000)}, utc(2024, 8, 10))
    [bucket] = heavy.effective(utc(2024, 8, 10))
    assert (bucket.reduced, bucket.balance) == (D(1000), D(0))
    # AND the next period grants the new quantity in full
    assert next(b for b in plan if b.id == "sub1:texts:REFRESH:1").quantity == D(4000)
    # AND before Aug 3 the whole 8,000 was there
    assert settle(plan, {}, utc(2024, 8, 2)).buckets[0].balance == D(8000)


def test_a_decrease_after_an_increase_in_the_same_period_takes_from_the_newest_credit_first() -> None:
    # GIVEN 4,000 a month, 2 lines from Aug 3 and back to 1 line from Aug 10
    schedule = texts(changes=(QuantityChange(utc(2024, 8, 3), D(8000)), QuantityChange(utc(2024, 8, 10), D(4000))))
    result = settle(bucket_plan(schedule, utc(2024, 8, 15)), {}, utc(2024, 8, 15))
    by_id = {b.id: b for b in result.buckets}
    # THEN the AMEND bucket (2,193) loses 4,000 × 10 / 31 = 1,290.3 rounded up (1,291): the second line kept 7 days
    assert (by_id["sub1:texts:AMEND:0:0"].granted, by_id["sub1:texts:AMEND:0:0"].balance) == (D(2193), D(902))
    assert by_id["sub1:texts:GRANT:0"].balance == D(4000)


def test_late_usage_cannot_spend_a_removed_share_its_rollover_relies_on() -> None:
    from core.wallets import CreditCounter, WalletGrant, drawable

    # GIVEN 100 a month rolling over, cut to 50 on Jan 16 (removes 50 × 16 / 31 rounded up = 26), 74 rolled into Feb
    schedule = GrantSchedule(grant_id="g", quantity=D(100), effective_from=utc(2026, 1, 1),
                             billing=BillingAnchor(utc(2026, 1, 1), 1), refresh=MONTHLY, rollover_allowed=True,
                             changes=(QuantityChange(utc(2026, 1, 16), D(50)),))
    grant = WalletGrant(schedule, DrawdownOrder.EXPIRING_FIRST, "s", "g", utc(2026, 1, 1))
    counters = {"g:GRANT:0": CreditCounter("g:GRANT:0", D(100), {"g:ROLLOVER:0:1": D(74)})}
    # WHEN late January usage asks for January's bucket after Jan 16
    [jan] = [d for d in drawable([grant], counters, utc(2026, 1, 20)) if d.bucket.id == "g:GRANT:0"]
    # THEN nothing is left to draw: the 74 the rollover spent are all that was not removed
    assert jan.bucket.balance == D(0)



START = utc(2024, 1, 1)


@st.composite
def schedules(draw, rollover=st.booleans()) -> GrantSchedule:
    sub_start = START + timedelta(days=draw(st.integers(0, 60)))
    can_expire = draw(st.booleans())
    return GrantSchedule(
        grant_id="g",
        quantity=D(draw(st.integers(0, 5000))),
        effective_from=sub_start + timedelta(days=draw(st.integers(-30, 90)), hours=draw(st.integers(0, 23))),
        billing=BillingAnchor(sub_start, draw(st.none() | st.integers(1, 31))),
        validity_term=draw(st.integers(1, 2)),
        validity_unit=draw(st.sampled_from(ValidityUnit)),
        effective_to=draw(st.none() | st.just(sub_start + timedelta(days=draw(st.integers(30, 400))))),
        refresh=draw(st.none() | st.builds(Refresh, st.integers(1, 2), st.sampled_from(PeriodUnit))),
        rollover_allowed=draw(rollover),
        rollover_can_expire=can_expire,
        maximum_rollover_count=draw(st.integers(0, 3)) if can_expire else None,
        maximum_rollover_quantity=draw(st.none() | st.integers(0, 3000).map(D)),
        changes=tuple(sorted((QuantityChange(sub_start + timedelta(days=d, hours=h), D(q)) for d, h, q in draw(
            st.lists(st.tuples(st.integers(0, 400), st.integers(0, 23), st.integers(0, 6000)), max_size=3))),
            key=lambda c: c.at)),
        source=draw(st.sampled_from(GrantSource)),
        subscription_end=draw(st.none() | st.just(sub_start + timedelta(days=draw(st.integers(1, 500))))),
        product_end=draw(st.none() | st.just(sub_start + timedelta(days=draw(st.integers(1, 500))))),
    )


usages = st.lists(
    st.tuples(
        st.integers(0, 400 * 24).map(lambda h: START + timedelta(hours=h)),
        st.integers(0, 3000).map(D),
    ),
    max_size=20,
)


def assert_every_unit_accounted_for(schedule: GrantSchedule, usage, order: DrawdownOrder) -> None:
    debits, _ = simulate(schedule, usage, order)
    as_of = START + timedelta(days=640)
    result = settle(bucket_plan(schedule, as_of), debits, as_of)
    by_id = {b.id: b for b in result.buckets}
    for bucket in result.buckets:
        # each bucket accounts for all it was granted, and nothing is negative
        assert bucket.granted == bucket.balance + bucket.debited + bucket.expired + bucket.rolled_out
        assert min(bucket.balance, bucket.debited, bucket.expired, bucket.rolled_out) >= 0
        # its ledger events plus debits explain its balance
        change = sum((e.quantity for e in result.events if e.bucket_id == bucket.id), D(0))
        assert change - bucket.debited == bucket.balance
        # a rollover holds exactly what its source rolled out
        if bucket.rolls_from is not None:
            assert bucket.granted == by_id[bucket.rolls_from].rolled_out
        # nothing outlives the subscription or the pack, nor rolls more often than allowed
        if schedule.hard_end is not None:
            assert bucket.effective_to is not None and bucket.effective_to <= schedule.hard_end
        if bucket.source == BucketSource.ROLLOVER and schedule.rollover_can_expire:
            assert bucket.completed_rollovers <= schedule.maximum_rollover_count
        # no rollover carries more than the cap
        if bucket.source == BucketSource.ROLLOVER and schedule.maximum_rollover_quantity is not None:
            assert bucket.granted <= schedule.maximum_rollover_quantity
    # across the grant, what was credited is what is used, left or expired; every debit hit one of its buckets
    credited = sum((b.granted for b in result.buckets if b.rolls_from is None), D(0))
    assert credited == sum((b.debited + b.balance + b.expired for b in result.buckets), D(0))
    assert set(debits) <= set(by_id)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), usage=usages, order=st.sampled_from(DrawdownOrder))
def test_every_granted_unit_is_debited_left_expired_or_rolled_out(schedule, usage, order):
    # GIVEN any grant and any usage drawn from it over about 13 months
    # WHEN settled at the end THEN every bucket accounts for every unit it was granted
    assert_every_unit_accounted_for(schedule, usage, order)


light_usages = st.lists(
    st.tuples(st.integers(0, 400 * 24).map(lambda h: START + timedelta(hours=h)), st.integers(0, 300).map(D)),
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules(rollover=st.just(True)), usage=light_usages, order=st.sampled_from(DrawdownOrder))
def test_rolled_over_units_are_accounted_for_too(schedule, usage, order):
    # GIVEN grants that roll over and light usage, so balances are left to roll
    # WHEN settled at the end THEN every rollover bucket holds what its source gave up, and nothing is lost
    assert_every_unit_accounted_for(schedule, usage, order)


@settings(max_examples=100, deadline=None)
@given(schedule=schedules(), first=st.integers(0, 400), more=st.integers(0, 400))
def test_plans_are_deterministic_and_a_longer_plan_extends_a_shorter_one(schedule, first, more):
    # GIVEN two horizons WHEN a grant is planned to each THEN the shorter plan is contained, unchanged, in the longer
    short = bucket_plan(schedule, START + timedelta(days=first))
    long = bucket_plan(schedule, START + timedelta(days=first + more))
    assert set(short) <= set(long)
    assert bucket_plan(schedule, START + timedelta(days=first)) == short
    # ... ids are unique, and a period's credits (less what decreases remove) never exceed what was paid for
    assert len({p.id for p in long}) == len(long)
    most = max([schedule.quantity, *(c.quantity for c in schedule.changes)])
    per_period: dict[int, D] = {}
    for p in long:
        if p.quantity is not None:
            kept = p.quantity - sum((q for _, q in p.reductions), D(0))
            per_period[p.period_index] = per_period.get(p.period_index, D(0)) + kept
    assert all(total <= most for total in per_period.values())
    assert all(p.effective_to is None or p.effective_from < p.effective_to for p in long)
