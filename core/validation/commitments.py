"""Commitment rules (DOMAIN §1.2): a commitment product commits to the right kind of resource, through a COMMIT
grant; and no product carries more than one TOKEN resource."""

from __future__ import annotations

from collections.abc import Iterator

from core.catalog import GrantType, ResourceCategory, UsageModelType
from core.validation.findings import Finding, error
from core.validation.snapshot import ProductSnapshot

RULE = "COMMITMENTS"
REQUIRED_CATEGORY = {
    UsageModelType.TOKEN_COMMITMENT: ResourceCategory.TOKEN,
    UsageModelType.QUANTITY_COMMITMENT: ResourceCategory.USAGE,
    UsageModelType.MONETARY_COMMITMENT: ResourceCategory.CURRENCY,
}


def commitment_shape(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a commitment product without a resource of its category, or without a COMMIT grant."""
    category = REQUIRED_CATEGORY.get(s.product.usage_model_type)
    if category is None:
        return
    kind = s.product.usage_model_type
    resources = [s.resources[p.resource_code] for p in s.purs if p.resource_code in s.resources]
    if not any(r.category == category for r in resources):
        yield error(RULE, "COMMITMENT_RESOURCE_MISSING", f"a {kind} product needs a {category} resource", s.product)
    if not any(g.type == GrantType.COMMIT for g in s.all_grants()):
        yield error(RULE, "COMMITMENT_GRANT_MISSING", f"a {kind} product needs a COMMIT grant", s.product)


def one_token_resource(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: the product's PURs lead to more than one TOKEN resource (directly or as token links)."""
    codes: set[str] = set()
    for pur in s.purs:
        resource = s.resources.get(pur.resource_code)
        if resource is not None and resource.category == ResourceCategory.TOKEN:
            codes.add(resource.code)
        codes.update(c for c in (pur.token_resource_code, resource.token_resource_code if resource else None) if c)
    if len(codes) > 1:
        named = [s.resources[c] for c in sorted(codes) if c in s.resources]
        yield error(RULE, "MULTIPLE_TOKEN_RESOURCES",
                    f"a product may use one TOKEN resource, this one uses {', '.join(sorted(codes))}",
                    s.product, *named)


RULES = (commitment_shape, one_token_resource)
