"""Custom scalars: Decimal as a string (never a float), DateTime as ISO 8601 with an offset (stored UTC), JSON.

Parsing never raises: a value outside ``core.bounds`` (not finite, beyond its envelope, a date-time out of range)
becomes an ``Unparsed`` that the operation refuses with a typed INVALID_VALUE naming the field — recordUsage per
record (``graphql_api.errors.PER_ITEM_VALIDATION``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as PyDecimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

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


#: The GraphQL scalars of the schema, by the Python type they stand for (`StrawberryConfig(scalar_map=SCALARS)`): a
#: field annotated `Decimal` or `datetime` is one of these, so annotations are plain types a type checker reads.
SCALARS: dict[object, ScalarDefinition] = {
    PyDecimal: strawberry.scalar(
        name="Decimal",
        serialize=lambda v: format(v, "f"),
        parse_value=_parse_decimal,
        description="An exact decimal number, as a string (\"12.50\").",
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
        description="ISO 8601 date-time with an offset; stored and returned in UTC.",
    ),
}

#: The names the type modules annotate with (the GraphQL scalar names); they are the Python types themselves.
Decimal = PyDecimal
DateTime = datetime

__all__ = ["Decimal", "DateTime", "JSON", "SCALARS", "Unparsed"]
