"""`@immutable` makes plain frozen, slotted dataclasses: what the value types rely on keeps working."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

import pytest

from core.errors import ErrorDetail
from core.usage import UsageRecord
from core.values import immutable


@immutable
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, repr=False)
    derived: int = field(init=False, default=-1)
    LIMIT: ClassVar[int] = 3


@immutable
class Amount:
    value: Decimal
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")
        object.__setattr__(self, "value", self.value.quantize(Decimal("0.01")))


@immutable
class Fee(Amount):
    reason: str = "fee"


def test_a_value_type_is_a_frozen_slotted_dataclass() -> None:
    # GIVEN a class made with @immutable  THEN it is what dataclass(frozen=True, slots=True) makes
    assert dataclasses.is_dataclass(Point) and Point.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert Point.__slots__ == ("x", "y", "tags", "note", "derived")
    assert not hasattr(Point(1), "__dict__")
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y", "tags", "note", "derived"]
    assert Point.__match_args__ == ("x", "y", "tags", "note") and Point.LIMIT == 3


def test_init_defaults_repr_equality_hash() -> None:
    p = Point(1, 2, ("a",), note="n")
    assert (p.x, p.y, p.tags, p.note, p.derived) == (1, 2, ("a",), "n", -1)
    assert repr(p) == "Point(x=1, y=2, tags=('a',), derived=-1)"
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, note="a") == Point(1, note="b") and hash(Point(1, note="a")) == hash(Point(1, note="b"))
    assert Point(1) != Point(2) and Point(1) != (1, 0, (), -1)
    assert len({Point(1), Point(1), Point(2)}) == 2
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]  # x is required
    with pytest.raises(TypeError):
        Point(1, derived=3)  # type: ignore[call-arg]  # init=False


def test_instances_cannot_change() -> None:
    p = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del p.y  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):  # no such slot (TypeError on 3.11–3.13: CPython gh-90562)
        p.other = 2  # type: ignore[attr-defined]


def test_replace_asdict_copy_pickle() -> None:
    p = Point(1, 2, ("a",), note="n")
    assert dataclasses.replace(p, y=5) == Point(1, 5, ("a",))
    assert dataclasses.replace(p, y=5).note == "n"
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ("a",), "note": "n", "derived": -1}
    assert copy.deepcopy(p) == p and copy.copy(p) == p
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(p, protocol))
        assert again == p and again.note == "n" and again.derived == -1


def test_default_factories_are_called_per_instance() -> None:
    @immutable
    class Box:
        items: list[int] = field(default_factory=list)
        made: list[int] = field(init=False, default_factory=lambda: [7])

    a, b = Box(), Box()
    assert a.items == [] and a.items is not b.items and a.made == [7] and a.made is not b.made
    assert Box([1]).items == [1]


def test_post_init_and_inheritance() -> None:
    assert Amount(Decimal("1.005")).value == Decimal("1.00")
    fee = Fee(Decimal("2"), "EUR", "late")
    assert (fee.value, fee.currency, fee.reason) == (Decimal("2.00"), "EUR", "late")
    assert repr(fee) == "Fee(value=Decimal('2.00'), currency='EUR', reason='late')"
    assert fee != Amount(Decimal("2"), "EUR")  # another class is never equal
    assert pickle.loads(pickle.dumps(fee)) == fee and dataclasses.replace(fee, reason="x").value == Decimal("2.00")
    with pytest.raises(ValueError):
        Fee(Decimal("-1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fee.reason = "x"  # type: ignore[misc]


def test_the_domain_value_types_pickle_replace_and_compare() -> None:
    # GIVEN a usage record (Decimals, datetimes, optional fields) and an error detail of the domain
    at = datetime(2026, 7, 1, tzinfo=UTC)
    record = UsageRecord(id="97050e0db9ce44debafc360270951725", tenant="demo", idempotency_key="texts-a",
                         account_external_id="acme", resource_code="TEXTS", start_time=at, end_time=at,
                         received_at=at, quantity=Decimal("3000"), unit_code="EA")
    detail = ErrorDetail("INVALID_VALUE", "bad", "quantity")
    # THEN they are slotted, survive pickling, and replace() changes one field only
    assert not hasattr(record, "__dict__") and not hasattr(detail, "__dict__")
    assert pickle.loads(pickle.dumps(record)) == record and pickle.loads(pickle.dumps(detail)) == detail
    changed = dataclasses.replace(record, quantity=Decimal("1"))
    assert changed.quantity == Decimal("1") and changed != record
    assert dataclasses.replace(changed, quantity=Decimal("3000")) == record
    assert hash(detail) == hash(ErrorDetail("INVALID_VALUE", "bad", "quantity"))
