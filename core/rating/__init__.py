"""Rating: the price of a cumulative overage quantity under per-unit, TIERED or VOLUME pricing.

One small module per pricing model (``standard``, ``graduated``, ``volume``) behind one dispatch in ``pricing``.
"""

from core.rating.model import AdjustmentType, PriceSpec, RateTier, TierMode
from core.rating.pricing import price, price_increment
from core.rating.tier_rules import TierProblem, TierProblemKind, validate_tiers
from core.rating.units import convert

__all__ = [
    "AdjustmentType",
    "PriceSpec",
    "RateTier",
    "TierMode",
    "TierProblem",
    "TierProblemKind",
    "convert",
    "price",
    "price_increment",
    "validate_tiers",
]
