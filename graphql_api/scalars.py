"""Custom scalars: Decimal as a string (never a float), DateTime as ISO 8601 with an offset (stored UTC), JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as PyDecimal
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

from core.money import to_decimal


def _parse_decimal(value: Any) -> PyDecimal:
    return to_decimal(value)


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime {value!r} needs a UTC offset (e.g. 2026-07-01T00:00:00Z)")
    return parsed.astimezone(UTC)


def _serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Decimal = strawberry.scalar(
    NewType("Decimal", PyDecimal),
    serialize=lambda v: format(v, "f"),
    parse_value=_parse_decimal,
    description="An exact decimal number, as a string (\"12.50\").",
)
DateTime = strawberry.scalar(
    NewType("DateTime", datetime),
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
    description="ISO 8601 date-time with an offset; stored and returned in UTC.",
)

__all__ = ["Decimal", "DateTime", "JSON"]
