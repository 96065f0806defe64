"""Wallets, pure: catalog grants as schedules, balances as of any time, drawdown over chains, reversals, the ledger;
and properties of the drawdown integration under random grants and out-of-order usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.catalog import (
    GrantType,
    Policy,
    PolicyKind,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    ResourceCategory,
    UnitOfMeasure,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.drawdown import DrawdownOrder, arrange
from core.errors import DomainError
from core.grants import BucketSource, GrantSchedule, GrantSource, QuantityChange, Refresh
from core.periods import BillingAnchor, PeriodUnit
from core.wallets import (
    BucketChange,
    CreditCounter,
    LedgerEntryType,
    WalletGrant,
    balance_as_of,
    book,
    debits_as_of,
    debits_by_bucket,
    drawable,
    grant_schedule,
    lifecycle_lines,
    plan_draw,
    plan_reversal,
    wallet_order,
)

D = Decimal
ZERO = D(0)
ACTIVE = RecordStatus.ACTIVE
MONTHLY = Refresh(1, PeriodUnit.MONTH)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def wallet_grant(grant_id: str, quantity: int | str, start: datetime = utc(2026, 1, 1), *,
                 order: DrawdownOrder = DrawdownOrder.EXPIRING_FIRST, attached: datetime | None = None,
                 **schedule: object) -> WalletGrant:
    fields: dict[str, object] = {"grant_id": grant_id, "quantity": D(quantity), "effective_from": start,
                                 "billing": BillingAnchor(start, 1)}
    fields.update(schedule)
    return WalletGrant(GrantSchedule(**fields), order, grant_id.split("/")[0], grant_id, attached or start)  # type: ignore[arg-type]


def anchor(**schedule: object) -> WalletGrant:
    """4,000 texts a month, refreshed monthly."""
    return wallet_grant("anchor/TEXTS", 4000, refresh=MONTHLY, **schedule)


def pack(end: datetime = utc(2026, 1, 8), **schedule: object) -> WalletGrant:
    """2,000 texts ending with the pack (a week)."""
    return wallet_grant("pack/TEXTS", 2000, source=GrantSource.PACK, subscription_end=end,
                        attached=utc(2026, 1, 2), **schedule)


def draw(grants: Sequence[WalletGrant], counters: dict[str, CreditCounter], quantity: int | str,
         at: datetime) -> tuple[dict[str, CreditCounter], list[BucketChange], Decimal]:
    plan = plan_draw(grants, counters, D(quantity), at)
    return book(counters, plan.changes), list(plan.changes), plan.overage


# --- grants of the catalog as schedules ----------------------------------------------------------------------

UNITS = {"EA": UnitOfMeasure("EA", "Each", "COUNT", D(1), status=ACTIVE),
         "DOZEN": UnitOfMeasure("DOZEN", "Dozen", "COUNT", D(12), status=ACTIVE),
         "MB": UnitOfMeasure("MB", "Megabyte", "DATA", D(1), status=ACTIVE),
         "GB": UnitOfMeasure("GB", "Gigabyte", "DATA", D(1024), decimal_places=2, status=ACTIVE)}
POLICIES = {
    "renew": Policy("renew", PolicyKind.GRANT_REFRESH, "Renew quarterly", refresh_allowed=True, refresh_frequency=1,
                    refresh_unit=PeriodUnit.QUARTER, status=ACTIVE),
    "off": Policy("off", PolicyKind.GRANT_REFRESH, "No refresh", refresh_allowed=False, status=ACTIVE),
    "roll": Policy("roll", PolicyKind.GRANT_ROLLOVER, "Rollover twice", rollover_allowed=True,
                   rollover_can_expire=True, maximum_rollover_count=2, status=ACTIVE),
}


def schedule_of(model: UsageModelType = UsageModelType.ANCHOR, quantity: str = "4000", unit: str = "EA",
                resource_unit: str = "EA", subscription_quantity: str = "1", grant_type: GrantType = GrantType.GRANT,
                pur_end: datetime | None = None, **grant: object) -> GrantSchedule:
    product = Product("P", "P", model, ACTIVE)
    pur = ProductUsageResource("P:R", "P", "RES", utc(2026, 1, 1), pur_end, status=ACTIVE)
    fields: dict[str, object] = {"refresh_policy_id": None, "rollover_policy_id": None}
    fields.update(grant)
    pug = ProductUsageGrant("P:R:G", "P", pur.id, grant_type, D(quantity), unit, 1, ValidityUnit.MONTH,
                            utc(2026, 1, 1), status=ACTIVE, **fields)  # type: ignore[arg-type]
    cls = "DATA" if resource_unit in ("MB", "GB") else "COUNT"
    resource = UsageResource("RES", "Res", ResourceCategory.USAGE, cls, resource_unit, status=ACTIVE)
    return grant_schedule(pug, pur, product, resource, UNITS, POLICIES, subscription_external_id="s1",
                          subscription_quantity=D(subscription_quantity),
                          billing=BillingAnchor(utc(2026, 1, 1), 1), subscription_end=utc(2027, 1, 1))


def test_the_grant_quantity_is_multiplied_by_the_subscription_and_converted_to_the_default_unit() -> None:
    # GIVEN 10 dozen texts a month on 3 lines THEN 360 each (the resource's default unit)
    assert schedule_of(quantity="10", unit="DOZEN", subscription_quantity="3").quantity == D(360)
    # GIVEN 1.5 GB on a resource counted in MB THEN 1,536 MB
    assert schedule_of(quantity="1.5", unit="GB", resource_unit="MB").quantity == D(1536)
    # GIVEN 100 MB on a resource counted in GB THEN 0.097656 GB (floored to the quantity scale) prorated to 2 places
    data = schedule_of(quantity="100", unit="MB", resource_unit="GB")
    assert (data.quantity, data.unit_scale) == (D("0.097656"), 2)


def test_refresh_and_rollover_come_from_the_grants_policies() -> None:
    schedule = schedule_of(refresh_policy_id="renew", rollover_policy_id="roll")
    assert schedule.refresh == Refresh(1, PeriodUnit.QUARTER)
    assert (schedule.rollover_allowed, schedule.rollover_can_expire, schedule.maximum_rollover_count) == (
        True, True, 2)
    plain = schedule_of(refresh_policy_id="off")
    assert plain.refresh is None and not plain.rollover_allowed


def test_a_pack_yields_pack_buckets_that_end_with_the_pack_and_a_commit_grant_commitment_buckets() -> None:
    packed = schedule_of(UsageModelType.PACK, pur_end=utc(2026, 3, 1))
    assert (packed.source, packed.product_end, packed.subscription_end) == (
        GrantSource.PACK, utc(2026, 3, 1), utc(2027, 1, 1))
    anchored = schedule_of(pur_end=utc(2026, 3, 1))
    assert (anchored.source, anchored.product_end, anchored.effective_to) == (
        GrantSource.GRANT, None, utc(2026, 3, 1))
    assert schedule_of(UsageModelType.QUANTITY_COMMITMENT, grant_type=GrantType.COMMIT).source == \
        GrantSource.COMMITMENT


def test_a_grant_in_an_unknown_unit_is_a_typed_error() -> None:
    with pytest.raises(DomainError) as exc:
        schedule_of(unit="LITRE")
    assert (exc.value.code, exc.value.field) == ("UNKNOWN_UNIT", "productCode")


# --- balances as of a time ---------------------------------------------------------------------------------


def test_an_anchor_and_a_pack_in_one_wallet_hold_6000_texts_in_two_buckets() -> None:
    balance = balance_as_of([anchor(), pack()], {}, utc(2026, 1, 3))
    assert balance.balance == D(6000)
    assert [(b.source, b.granted, b.effective_to) for b in balance.effective] == [
        (BucketSource.GRANT, D(4000), utc(2026, 2, 1)), (BucketSource.PACK, D(2000), utc(2026, 1, 8))]


def test_usage_inside_the_week_drains_the_expiring_pack_first() -> None:
    # GIVEN DOMAIN §5.5: anchor 4,000 to month end, pack 2,000 to week end WHEN 2,500 texts are used in the week
    counters, changes, overage = draw([anchor(), pack()], {}, 2500, utc(2026, 1, 5))
    # THEN the pack is empty, the anchor holds 3,500, no overage
    assert overage == ZERO
    assert [(c.bucket_id, c.quantity, c.opening, c.closing) for c in changes] == [
        ("pack/TEXTS:PACK:0", D(2000), D(2000), ZERO), ("anchor/TEXTS:GRANT:0", D(500), D(4000), D(3500))]
    balance = balance_as_of([anchor(), pack()], debits_by_bucket(counters), utc(2026, 1, 6))
    assert balance.balance == D(3500)


def test_prorated_first_month_then_full_refreshes() -> None:
    # GIVEN DOMAIN §4: 4,000 texts/month billed on the 20th, subscribed Aug 3 (17 of 31 days left)
    grant = wallet_grant("late/TEXTS", 4000, utc(2024, 8, 3), billing=BillingAnchor(utc(2024, 8, 3), 20),
                         refresh=MONTHLY)
    # THEN 2,193 until Aug 20, then 4,000 a month
    assert balance_as_of([grant], {}, utc(2024, 8, 3)).balance == D(2193)
    assert [b.granted for b in balance_as_of([grant], {}, utc(2024, 9, 25)).buckets] == [D(2193), D(4000), D(4000)]


def test_balances_as_of_a_time_leave_out_later_entries() -> None:
    # GIVEN 1,000 texts used on Jan 10 and 500 on Jan 20
    counters, _, _ = draw([anchor()], {}, 1000, utc(2026, 1, 10))
    counters, _, _ = draw([anchor()], counters, 500, utc(2026, 1, 20))
    # WHEN read as of Jan 15, knowing the Jan 20 entry is later THEN only the first counts
    debited = debits_as_of(counters, [("anchor/TEXTS:GRANT:0", D(500))])
    assert balance_as_of([anchor()], debited, utc(2026, 1, 15)).balance == D(3000)
    assert balance_as_of([anchor()], debits_by_bucket(counters), utc(2026, 1, 25)).balance == D(2500)


# --- drawdown over chains -----------------------------------------------------------------------------------


def test_late_usage_cannot_spend_what_its_rollover_already_spent() -> None:
    # GIVEN 100 texts in January rolling over to February, and 80 of the rollover used in February
    grant = wallet_grant("g/TEXTS", 100, rollover_allowed=True)
    counters, changes, _ = draw([grant], {}, 80, utc(2026, 2, 10))
    assert [c.bucket_id for c in changes] == ["g/TEXTS:ROLLOVER:0:1"]
    # WHEN 50 texts of January arrive late
    counters, changes, overage = draw([grant], counters, 50, utc(2026, 1, 20))
    # THEN January's bucket can only give what the chain still holds (20); the rest is overage
    assert [(c.bucket_id, c.quantity, c.opening, c.closing) for c in changes] == [
        ("g/TEXTS:GRANT:0", D(20), D(20), ZERO)]
    assert overage == D(30)
    # and as of any time nothing is negative
    for month in (1, 2, 3):
        for b in balance_as_of([grant], debits_by_bucket(counters), utc(2026, month, 25)).buckets:
            assert b.balance >= 0 and b.granted == b.balance + b.debited + b.expired + b.rolled_out


def test_commitment_buckets_are_drawn_before_grants() -> None:
    grants = [anchor(), wallet_grant("commit/TEXTS", 1000, source=GrantSource.COMMITMENT, attached=utc(2026, 1, 5))]
    _, changes, _ = draw(grants, {}, 1500, utc(2026, 1, 10))
    assert [(c.bucket_id, c.quantity) for c in changes] == [("commit/TEXTS:COMMITMENT:0", D(1000)),
                                                            ("anchor/TEXTS:GRANT:0", D(500))]


def test_the_first_attached_grant_sets_the_wallets_drawdown_order() -> None:
    first = wallet_grant("a/T", 10, order=DrawdownOrder.GRANTED_LAST, attached=utc(2026, 1, 1))
    second = wallet_grant("b/T", 10, order=DrawdownOrder.GRANTED_FIRST, attached=utc(2026, 1, 2))
    assert wallet_order([second, first]) == DrawdownOrder.GRANTED_LAST
    assert wallet_order([]) == DrawdownOrder.EXPIRING_FIRST


def test_nothing_to_draw_is_all_overage() -> None:
    counters, changes, overage = draw([anchor()], {}, 10, utc(2025, 12, 1))
    assert (counters, changes, overage) == ({}, [], D(10))


# --- reversals ------------------------------------------------------------------------------------------------


def test_a_reversal_gives_each_debit_back_to_its_bucket() -> None:
    counters, changes, _ = draw([anchor(), pack()], {}, 2500, utc(2026, 1, 5))
    credits = plan_reversal(counters, [(c.bucket_id, c.quantity) for c in changes])
    assert [(c.bucket_id, c.quantity, c.opening, c.closing) for c in credits] == [
        ("pack/TEXTS:PACK:0", D(-2000), ZERO, D(2000)), ("anchor/TEXTS:GRANT:0", D(-500), D(3500), D(4000))]
    assert balance_as_of([anchor(), pack()], debits_by_bucket(book(counters, credits)), utc(2026, 1, 6)).balance \
        == D(6000)


def test_a_reversal_of_an_unknown_bucket_or_of_more_than_was_debited_is_refused() -> None:
    counters, _, _ = draw([anchor()], {}, 100, utc(2026, 1, 5))
    with pytest.raises(DomainError) as unknown:
        plan_reversal(counters, [("elsewhere:GRANT:0", D(1))])
    assert unknown.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as too_much:
        plan_reversal(counters, [("anchor/TEXTS:GRANT:0", D(60)), ("anchor/TEXTS:GRANT:0", D(60))])
    assert too_much.value.code == "CONFLICT"


# --- the ledger -----------------------------------------------------------------------------------------------


def test_lifecycle_entries_carry_opening_and_closing_balances_in_time_order() -> None:
    # GIVEN 4,000 texts a month rolling over once, 1,000 used in January
    grant = anchor(rollover_allowed=True, rollover_can_expire=True, maximum_rollover_count=1)
    counters, _, _ = draw([grant], {}, 1000, utc(2026, 1, 10))
    lines = lifecycle_lines(balance_as_of([grant], debits_by_bucket(counters), utc(2026, 3, 15)).settlement)
    # THEN credits open at 0, rollovers out and expiries close at 0, at the boundaries, in key order
    assert [(line.type, line.quantity, line.opening, line.closing, line.at.month) for line in lines] == [
        (LedgerEntryType.GRANT, D(4000), ZERO, D(4000), 1),
        (LedgerEntryType.ROLLOVER, D(-3000), D(3000), ZERO, 2),
        (LedgerEntryType.REFRESH, D(4000), ZERO, D(4000), 2),
        (LedgerEntryType.ROLLOVER, D(3000), ZERO, D(3000), 2),
        (LedgerEntryType.ROLLOVER, D(-4000), D(4000), ZERO, 3),
        (LedgerEntryType.EXPIRY, D(-3000), D(3000), ZERO, 3),
        (LedgerEntryType.REFRESH, D(4000), ZERO, D(4000), 3),
        (LedgerEntryType.ROLLOVER, D(4000), ZERO, D(4000), 3),
    ]
    assert [line.key for line in lines] == sorted(line.key for line in lines)


def test_a_capped_rollover_goes_out_as_a_rollover_and_an_expiry_with_distinct_keys() -> None:
    # GIVEN 4,000 texts a month rolling over at most 1,000, 1,000 used in January
    grant = anchor(rollover_allowed=True, maximum_rollover_quantity=D(1000))
    counters, _, _ = draw([grant], {}, 1000, utc(2026, 1, 10))
    lines = lifecycle_lines(balance_as_of([grant], debits_by_bucket(counters), utc(2026, 2, 15)).settlement)
    # THEN on Feb 1 January's 3,000 leave in two steps (1,000 roll over, 2,000 expire) and 1,000 arrive
    assert [(line.bucket_id, line.type, line.quantity, line.opening, line.closing) for line in lines] == [
        ("anchor/TEXTS:GRANT:0", LedgerEntryType.GRANT, D(4000), ZERO, D(4000)),
        ("anchor/TEXTS:GRANT:0", LedgerEntryType.ROLLOVER, D(-1000), D(3000), D(2000)),
        ("anchor/TEXTS:GRANT:0", LedgerEntryType.EXPIRY, D(-2000), D(2000), ZERO),
        ("anchor/TEXTS:REFRESH:1", LedgerEntryType.REFRESH, D(4000), ZERO, D(4000)),
        ("anchor/TEXTS:ROLLOVER:0:1", LedgerEntryType.ROLLOVER, D(1000), ZERO, D(1000)),
    ]
    assert len({line.key for line in lines}) == len(lines)
    assert [line.key for line in lines] == sorted(line.key for line in lines)


def test_late_usage_under_a_rollover_cap_never_takes_what_the_rollover_spent() -> None:
    # GIVEN 100 texts in January rolling over at most 30, and 30 of the rollover used in February
    grant = wallet_grant("g/TEXTS", 100, rollover_allowed=True, maximum_rollover_quantity=D(30))
    counters, _, _ = draw([grant], {}, 30, utc(2026, 2, 10))
    # WHEN 90 texts of January arrive late
    counters, changes, overage = draw([grant], counters, 90, utc(2026, 1, 20))
    # THEN January gives 70 (the chain's 100 less the 30 spent), 20 are overage, and January still rolls 30 over
    assert [(c.bucket_id, c.quantity) for c in changes] == [("g/TEXTS:GRANT:0", D(70))]
    assert overage == D(20)
    february = balance_as_of([grant], debits_by_bucket(counters), utc(2026, 2, 15))
    by_id = {b.id: b for b in february.buckets}
    assert (by_id["g/TEXTS:GRANT:0"].rolled_out, by_id["g/TEXTS:ROLLOVER:0:1"].balance) == (D(30), ZERO)


def test_late_usage_in_a_capped_rollover_cannot_take_what_the_next_rollover_spent() -> None:
    # GIVEN 100 texts in January (no refresh) rolling over at most 50: 50 roll into February, 50 on into March,
    # and March's 50 are used
    grant = wallet_grant("g/TEXTS", 100, rollover_allowed=True, maximum_rollover_quantity=D(50))
    counters, changes, _ = draw([grant], {}, 50, utc(2026, 3, 10))
    assert [c.bucket_id for c in changes] == ["g/TEXTS:ROLLOVER:0:2"]
    # WHEN 50 texts of February arrive late THEN February's bucket gives nothing: March carried all of it on
    counters, changes, overage = draw([grant], counters, 50, utc(2026, 2, 10))
    assert (changes, overage) == ([], D(50))
    # AND as of March nothing is negative
    march = balance_as_of([grant], debits_by_bucket(counters), utc(2026, 3, 15))
    assert all(b.balance >= 0 and b.granted == b.balance + b.debited + b.expired + b.rolled_out
               for b in march.buckets)


# --- properties -----------------------------------------------------------------------------------------------

HORIZON_DAYS = 200


@st.composite
def wallets(draw_: st.DrawFn) -> list[WalletGrant]:
    """An anchor with random refresh, validity and rollover rules, and maybe a pack and a commitment."""
    rollover = draw_(st.booleans())
    can_expire = rollover and draw_(st.booleans())
    grants = [wallet_grant(
        "anchor/T", draw_(st.integers(0, 500)), utc(2026, 1, draw_(st.integers(1, 28))),
        order=draw_(st.sampled_from(list(DrawdownOrder))),
        billing=BillingAnchor(utc(2026, 1, 1), draw_(st.integers(1, 31))),
        refresh=draw_(st.sampled_from([None, MONTHLY, Refresh(1, PeriodUnit.QUARTER)])),
        validity_unit=draw_(st.sampled_from([ValidityUnit.MONTH, ValidityUnit.MONTH, ValidityUnit.NONE])),
        validity_term=draw_(st.integers(1, 2)), rollover_allowed=rollover, rollover_can_expire=can_expire,
        maximum_rollover_count=draw_(st.integers(0, 2)) if can_expire else None,
        maximum_rollover_quantity=draw_(st.sampled_from([None, None, D(0), D(50), D(250)])),
        changes=tuple(QuantityChange(utc(2026, 1, 1) + timedelta(days=day, hours=5), D(q)) for day, q in sorted(
            draw_(st.lists(st.tuples(st.integers(0, HORIZON_DAYS), st.integers(0, 500)), max_size=3)))),
        subscription_end=draw_(st.sampled_from([None, utc(2026, 5, 17)])))]
    if draw_(st.booleans()):
        start = utc(2026, 1, 1) + timedelta(days=draw_(st.integers(0, 120)))
        grants.append(wallet_grant("pack/T", draw_(st.integers(1, 300)), start, source=GrantSource.PACK,
                                   subscription_end=start + timedelta(days=draw_(st.integers(1, 40))),
                                   attached=utc(2026, 2, 1)))
    if draw_(st.booleans()):
        grants.append(wallet_grant("commit/T", draw_(st.integers(1, 300)), source=GrantSource.COMMITMENT,
                                   refresh=MONTHLY, attached=utc(2026, 3, 1)))
    return grants


usages = st.lists(st.tuples(st.integers(0, HORIZON_DAYS * 24 - 1), st.integers(0, 400)), max_size=25)


@settings(max_examples=120, deadline=None)
@given(grants=wallets(), events=usages, reversed_share=st.integers(0, 3))
def test_drawdown_never_overdraws_keeps_every_unit_accounted_for_and_respects_the_order(
        grants: list[WalletGrant], events: list[tuple[int, int]], reversed_share: int) -> None:
    # GIVEN a random wallet and usage arriving in random order (late usage included), some of it voided later
    counters: dict[str, CreditCounter] = {}
    booked: list[tuple[datetime, list[BucketChange]]] = []
    asked = debited = overage = ZERO
    for hour, quantity in events:
        at = utc(2026, 1, 1) + timedelta(hours=hour)
        pool = drawable(grants, counters, at)
        plan = plan_draw(grants, counters, D(quantity), at)
        # THEN each draw covers exactly what was asked, never more than a bucket holds, in the wallet's order
        assert plan.debited + plan.overage == D(quantity)
        assert all(ZERO < c.quantity <= c.opening and c.closing == c.opening - c.quantity >= 0
                   for c in plan.changes)
        expected = [b.id for b in arrange([d.bucket for d in pool if d.source == BucketSource.COMMITMENT], at,
                                          plan.order)]
        expected += [b.id for b in arrange([d.bucket for d in pool if d.source != BucketSource.COMMITMENT], at,
                                           plan.order)]
        taken = [c.bucket_id for c in plan.changes]
        assert taken == expected[:len(taken)]
        assert all(c.closing == 0 for c in plan.changes[:-1])
        if plan.overage > 0:
            assert taken == expected and all(c.closing == 0 for c in plan.changes)
        counters = book(counters, plan.changes)
        booked.append((at, list(plan.changes)))
        asked += D(quantity)
        debited += plan.debited
        overage += plan.overage
    for _, changes in booked[:reversed_share]:
        counters = book(counters, plan_reversal(counters, [(c.bucket_id, c.quantity) for c in changes]))
        debited -= sum((c.quantity for c in changes), ZERO)
    live = booked[reversed_share:]
    # THEN every unit asked for was debited or is overage, and no credit gave more than it was granted
    assert sum((c.quantity for _, changes in live for c in changes), ZERO) == debited
    assert debited + overage + sum((c.quantity for _, cs in booked[:reversed_share] for c in cs), ZERO) == asked
    assert all(0 <= counter.total <= counter.granted for counter in counters.values())
    # and as of any time: no balance is negative and granted = balance + debited + expired + rolled over
    for day in range(0, HORIZON_DAYS + 40, 9):
        as_of = utc(2026, 1, 1) + timedelta(days=day, hours=5)
        later = [(c.bucket_id, c.quantity) for at, cs in live if at > as_of for c in cs]
        balance = balance_as_of(grants, debits_as_of(counters, later), as_of)
        for b in balance.buckets:
            assert b.balance >= 0 and b.debited >= 0
            assert b.granted == b.balance + b.debited + b.expired + b.rolled_out
        assert balance.balance == sum((b.balance for b in balance.effective), ZERO)
