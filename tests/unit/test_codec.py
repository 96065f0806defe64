"""Records survive the trip to a DynamoDB map and back exactly: no floats, no lost precision, UTC times."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.catalog import RateCardEntry, RateTier, RecordStatus
from core.rating.model import AdjustmentType, TierMode
from infra import codec
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


@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    weight: Decimal | None = None


@dataclasses.dataclass(frozen=True)
class Shapes:
    """One field of each kind the codec knows."""

    status: RecordStatus
    at: datetime
    count: int
    flag: bool
    parts: tuple[Part, ...]
    pair: tuple[str, Decimal]
    maybe: tuple[Decimal | None, ...]
    listed: list[Part]
    extra: dict[str, Any]
    anything: Any = None
    optional_at: datetime | None = None
    defaulted: Decimal = Decimal(7)


def test_every_kind_of_field_decodes_from_what_the_store_returns() -> None:
    value = Shapes(RecordStatus.ACTIVE, datetime(2026, 7, 1, tzinfo=UTC), 3, True,
                   (Part("a", Decimal("1.5")), Part("b")), ("x", Decimal("0.000001")), (Decimal(1), None),
                   [Part("c")], {"k": "v"}, anything={"n": 1})
    encoded = encode(value)
    assert decode(Shapes, encoded) == value
    # numbers come back from DynamoDB as Decimal, missing fields take their default, None stays None
    stored = {**encoded, "count": Decimal(3), "flag": True, "optional_at": None}
    del stored["defaulted"]
    assert decode(Shapes, stored) == value
    # the decoder of a class is worked out once, not for every value
    assert decode(Part, {"name": "z", "weight": "2"}) == Part("z", Decimal(2))
    assert codec._converters(Part) is codec._converters(Part)


def test_a_year_below_1000_is_stored_fixed_width_and_reads_back() -> None:
    # GIVEN a moment in year 122 (glibc's strftime("%Y") writes "122", which fromisoformat refuses)
    from core.wallets import timestamp
    from infra.codec import from_iso, to_iso

    moment = datetime(122, 5, 2, 10, 5, 6, 147, tzinfo=UTC)
    # WHEN it is encoded THEN it is fixed width, sorts before later years, and decodes to itself
    assert to_iso(moment) == timestamp(moment) == "0122-05-02T10:05:06.000147Z"
    assert to_iso(moment) < to_iso(datetime(2026, 1, 1, tzinfo=UTC))
    assert from_iso(to_iso(moment)) == moment
    assert to_iso(datetime(2026, 5, 2, 10, 5, 6, tzinfo=UTC)) == "2026-05-02T10:05:06.000000Z"
