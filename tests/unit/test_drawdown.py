"""Drawdown: DOMAIN §5 vector 5, the three orders and their tie-breaks, effectivity, reversal, and properties."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.drawdown import Bucket, Credit, Debit, DrawdownOrder, apply, arrange, draw_down, reverse
from core.errors import DomainError

D = Decimal
T0 = datetime(2024, 7, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def bucket(id, balance, start=0, end=None, created=0) -> Bucket:
    return Bucket(id, D(balance), day(start), None if end is None else day(end), day(created))


def test_vector_5_expiring_first_drains_the_week_pack_before_the_month_anchor():
    # GIVEN an anchor of 4,000 texts to month end and a pack of 2,000 to week end
    anchor, pack = bucket("anchor", 4000, 0, 31), bucket("pack", 2000, 0, 7, created=1)
    # WHEN 2,500 texts are used inside the week, expiring first
    result = draw_down([anchor, pack], D(2500), day(3), DrawdownOrder.EXPIRING_FIRST)
    # THEN the pack is emptied, the anchor keeps 3,500 and there is no overage
    assert result.debits == (Debit("pack", D(2000), D(2000), D(0)), Debit("anchor", D(500), D(4000), D(3500)))
    assert result.overage == 0
    assert {b.id: b.balance for b in apply([anchor, pack], result.debits)} == {"anchor": 3500, "pack": 0}


def test_expiring_first_puts_never_expiring_buckets_last():
    # GIVEN a never-expiring bucket created first and an expiring one WHEN drawn THEN the expiring one pays first
    forever, expiring = bucket("forever", 10, created=0), bucket("expiring", 10, end=90, created=5)
    assert [b.id for b in arrange([forever, expiring], day(10), DrawdownOrder.EXPIRING_FIRST)] == [
        "expiring",
        "forever",
    ]


def test_granted_first_and_granted_last_order_by_start():
    # GIVEN buckets started on days 0, 5 and 9
    buckets = [bucket("b5", 1, 5), bucket("b0", 1, 0), bucket("b9", 1, 9)]
    # WHEN arranged at day 10 THEN oldest first, or newest first
    assert [b.id for b in arrange(buckets, day(10), DrawdownOrder.GRANTED_FIRST)] == ["b0", "b5", "b9"]
    assert [b.id for b in arrange(buckets, day(10), DrawdownOrder.GRANTED_LAST)] == ["b9", "b5", "b0"]


@pytest.mark.parametrize("order", list(DrawdownOrder))
def test_ties_break_by_creation_time_then_id(order):
    # GIVEN buckets alike in start and end but created at different times, two at the same time
    buckets = [bucket("c", 1, 0, 30, created=2), bucket("b", 1, 0, 30, created=1), bucket("a", 1, 0, 30, created=2)]
    # WHEN arranged in any order THEN the earliest created goes first and equal creation falls back to id
    assert [b.id for b in arrange(buckets, day(3), order)] == ["b", "a", "c"]


def test_only_buckets_effective_at_the_usage_time_with_balance_are_drawn():
    # GIVEN a future bucket, an expired one, an empty one and one effective exactly from now
    buckets = [
        bucket("future", 5, 11),
        bucket("expired", 5, 0, 10),
        bucket("empty", 0, 0),
        bucket("now", 5, 10, 20),
    ]
    # WHEN 8 units are drawn at day 10 (the expired bucket's end is exclusive) THEN only "now" pays, 3 are overage
    result = draw_down(buckets, D(8), day(10))
    assert [d.bucket_id for d in result.debits] == ["now"]
    assert result.overage == 3


def test_zero_quantity_touches_nothing_and_negative_is_refused():
    # GIVEN a bucket WHEN nothing is drawn THEN no debit; WHEN a negative quantity THEN NEGATIVE_QUANTITY
    assert draw_down([bucket("a", 5)], D(0), day(1)) == draw_down([], D(0), day(1))
    with pytest.raises(DomainError) as err:
        draw_down([bucket("a", 5)], D(-1), day(1))
    assert err.value.code == "NEGATIVE_QUANTITY"


def test_reverse_credits_the_same_buckets_back():
    # GIVEN a drawdown across two buckets and a later debit that changed one of them
    buckets = [bucket("pack", 2000, 0, 7), bucket("anchor", 4000, 0, 31)]
    first = draw_down(buckets, D(2500), day(3))
    after = apply(buckets, first.debits)
    later = draw_down(after, D(100), day(4))
    now = apply(after, later.debits)
    # WHEN the first drawdown is reversed
    credits = reverse(first.debits, now)
    # THEN each bucket gets back exactly what it gave, starting from its current balance
    assert credits == (Credit("pack", D(2000), D(0), D(2000)), Credit("anchor", D(500), D(3400), D(3900)))
    assert {b.id: b.balance for b in apply(now, credits)} == {"pack": 2000, "anchor": 3900}


def test_reverse_of_an_unknown_bucket_is_refused():
    # GIVEN a debit of a bucket that is not supplied WHEN reversed THEN NOT_FOUND
    with pytest.raises(DomainError):
        reverse([Debit("gone", D(1), D(1), D(0))], [])


# --- properties ----------------------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def wallets(draw) -> list[Bucket]:
    size = draw(st.integers(0, 8))
    result = []
    for i in range(size):
        start = draw(st.integers(0, 20))
        end = draw(st.none() | st.integers(start + 1, 40))
        result.append(bucket(f"b{i}", draw(amounts), start, end, created=draw(st.integers(0, 3))))
    return result


@given(buckets=wallets(), quantity=amounts, when=st.integers(0, 40), order=st.sampled_from(DrawdownOrder))
def test_drawdown_conserves_quantity_and_never_overdraws(buckets, quantity, when, order):
    # GIVEN any wallet WHEN any quantity is drawn at any time in any order
    result = draw_down(buckets, quantity, day(when), order)
    by_id = {b.id: b for b in buckets}
    # THEN debits plus overage equal the quantity and no balance goes negative
    assert result.debited + result.overage == quantity
    assert result.overage >= 0
    for debit in result.debits:
        assert debit.quantity > 0
        assert debit.opening == by_id[debit.bucket_id].balance
        assert debit.closing == debit.opening - debit.quantity >= 0
        assert by_id[debit.bucket_id].is_effective(day(when))
    assert all(b.balance >= 0 for b in apply(buckets, result.debits))
    # ... and overage only arises when every drawable bucket is emptied
    if result.overage > 0:
        assert all(d.closing == 0 for d in result.debits)
        assert len(result.debits) == len(arrange(buckets, day(when), order))


@given(buckets=wallets(), quantity=amounts, when=st.integers(0, 40), order=st.sampled_from(DrawdownOrder))
def test_a_bucket_is_touched_only_after_every_earlier_one_is_empty(buckets, quantity, when, order):
    # GIVEN any wallet WHEN drawn THEN the debits follow the order and all but the last empty their bucket
    result = draw_down(buckets, quantity, day(when), order)
    arranged = [b.id for b in arrange(buckets, day(when), order)]
    assert [d.bucket_id for d in result.debits] == arranged[: len(result.debits)]
    assert all(d.closing == 0 for d in result.debits[:-1])


@given(buckets=wallets(), quantity=amounts, when=st.integers(0, 40), order=st.sampled_from(DrawdownOrder))
def test_reversing_a_drawdown_restores_every_balance(buckets, quantity, when, order):
    # GIVEN a drawdown WHEN it is reversed THEN every bucket is back where it started
    result = draw_down(buckets, quantity, day(when), order)
    after = apply(buckets, result.debits)
    assert apply(after, reverse(result.debits, after)) == tuple(buckets)


@given(
    buckets=wallets(),
    parts=st.lists(amounts, min_size=1, max_size=5),
    when=st.integers(0, 40),
    order=st.sampled_from(DrawdownOrder),
)
def test_drawing_in_parts_equals_drawing_the_whole(buckets, parts, when, order):
    # GIVEN a quantity split into parts drawn one after another at the same time
    current, overage = tuple(buckets), D(0)
    for part in parts:
        result = draw_down(current, part, day(when), order)
        current, overage = apply(current, result.debits), overage + result.overage
    # WHEN the whole is drawn at once THEN the balances and the overage are the same
    whole = draw_down(buckets, sum(parts, D(0)), day(when), order)
    assert apply(buckets, whole.debits) == current
    assert whole.overage == overage
