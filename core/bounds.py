"""The bounds of every input value, in one place: Decimal kinds (range and decimal places), date-times, texts.

Every entry point (GraphQL, usage files, guided setup, manual catalog, subscriptions) checks its values here, so
a value is refused the same way wherever it comes in, with ``INVALID_VALUE`` (or ``TOO_MANY_DECIMALS``,
``NEGATIVE_QUANTITY``) naming the input path. Rating relies on them: with values inside these bounds every
single quantity, rate and amount stays exact within Decimal's 28 significant digits. A *combination* that still
leaves that range (say 10^14 units converted at a factor of 10^9) makes the one record ``ERROR`` with
``RATING_FAILED`` instead of stopping rating.

Decimal kinds (``DecimalKind``; the table is documented in the README, "Input bounds"):

===================  ============================================================  ===================  ======
kind                 fields                                                        range                places
===================  ============================================================  ===================  ======
QUANTITY             usage quantity and preratedQuantity, grant quantity, tier      0 ≤ v < 10^15        6
                     lowerBound/upperBound, rollover quantity caps
SUBSCRIPTION_QTY     subscription quantity (multiplies every grant)                0 < v ≤ 10^6         6
RATE                 rate card entry rate, guided overageRate                      0 ≤ v < 10^9         10
ADJUSTMENT           tier adjustmentValue (PERCENTAGE, AMOUNT or OVERRIDE)         -10^9 < v < 10^9     10
AMOUNT               preratedAmount, tier flatFee                                  0 ≤ v < 10^15        6
FACTOR               unit conversionFactor, resource tokensPerUnit                 0 < v < 10^12        18
===================  ============================================================  ===================  ======

Before any kind applies, a GraphQL ``Decimal`` must be a finite decimal string of at most ``MAX_DECIMAL_TEXT``
characters within ``ENVELOPE`` (|v| < 10^18, ≤ 18 places): the widest of the kinds, so that ``1E+999999999``,
``1e309`` or 45 digits never reach arithmetic anywhere (``decimal.Overflow`` on the first operation).

Date-times: from ``MIN_DATETIME`` (1970-01-01) up to, not including, ``MAX_DATETIME`` (9000-01-01), UTC; a value
whose conversion to UTC leaves Python's range (``0001-01-01T00:00:00+01:00``) is refused too.

Terms and counts (billing and validity terms, refresh frequencies, rollover counts, rating delays): ≤ ``MAX_COUNT``
(1,000), so that periods computed from them stay inside the calendar.

Texts: names ≤ ``MAX_NAME`` (256) characters, correction reasons ≤ ``MAX_TEXT`` (1,000), idempotency keys and the
other texts of a usage record ≤ ``MAX_KEY`` (256), codes ≤ 64 (``core.catalog.CODE_PATTERN``), subscription and
account external ids ≤ 128; usage dimensions ≤ 50 keys of ≤ 128 characters, text values ≤ 1,024; no control
characters in names and keys; never a lone surrogate (``"\\ud800"`` sent as a JSON escape: not text, and storage
cannot encode it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from core.errors import Collector, DomainError, ErrorCode
from core.money import scale_of
from core.values import immutable


@immutable
class Bound:
    """A Decimal field kind: ``minimum`` ≤ v (or < when not ``minimum_inclusive``), v < ``maximum`` (or ≤ when
    ``maximum_inclusive``), at most ``places`` decimal places."""

    label: str
    minimum: Decimal
    maximum: Decimal
    places: int
    minimum_inclusive: bool = True
    maximum_inclusive: bool = False


class DecimalKind(StrEnum):
    QUANTITY = "QUANTITY"
    SUBSCRIPTION_QUANTITY = "SUBSCRIPTION_QUANTITY"
    RATE = "RATE"
    ADJUSTMENT = "ADJUSTMENT"
    AMOUNT = "AMOUNT"
    FACTOR = "FACTOR"


ZERO = Decimal(0)
BOUNDS: dict[DecimalKind, Bound] = {
    DecimalKind.QUANTITY: Bound("a quantity", ZERO, Decimal(10) ** 15, 6),
    DecimalKind.SUBSCRIPTION_QUANTITY: Bound("a subscription quantity", ZERO, Decimal(10) ** 6, 6,
                                             minimum_inclusive=False, maximum_inclusive=True),
    DecimalKind.RATE: Bound("a rate", ZERO, Decimal(10) ** 9, 10),
    DecimalKind.ADJUSTMENT: Bound("a tier adjustment", -Decimal(10) ** 9, Decimal(10) ** 9, 10,
                                  minimum_inclusive=False),
    DecimalKind.AMOUNT: Bound("an amount", ZERO, Decimal(10) ** 15, 6),
    # 18 places: a factor that is not a finite decimal (a second is 1/60 minute) is sent rounded, to 18 places
    DecimalKind.FACTOR: Bound("a factor", ZERO, Decimal(10) ** 12, 18, minimum_inclusive=False),
}

#: What any Decimal input must be before its kind is known (the GraphQL scalar, file columns).
ENVELOPE = Bound("a decimal", -Decimal(10) ** 18, Decimal(10) ** 18, 18, maximum_inclusive=False)
#: A Decimal input longer than this is refused before it is parsed.
MAX_DECIMAL_TEXT = 64

MIN_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DATETIME = datetime(9000, 1, 1, tzinfo=UTC)

#: Terms and counts (billingTerm, validityTerm, refresh frequency, refreshEvery, maximumRolloverCount, a rating
#: delay): at most this many, so that periods computed from them stay inside the calendar.
MAX_COUNT = 1000

MAX_CODE = 64
MAX_NAME = 256
MAX_KEY = 256
MAX_TEXT = 1000
#: How much of a refused value an error message quotes.
QUOTE = 40


# ---------------------------------------------------------------------------------------------- quoting
def quote(value: Any) -> str:
    """A refused value as an error message shows it: ``repr``, cut to ``QUOTE`` characters (never 500 KB)."""
    if isinstance(value, str) and len(value) > QUOTE:
        return repr(value[:QUOTE]) + f"… ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= QUOTE + 2 else text[:QUOTE] + "…"


def show(value: Decimal) -> str:
    """A bound or value as a message shows it: powers of ten from 10^6 on as ``10^n``, others in full."""
    magnitude = abs(value)
    if magnitude >= 10 ** 6 and magnitude == Decimal(10) ** magnitude.adjusted():
        return f"{'-' if value < 0 else ''}10^{magnitude.adjusted()}"
    return format(value, "f") if abs(value.adjusted()) < 30 else str(value)


# ---------------------------------------------------------------------------------------------- decimals
def parse_decimal(value: object, field: str | None = None) -> Decimal:
    """A Decimal inside ``ENVELOPE`` from a string or int (never a float), or INVALID_VALUE naming the field."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (bool, float)):
        raise DomainError(ErrorCode.INVALID_VALUE, f"{value!r} must be a decimal string, not a float", field)
    elif isinstance(value, (int, str)):
        text = str(value).strip()
        if len(text) > MAX_DECIMAL_TEXT:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(text)} is longer than {MAX_DECIMAL_TEXT} "
                              "characters; not a decimal this service takes", field)
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(value)} is not a decimal number", field) from None
    else:
        raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(value)} is not a decimal number", field)
    if not result.is_finite():
        raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(value)} is not a finite number", field)
    problem = out_of_bounds(result, ENVELOPE)
    if problem is not None:
        raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(value)} {problem}", field)
    return result


def out_of_bounds(value: Decimal, bound: Bound) -> str | None:
    """Why ``value`` is outside ``bound`` (a phrase after the value), or None. Never raises (no arithmetic that
    could overflow: comparisons of finite Decimals are exact)."""
    low_ok = value >= bound.minimum if bound.minimum_inclusive else value > bound.minimum
    high_ok = value <= bound.maximum if bound.maximum_inclusive else value < bound.maximum
    if not (low_ok and high_ok):
        low = "≤" if bound.minimum_inclusive else "<"
        high = "≤" if bound.maximum_inclusive else "<"
        return f"is out of range: {bound.label} must be {show(bound.minimum)} {low} v {high} {show(bound.maximum)}"
    if scale_of(value) > bound.places:
        return f"has more than {bound.places} decimal places"
    return None


def check_decimal(errors: Collector, value: Decimal | None, kind: DecimalKind, field: str) -> bool:
    """Add the error of a value outside its kind's bounds to ``errors`` (None passes); True when it is inside.

    Codes: NEGATIVE_QUANTITY for a negative quantity, TOO_MANY_DECIMALS for too many places, else INVALID_VALUE.
    """
    if value is None:
        return True
    bound = BOUNDS[kind]
    if not value.is_finite():
        errors.add(ErrorCode.INVALID_VALUE, f"{field} {quote(value)} is not a finite number", field)
        return False
    problem = out_of_bounds(value, bound)
    if problem is None:
        return True
    if value < 0 and kind in (DecimalKind.QUANTITY, DecimalKind.SUBSCRIPTION_QUANTITY):
        code = ErrorCode.NEGATIVE_QUANTITY
    elif problem.startswith("has more than"):
        code = ErrorCode.TOO_MANY_DECIMALS
    else:
        code = ErrorCode.INVALID_VALUE
    errors.add(code, f"{field} {show(value) if abs(value.adjusted()) < 30 else quote(value)} {problem}", field)
    return False


# ---------------------------------------------------------------------------------------------- date-times
def parse_datetime(value: object, field: str | None = None) -> datetime:
    """An ISO 8601 date-time with an offset, in UTC, within [MIN_DATETIME, MAX_DATETIME), or INVALID_VALUE."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_DECIMAL_TEXT:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(text)} is not an ISO 8601 date-time", field)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(text)} is not an ISO 8601 date-time", field) from None
    if not isinstance(value, datetime):
        raise DomainError(ErrorCode.INVALID_VALUE, f"{quote(value)} is not an ISO 8601 date-time", field)
    return bounded_datetime(value, field)


def bounded_datetime(value: datetime, field: str | None = None) -> datetime:
    """``value`` in UTC when it has an offset and lies within the bounds; else INVALID_VALUE naming the field."""
    if value.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_VALUE, f"{value.isoformat()} needs a UTC offset (e.g. "
                          "2026-07-01T00:00:00Z)", field)
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not MIN_DATETIME <= utc < MAX_DATETIME:
        raise DomainError(ErrorCode.INVALID_VALUE, f"{value.isoformat()} is out of range: date-times are from "
                          f"{MIN_DATETIME.date()} up to {MAX_DATETIME.date()} (UTC)", field)
    return utc


# ---------------------------------------------------------------------------------------------- texts
def text_problem(value: str, max_length: int, control: bool = False) -> str | None:
    """Why ``value`` is not an acceptable text (a phrase), or None: too long, a lone surrogate, control characters
    (when ``control`` is False)."""
    if len(value) > max_length:
        return f"is longer than {max_length} characters ({len(value)})"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "is not valid Unicode text (it holds a lone surrogate)"
    if not control and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not contain control characters"
    return None


def check_count(errors: Collector, value: int | None, field: str, maximum: int = MAX_COUNT) -> bool:
    """Add an INVALID_VALUE for a term or count above ``maximum`` (None passes; lower limits are the caller's)."""
    if value is None or value <= maximum:
        return True
    errors.add(ErrorCode.INVALID_VALUE, f"{field} must be at most {maximum} (got {value})", field)
    return False


def check_text(errors: Collector, value: str | None, field: str, max_length: int = MAX_NAME,
               control: bool = False) -> bool:
    """Add an INVALID_VALUE for a text outside the bounds to ``errors`` (None passes); True when it is fine."""
    if value is None:
        return True
    problem = text_problem(value, max_length, control)
    if problem is None:
        return True
    errors.add(ErrorCode.INVALID_VALUE, f"{field} {problem}", field)
    return False


def printable(value: str) -> str:
    """``value`` safe to echo in an answer: each lone surrogate replaced by U+FFFD (JSON encoders refuse them)."""
    if not any("\ud800" <= ch <= "\udfff" for ch in value):
        return value
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)


@immutable
class Unparsed:
    """An input value that is not a valid Decimal or DateTime, kept instead of failing the whole operation.

    A bad value in one usage record must not sink the other 999 of a recordUsage call, so the GraphQL scalars never
    raise: per-record validation (``core.usage_validation``) rejects the record that holds it with ``reason``, and
    every other operation refuses it with a typed INVALID_VALUE naming the input path (``graphql_api.errors``).
    """

    raw: Any
    reason: str

    def __repr__(self) -> str:
        return quote(self.raw)
