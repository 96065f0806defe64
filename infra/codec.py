"""Dataclass <-> DynamoDB-map codec: Decimals and datetimes as strings, enums by value, nested dataclasses as maps.

One generic mechanism for every stored record, so a record reads back exactly as it was written (no floats).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache, lru_cache
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: Any) -> Any:
    """A record (or value) as plain JSON-able values: the general rules below, with the common exact types — and
    each record class's field names, looked up once per class — taken first (rating encodes a summary, a record's
    rated fields and its bookings per event)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is datetime:
        return to_iso(value)
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if kind is tuple or kind is list:
        return [encode(v) for v in value]
    return _encode(value)


#: per dataclass, its field names in order (filled by ``_encode`` as classes are met)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return to_iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


@lru_cache(maxsize=4096)  # rating writes a summary's period start, end and closing time with every event
def to_iso(value: datetime) -> str:
    """UTC, fixed width, so that strings sort in time order (years < 1000 too: ``isoformat`` pads them)."""
    if value.tzinfo is UTC:  # every time a record holds: one isoformat
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use UTC-aware ones")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


#: ``json.dumps(value, separators=(",", ":"))`` by one encoder made once (the same text; values never hold a cycle)
compact_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """The record ``encode`` made ``data`` of; a field missing from ``data`` takes its default."""
    return cls(**{name: convert(data[name]) for name, convert in _converters(cls)  # type: ignore[arg-type]
                if name in data})


@cache
def _converters(cls: Any) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Per field of a record class, the function that turns its encoded value back: worked out from the field's
    type once per class, not for every value read."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def _converter(tp: Any) -> Callable[[Any], Any]:
    """The function that decodes a stored value of type ``tp``: None stays None, anything else as ``_typed``
    says (Decimals from their text, datetimes from ISO text, enums by value, records field by field)."""
    inner = _typed(tp)
    if inner is _same:
        return _same
    return lambda value: None if value is None else inner(value)


def _same(value: Any) -> Any:
    return value


def _typed(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # X | None: None is taken care of by the caller
        return _typed([a for a in typing.get_args(tp) if a is not type(None)][0])
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]
            each = _converter(args[0])
            return lambda value: tuple(each(v) for v in value)
        parts = tuple(_converter(t) for t in args)  # tuple[X, Y]
        return lambda value: tuple(convert(v) for convert, v in zip(parts, value, strict=True))
    if origin is list:
        each = _converter(typing.get_args(tp)[0])
        return lambda value: [each(v) for v in value]
    if origin is dict:
        return dict
    if tp is Any or not isinstance(tp, type):
        return _same
    if issubclass(tp, Enum):
        return tp
    if tp is Decimal:
        return lambda value: Decimal(value if isinstance(value, str) else str(value))
    if tp is datetime:
        return from_iso
    if tp in (bool, int):
        return tp
    if dataclasses.is_dataclass(tp):
        return lambda value: decode(tp, value)
    return _same
