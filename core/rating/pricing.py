"""The one entry point of rating: pick the pricing model, compute exactly, round once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.errors import DomainError, ErrorCode
from core.money import round_money
from core.rating.graduated import amount as graduated_amount
from core.rating.model import ZERO, PriceSpec, TierMode
from core.rating.standard import amount as standard_amount
from core.rating.volume import amount as volume_amount

Model = Callable[[PriceSpec, Decimal], Decimal]

MODELS: dict[TierMode | None, Model] = {
    None: standard_amount,
    TierMode.TIERED: graduated_amount,
    TierMode.VOLUME: volume_amount,
}


def price(spec: PriceSpec, quantity: Decimal) -> Decimal:
    """The amount of a cumulative overage ``quantity``, rounded half-up to the currency's minor unit."""
    if quantity < ZERO:
        raise DomainError(ErrorCode.NEGATIVE_QUANTITY, f"cannot price a negative quantity {quantity}", "quantity")
    if quantity == ZERO:
        return round_money(ZERO, spec.currency)
    model = MODELS[spec.tier_mode if spec.tiers else None]
    return round_money(model(spec, quantity), spec.currency)


def price_increment(spec: PriceSpec, before: Decimal, after: Decimal) -> Decimal:
    """What moving the cumulative quantity from ``before`` to ``after`` adds to the amount.

    Increments telescope: however a total is split and in whatever order it arrives, they sum to ``price(total)``.
    """
    return price(spec, after) - price(spec, before)
