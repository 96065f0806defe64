"""Custom scalars: Decimal as a string (never a float), DateTime as ISO 8601 with an offset (stored UTC), JSON.

Parsing never raises: a value outside ``core.bounds`` (not finite, beyond its envelope, a date-time out of range)
becomes an ``Unparsed`` that the operation refuses with a typed INVALID_VALUE naming the field — recordUsage per
record (``graphql_api.errors.PER_ITEM_VALIDATION``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as PyDecimal
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

from core.bounds import Unparsed, parse_datetime, parse_decimal
from core.errors import DomainError


def _parse_decimal(value: Any) -> PyDecimal | Unparsed:
    try:
        return parse_decimal(value)
    except DomainError as exc:
        return Unparsed(value, exc.message)


def _parse_datetime(value: Any) -> datetime | Unparsed:
    if not isinstance(value, str):
        return Unparsed(value, "DateTime must be an ISO 8601 string")
    try:
        return parse_datetime(value)
    except DomainError as exc:
        return Unparsed(value, exc.message)


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

__all__ = ["Decimal", "DateTime", "JSON", "Unparsed"]
