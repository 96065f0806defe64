"""Rate rules (DOMAIN §1.2): chargeable overage needs a rate; tiers are well formed (``core.rating.validate_tiers``)."""

from __future__ import annotations

from collections.abc import Iterator

from core.catalog import ProductUsageResource, UsageModelType, UsageResource
from core.rating.model import RateTier as PricingTier
from core.rating.tier_rules import validate_tiers
from core.validation.findings import Finding, error, missing_ref, warning
from core.validation.snapshot import ProductSnapshot

RULE = "CHARGEABLE_OVERAGE_WITHOUT_RATE"


def chargeable_overage_without_rate(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: chargeable overage that nothing prices (DOMAIN §1.2). A PUR's overage is priced, in this order, by

    1. a rate card entry for its own resource (this product's or no product's);
    2. when its usage converts to tokens (the PUR's or the resource's ``tokenResource``, DOMAIN §3.7), by the token
       resource's rate — an error names the token resource when it has none;
    3. for a PACK, by an ACTIVE anchor whose wallet it tops up: an ANCHOR product with an ACTIVE PUR and an ACTIVE
       rate for the resource. Anchors that use the resource but do not price it (yet) are an error naming them;
       no anchor using the resource at all is only a warning (the anchor may be configured later).
    """
    for pur in s.purs:
        if not s.effective_policy(pur).overage_chargeable or s.entries_of(pur):
            continue
        token_code = s.token_resource_code(pur)
        if token_code is not None:
            if not s.entries_for(token_code):
                token = s.resources.get(token_code)
                yield error(RULE, "MISSING_TOKEN_RATE",
                            f"overage of {pur.resource_code} is chargeable and converts to tokens of {token_code}, but "
                            f"no rate card entry prices {token_code}; add a rate for {token_code} or make overage "
                            "not chargeable", pur, token if token is not None else missing_ref((UsageResource,
                                                                                                token_code)))
            continue
        if s.product.usage_model_type == UsageModelType.PACK:
            yield from _pack_pricing(s, pur)
            continue
        yield error(RULE, "MISSING_RATE",
                    f"overage of {pur.resource_code} is chargeable but no rate card entry prices it; add a rate "
                    f"or make overage not chargeable", pur)


def _pack_pricing(s: ProductSnapshot, pur: ProductUsageResource) -> Iterator[Finding]:
    code = pur.resource_code
    if any(a.prices(code) for a in s.anchors):
        return
    using = [a for a in s.anchors if a.uses(code)]
    if not using:
        yield warning(RULE, "NO_ANCHOR_FOR_PACK",
                      f"the pack's {code} has no rate of its own and no anchor product uses {code} yet, so its "
                      f"overage is unpriced until an ACTIVE anchor prices {code} (or give the pack a rate)", pur)
        return
    names = ", ".join(a.product.code for a in using)
    yield error(RULE, "NO_ACTIVE_ANCHOR_RATE",
                f"the pack's {code} has no rate of its own and no ACTIVE anchor prices it ({names} use {code}); "
                f"activate an anchor with an ACTIVE rate for {code}, or give the pack a rate",
                pur, *(a.product for a in using))


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
