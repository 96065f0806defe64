"""TIERED (graduated, "slab") pricing: each band of units at its own band's rate, plus each reached band's fee."""

from __future__ import annotations

from decimal import Decimal

from core.rating.model import EXACT, ZERO, PriceSpec


def amount(spec: PriceSpec, quantity: Decimal) -> Decimal:
    """The exact, unrounded amount of a cumulative ``quantity``.

    Units no band holds (only possible with invalid tiers) are priced at the unadjusted rate.
    """
    total = ZERO
    covered = ZERO
    for tier in spec.ordered_tiers:
        units = tier.units_of(quantity)
        if units > 0:
            total = EXACT.add(total, EXACT.add(EXACT.multiply(units, tier.rate(spec.rate)), tier.fee))
            covered = EXACT.add(covered, units)
    uncovered = max(ZERO, EXACT.subtract(quantity, covered))
    return EXACT.add(total, EXACT.multiply(uncovered, spec.rate))
