"""Custom scalars: Decimal as a string (never a float), DateTime as ISO 8601 with an offset (stored UTC), JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as PyDecimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from core.errors import DomainError
from core.money import to_decimal
from core.values import immutable


@immutable
class Unparsed:
    """An input value that is not a valid Decimal or DateTime, kept instead of failing the whole operation.

    A bad value in one usage record must not sink the other 999 of a recordUsage call, so parsing never raises:
    per-record validation rejects the record that holds it, and ``errors.UnparsedInputs`` refuses it with a
    typed INVALID_VALUE on every other field.
    """

    raw: Any
    reason: str

    def __repr__(self) -> str:
        return repr(self.raw)


def _parse_decimal(value: Any) -> PyDecimal | Unparsed:
    try:
        return to_decimal(value)
    except DomainError as exc:
        return Unparsed(value, exc.message)


def _parse_datetime(value: Any) -> datetime | Unparsed:
    if not isinstance(value, str):
        return Unparsed(value, "DateTime must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return Unparsed(value, f"{value!r} is not an ISO 8601 date-time")
    if parsed.tzinfo is None:
        return Unparsed(value, f"DateTime {value!r} needs a UTC offset (e.g. 2026-07-01T00:00:00Z)")
    return parsed.astimezone(UTC)


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

__all__ = ["Decimal", "DateTime", "JSON", "SCALARS"]
