"""`@immutable` behaves as `@dataclass(frozen=True)`: each case builds the same class both ways and compares."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import InitVar, field
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from core.values import immutable

BOTH = pytest.mark.parametrize("make", [dataclasses.dataclass(frozen=True), immutable], ids=["dataclass", "immutable"])


def point(make: Any) -> Any:
    @make
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = field(default_factory=tuple)
        note: str = field(default="", compare=False, repr=False)
        derived: int = field(init=False, default=-1)
        LIMIT: ClassVar[int] = 3

    return Point


@BOTH
def test_init_defaults_repr_equality_hash(make: Any) -> None:
    Point = point(make)
    p = Point(1, 2, ("a",), note="n")
    assert (p.x, p.y, p.tags, p.note, p.derived) == (1, 2, ("a",), "n", -1)
    assert repr(p).endswith("<locals>.Point(x=1, y=2, tags=('a',), derived=-1)")
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, note="a") == Point(1, note="b")  # compare=False
    assert hash(Point(1, note="a")) == hash(Point(1, note="b"))
    assert Point(1) != Point(2) and Point(1) != (1, 0, (), -1)
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Point.LIMIT == 3 and [f.name for f in dataclasses.fields(Point)] == ["x", "y", "tags", "note", "derived"]
    assert Point.__match_args__ == ("x", "y", "tags", "note")
    with pytest.raises(TypeError):
        Point()  # x is required
    with pytest.raises(TypeError):
        Point(1, derived=3)  # init=False


@BOTH
def test_frozen(make: Any) -> None:
    p = point(make)(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.other = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del p.y
    assert dataclasses.is_dataclass(p) and p.__dataclass_params__.frozen


@BOTH
def test_replace_asdict_copy_pickle(make: Any) -> None:
    Point = point(make)
    p = Point(1, 2, ("a",))
    assert dataclasses.replace(p, y=5) == Point(1, 5, ("a",))
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ("a",), "note": "", "derived": -1}
    assert copy.deepcopy(p) == p and copy.copy(p) == p
    globals()["Point"] = Point  # pickle finds classes by module and name
    Point.__qualname__ = "Point"
    try:
        assert pickle.loads(pickle.dumps(p)) == p
    finally:
        del globals()["Point"]


@BOTH
def test_default_factories_are_called_per_instance(make: Any) -> None:
    @make
    class Box:
        items: list[int] = field(default_factory=list)
        made: list[int] = field(init=False, default_factory=lambda: [7])

    a, b = Box(), Box()
    assert a.items == [] and a.items is not b.items and a.made == [7] and a.made is not b.made
    assert Box([1]).items == [1]


@BOTH
def test_post_init_and_inheritance(make: Any) -> None:
    @make
    class Amount:
        value: Decimal
        currency: str = "USD"

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")
            object.__setattr__(self, "value", self.value.quantize(Decimal("0.01")))

    @make
    class Fee(Amount):
        reason: str = "fee"

    assert Amount(Decimal("1.005")).value == Decimal("1.00")
    fee = Fee(Decimal("2"), "EUR", "late")
    assert (fee.value, fee.currency, fee.reason) == (Decimal("2.00"), "EUR", "late")
    assert repr(fee).endswith("<locals>.Fee(value=Decimal('2.00'), currency='EUR', reason='late')")
    assert fee != Amount(Decimal("2"), "EUR")  # another class is never equal
    with pytest.raises(ValueError):
        Fee(Decimal("-1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fee.reason = "x"


@BOTH
def test_methods_the_class_writes_are_kept(make: Any) -> None:
    @make
    class Code:
        value: str

        def __repr__(self) -> str:
            return f"<{self.value}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Code) and other.value.lower() == self.value.lower()

    assert repr(Code("a")) == "<a>"
    assert Code("a") == Code("A")
    hash(Code("a"))  # an __eq__ without __hash__ still gets one, as dataclasses do


def test_init_is_compiled_once_on_first_use_with_the_fields_as_parameters() -> None:
    Point = point(immutable)
    stand_in = Point.__init__
    Point(1)
    compiled = Point.__init__
    assert compiled is not stand_in and compiled.__code__.co_varnames[:5] == ("self", "x", "y", "tags", "note")
    Point(2, y=3)
    assert Point.__init__ is compiled

    Other = point(immutable)
    stand_in = Other.__init__

    class Unadorned(Other):  # a plain subclass first instantiated: compiles (and keeps) its base's __init__
        pass

    assert Unadorned(5, 6) == Unadorned(x=5, y=6) and Unadorned(5) != Other(5)
    assert Other.__init__ is not stand_in and Other(5, 6).y == 6


def test_what_it_refuses() -> None:
    with pytest.raises(TypeError, match="__setattr__"):
        @immutable
        class Writes:
            x: int

            def __setattr__(self, name: str, value: Any) -> None: ...

    with pytest.raises(TypeError, match="InitVar"):
        @immutable
        class WithInitVar:
            x: int
            seed: InitVar[int] = 0

    with pytest.raises(TypeError, match="keyword-only"):
        @immutable
        class KeywordOnly:
            x: int = field(kw_only=True)

    @dataclasses.dataclass
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="non-frozen"):
        @immutable
        class FromMutable(Mutable):
            y: int = 0


@pytest.mark.parametrize("make", [dataclasses.dataclass(frozen=True), immutable], ids=["dataclass", "immutable"])
def test_bad_defaults_are_refused_as_dataclasses_refuse_them(make: Any) -> None:
    with pytest.raises(ValueError, match="mutable default"):
        @make
        class Listed:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @make
        class Ordered:
            a: int = 0
            b: int


def test_a_dataclass_may_extend_an_immutable_and_the_reverse() -> None:
    @immutable
    class Base:
        a: int
        LIMIT: ClassVar[int] = 1

    @dataclasses.dataclass(frozen=True)
    class Child(Base):
        b: int = 2

    @immutable
    class GrandChild(Child):
        c: int = 3

    assert Child(1) == Child(1, 2) and GrandChild(1).c == 3 and GrandChild(1, 5, 6).b == 5
    assert [f.name for f in dataclasses.fields(GrandChild)] == ["a", "b", "c"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        GrandChild(1).a = 2
