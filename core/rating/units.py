"""Exact unit conversion: ``qty × factor(from) / factor(to)`` (DOMAIN §3.2).

Factors may be given as a ``Decimal``, an ``int``, a ``Fraction`` or a string such as ``"1/1024"`` or ``"0.001"``,
and are carried as ``Fraction`` so the ratio is exact. The result is exact whenever it has at most 12 decimal
places (always the case for binary prefixes: 104,448 MB × 1/1024 = 102 GB exactly); otherwise — e.g. a factor of
1/3 — it is rounded half-up to 12 places (``INTERNAL_SCALE``), the precision quantities are kept at internally.
Floats are refused.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from core.errors import DomainError, ErrorCode
from core.money import INTERNAL_SCALE
from core.rating.model import EXACT

Factor = Decimal | Fraction | int | str


def as_fraction(factor: Factor, field: str = "conversionFactor") -> Fraction:
    """A positive conversion factor as an exact ``Fraction``."""
    if isinstance(factor, (bool, float)):
        raise DomainError(ErrorCode.INVALID_VALUE, f"{factor!r} must be a decimal or a ratio, not a float", field)
    try:
        value = Fraction(factor)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        raise DomainError(ErrorCode.INVALID_VALUE, f"{factor!r} is not a conversion factor", field) from None
    if value <= 0:
        raise DomainError(ErrorCode.INVALID_VALUE, f"conversion factor {factor!r} must be positive", field)
    return value


def convert(quantity: Decimal, from_factor: Factor, to_factor: Factor) -> Decimal:
    """``quantity`` in a unit with ``from_factor`` expressed in a unit with ``to_factor`` (both to the base unit).

    Between two units of the same positive Decimal factor (a record in its resource's default unit: rating's
    common case) the ratio is 1, and ``quantity`` itself is what the division would give (``EXACT.plus``: the same
    rounding to the context's precision) — without the trip through ``Fraction``."""
    if type(from_factor) is Decimal and type(to_factor) is Decimal and from_factor == to_factor \
            and from_factor > 0 and type(quantity) is Decimal and quantity.is_finite():
        scaled = EXACT.plus(quantity)
    else:
        exact = Fraction(quantity) * as_fraction(from_factor) / as_fraction(to_factor)
        scaled = EXACT.divide(Decimal(exact.numerator), Decimal(exact.denominator))
    result = scaled.quantize(Decimal(1).scaleb(-INTERNAL_SCALE), rounding=ROUND_HALF_UP, context=EXACT)
    return _plain(result)


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without falling into exponent form (102.000000000000 → 102)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=EXACT)
    return value.normalize(context=EXACT)
