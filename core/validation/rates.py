"""Rate rules (DOMAIN §1.2): chargeable overage needs a rate; tiers are well formed (``core.rating.validate_tiers``)."""

from __future__ import annotations

from collections.abc import Iterator

from core.rating.model import RateTier as PricingTier
from core.rating.tier_rules import validate_tiers
from core.validation.findings import Finding, error
from core.validation.snapshot import ProductSnapshot


def chargeable_overage_without_rate(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: the PUR's effective overage policy is chargeable but its resource has no rate card entry here."""
    for pur in s.purs:
        if s.effective_policy(pur).overage_chargeable and not s.entries_of(pur):
            yield error("CHARGEABLE_OVERAGE_WITHOUT_RATE", "MISSING_RATE",
                        f"overage of {pur.resource_code} is chargeable but no rate card entry prices it; add a rate "
                        f"or make overage not chargeable", pur)


def tiers(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a rate card entry's tiers have a lower bound at or above the upper, overlap, leave a gap, do not start
    at 0, have an open tier before the last, or come without a tier mode."""
    for entry in s.entries:
        if not entry.tiers:
            continue
        if entry.tier_mode is None:
            yield error("TIERS", "TIER_MODE_MISSING", "tiers need a tier mode (TIERED or VOLUME)", entry)
        pricing = [PricingTier(t.lower_bound, t.upper_bound, t.adjustment_type, t.adjustment_value, t.flat_fee)
                   for t in entry.tiers]
        for problem in validate_tiers(pricing):
            yield error("TIERS", f"TIER_{problem.kind}", problem.message, entry)


RULES = (chargeable_overage_without_rate, tiers)
