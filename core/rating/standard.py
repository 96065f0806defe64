"""Per-unit pricing without tiers: quantity × rate."""

from __future__ import annotations

from decimal import Decimal

from core.rating.model import EXACT, PriceSpec


def amount(spec: PriceSpec, quantity: Decimal) -> Decimal:
    """The exact, unrounded amount of ``quantity`` units."""
    return EXACT.multiply(quantity, spec.rate)
