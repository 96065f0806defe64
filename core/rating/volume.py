"""VOLUME ("range") pricing: every unit at the rate of the band the total falls in, plus that band's fee."""

from __future__ import annotations

from decimal import Decimal

from core.rating.model import EXACT, ZERO, PriceSpec


def amount(spec: PriceSpec, quantity: Decimal) -> Decimal:
    """The exact, unrounded amount of a cumulative ``quantity``.

    A total no band holds (only possible with invalid tiers) is priced at the unadjusted rate, without a fee.
    """
    if quantity <= ZERO:
        return ZERO
    for tier in spec.ordered_tiers:
        if tier.contains(quantity):
            return EXACT.add(EXACT.multiply(quantity, tier.rate(spec.rate)), tier.fee)
    return EXACT.multiply(quantity, spec.rate)
