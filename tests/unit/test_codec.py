"""Records survive the trip to a DynamoDB map and back exactly: no floats, no lost precision, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.catalog import RateCardEntry, RateTier, RecordStatus
from core.rating.model import AdjustmentType, TierMode
from infra.codec import decode, encode

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**9, max_value=10**9)


@given(rate=decimals, lower=decimals, fee=st.none() | decimals)
def test_rate_entry_round_trips_exactly(rate: Decimal, lower: Decimal, fee: Decimal | None) -> None:
    entry = RateCardEntry("c:1", "c", "DATA", None, rate, "USD", datetime(2026, 1, 1, tzinfo=UTC),
                          tier_mode=TierMode.VOLUME,
                          tiers=(RateTier(lower, None, AdjustmentType.OVERRIDE, rate, fee),),
                          status=RecordStatus.ACTIVE)
    assert decode(RateCardEntry, encode(entry)) == entry


def test_datetimes_are_stored_as_sortable_utc_strings() -> None:
    local = datetime(2026, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert encode(local) == "2026-07-01T00:00:00.000000Z"
    assert encode(Decimal("1E+3")) == "1000"
