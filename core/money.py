"""Decimal arithmetic for money and quantities: parsing, scale checks and the one rounding function."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

#: ISO 4217 minor units of the currencies every tenant starts with (code → (name, decimal places)).
CURRENCIES: dict[str, tuple[str, int]] = {
    "USD": ("US Dollar", 2),
    "EUR": ("Euro", 2),
    "GBP": ("Pound Sterling", 2),
    "JPY": ("Yen", 0),
    "INR": ("Indian Rupee", 2),
    "CAD": ("Canadian Dollar", 2),
    "AUD": ("Australian Dollar", 2),
    "CHF": ("Swiss Franc", 2),
    "CNY": ("Yuan Renminbi", 2),
    "SEK": ("Swedish Krona", 2),
    "NOK": ("Norwegian Krone", 2),
    "DKK": ("Danish Krone", 2),
    "BRL": ("Brazilian Real", 2),
    "MXN": ("Mexican Peso", 2),
    "SGD": ("Singapore Dollar", 2),
    "KRW": ("Won", 0),
    "BHD": ("Bahraini Dinar", 3),
    "KWD": ("Kuwaiti Dinar", 3),
}

#: Quantities carry at most this many decimal places (DOMAIN §2: quantity scale ≤ 6).
QUANTITY_SCALE = 6
#: Internal precision kept for unit conversion and intermediate amounts before the final rounding.
INTERNAL_SCALE = 12
ZERO = Decimal(0)


def minor_units(currency: str | None) -> int:
    """Decimal places of a currency's minor unit; unknown codes (token units) default to 2."""
    if currency is None:
        return 2
    entry = CURRENCIES.get(currency.upper())
    return entry[1] if entry else 2


def scale_of(value: Decimal) -> int:
    """Number of decimal places actually used (trailing zeros do not count); safe for any finite Decimal (no
    arithmetic context, so no overflow on a huge value)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if not any(digits):
        return 0
    trailing = 0
    for digit in reversed(digits):
        if digit != 0:
            break
        trailing += 1
    return max(0, -(exponent + trailing))


def round_money(amount: Decimal, currency: str | None) -> Decimal:
    """The one rounding of money: half-up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def floor_quantity(quantity: Decimal, scale: int = QUANTITY_SCALE) -> Decimal:
    """Round a quantity down to ``scale`` places (never grants more than was paid for)."""
    return quantity.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_FLOOR)


def normalize_quantity(quantity: Decimal) -> Decimal:
    """Quantities are compared and stored without noise: at most INTERNAL_SCALE places, no exponent form."""
    q = quantity.quantize(Decimal(1).scaleb(-INTERNAL_SCALE), rounding=ROUND_HALF_UP).normalize()
    # normalize() may produce exponent form such as 1E+3; bring it back to a plain integer exponent >= 0
    if q.as_tuple().exponent > 0:  # type: ignore[operator]
        q = q.quantize(Decimal(1))
    return q


def fmt(value: Decimal) -> str:
    """Plain string of a Decimal, never in exponent notation."""
    return format(value, "f")
