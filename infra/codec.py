"""Dataclass <-> DynamoDB-map codec: Decimals and datetimes as strings, enums by value, nested dataclasses as maps.

One generic mechanism for every stored record, so a record reads back exactly as it was written (no floats).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return to_iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_iso(value: datetime) -> str:
    """UTC, fixed width, so that strings sort in time order."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use UTC-aware ones")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(cls: type[T], data: dict[str, Any]) -> T:
    hints = _hints(cls)  # type: ignore[arg-type]
    kwargs = {f.name: _decode_value(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls) if f.name in data}  # type: ignore[arg-type]
    return cls(**kwargs)


def _decode_value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode_value(inner[0], value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]
            return tuple(_decode_value(args[0], v) for v in value)
        return tuple(_decode_value(t, v) for t, v in zip(args, value, strict=True))  # tuple[X, Y]
    if origin is list:
        return [_decode_value(typing.get_args(tp)[0], v) for v in value]
    if origin is dict:
        return dict(value)
    if tp is Any:
        return value
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return tp(value)
        if tp is Decimal:
            return Decimal(str(value))
        if tp is datetime:
            return from_iso(value)
        if tp is bool:
            return bool(value)
        if tp is int:
            return int(value)
        if dataclasses.is_dataclass(tp):
            return decode(tp, value)
    return value
