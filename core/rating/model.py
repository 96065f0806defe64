"""The plain data a price is computed from: a base rate, a currency and optional tiers."""

from __future__ import annotations

from decimal import Context, Decimal
from enum import StrEnum

from core.errors import DomainError, ErrorCode
from core.values import immutable

#: Arithmetic context for exact intermediate amounts; the only rounding is ``round_money`` at the end.
EXACT = Context(prec=80)
ZERO = Decimal(0)
HUNDRED = Decimal(100)


class TierMode(StrEnum):
    TIERED = "TIERED"
    VOLUME = "VOLUME"


class AdjustmentType(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    AMOUNT = "AMOUNT"
    OVERRIDE = "OVERRIDE"


@immutable
class RateTier:
    """A band of cumulative quantity ``(lower_bound, upper_bound]`` with its own rate and optional flat fee."""

    lower_bound: Decimal
    upper_bound: Decimal | None
    adjustment_type: AdjustmentType
    adjustment_value: Decimal
    flat_fee: Decimal | None = None

    def rate(self, base: Decimal) -> Decimal:
        """The band's per-unit rate: PERCENTAGE rate×(1−v/100), AMOUNT rate−v, OVERRIDE v."""
        if self.adjustment_type == AdjustmentType.PERCENTAGE:
            return EXACT.multiply(base, EXACT.subtract(Decimal(1), EXACT.divide(self.adjustment_value, HUNDRED)))
        if self.adjustment_type == AdjustmentType.AMOUNT:
            return EXACT.subtract(base, self.adjustment_value)
        return self.adjustment_value

    def units_of(self, quantity: Decimal) -> Decimal:
        """How much of a cumulative ``quantity`` lies in this band."""
        top = quantity if self.upper_bound is None else min(quantity, self.upper_bound)
        return max(ZERO, EXACT.subtract(top, self.lower_bound))

    def contains(self, quantity: Decimal) -> bool:
        """True when a total of ``quantity`` falls in this band (a total equal to the upper bound does)."""
        return self.lower_bound < quantity and (self.upper_bound is None or quantity <= self.upper_bound)

    @property
    def fee(self) -> Decimal:
        return self.flat_fee or ZERO


@immutable
class PriceSpec:
    """How overage is priced: ``rate`` per default unit, in ``currency``, optionally tiered."""

    rate: Decimal
    currency: str | None = None
    tier_mode: TierMode | None = None
    tiers: tuple[RateTier, ...] = ()

    def __post_init__(self) -> None:
        if self.tiers and self.tier_mode is None:
            raise DomainError(ErrorCode.INVALID_VALUE, "tiers need a tier mode (TIERED or VOLUME)", "tierMode")

    @property
    def ordered_tiers(self) -> tuple[RateTier, ...]:
        return tuple(sorted(self.tiers, key=lambda tier: tier.lower_bound))
