"""Planning: check the whole input (``core.guided_setup.checker``), then build every record to create, in
dependency order (``plan_setup``)."""

from __future__ import annotations

from datetime import datetime

from core.catalog import (
    CatalogRecord,
    DrawdownOrder,
    GrantType,
    PolicySet,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    ResourceCategory,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.catalog.store import Ids
from core.errors import DomainError, ErrorCode
from core.guided_setup.checker import SetupChecker, check_product, overlaps
from core.guided_setup.model import GuidedResource, GuidedSetup, SetupCatalog, SetupPlan
from core.guided_setup.policies import (
    AGGREGATION,
    COMMITMENT,
    OVERAGE,
    RATING_FREQUENCY,
    PolicyPicker,
    refresh_template,
    rollover_template,
)

MAX_RESOURCES = 20
MAX_GRANTS_PER_RESOURCE = 5


def plan_setup(setup: GuidedSetup, catalog: SetupCatalog, ids: Ids) -> SetupPlan:
    """Check the whole input, then plan every record to create; raises one DomainError listing every problem."""
    checker = SetupChecker(setup, catalog)
    errors = checker.errors
    product = check_product(setup, catalog, errors)
    if not setup.resources:
        raise DomainError(ErrorCode.REQUIRED, "name at least one resource", "resources")
    if len(setup.resources) > MAX_RESOURCES:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {MAX_RESOURCES} resources per call "
                          f"(got {len(setup.resources)})", "resources")
    resources: list[UsageResource | None] = []
    ranges: list[tuple[datetime, datetime | None]] = []
    rate_units: list[str | None] = []
    taken = [(p.resource_code, (p.effective_from, p.effective_to)) for p in catalog.product_purs]
    for index, item in enumerate(setup.resources):
        resource = checker.resource(index)
        resources.append(resource)
        span = checker.dates(index)
        ranges.append(span)
        if any(code == item.resource_code and overlaps(span, other) for code, other in taken):
            errors.add(ErrorCode.INVALID_RANGE, f"{item.resource_code} is already in the product for part of "
                       f"{span[0].date()} – {span[1].date() if span[1] else 'open end'}", f"resources.{index}"
                       ".effectiveFrom")
        taken.append((item.resource_code, span))
        if len(item.grants) > MAX_GRANTS_PER_RESOURCE:
            errors.add(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {MAX_GRANTS_PER_RESOURCE} grants per resource "
                       f"(got {len(item.grants)})", f"resources.{index}.grants")
        else:
            for g_index in range(len(item.grants)):
                checker.grant(index, g_index, resource)
        rate_units.append(checker.rate(index))
    errors.raise_if_any()
    assert product is not None
    return build(setup, catalog, ids, product, [r for r in resources if r is not None], ranges, rate_units,
                 list(checker.new_resources.values()))


def build(setup: GuidedSetup, catalog: SetupCatalog, ids: Ids, product: Product, resources: list[UsageResource],
          ranges: list[tuple[datetime, datetime | None]], rate_units: list[str | None],
          new_resources: list[UsageResource]) -> SetupPlan:
    policies = PolicyPicker(catalog.policies, ids)
    purs: list[ProductUsageResource] = []
    product_policies: list[ProductResourcePolicy] = []
    grants: list[ProductUsageGrant] = []
    priced: list[tuple[ProductUsageResource, GuidedResource, str]] = []
    for item, resource, (start, end), rate_unit in zip(setup.resources, resources, ranges, rate_units, strict=True):
        pur = ProductUsageResource(ids.pur(product.code), product.code, resource.code, start, end)
        purs.append(pur)
        if product.usage_model_type != UsageModelType.PACK:
            product_policies.append(ProductResourcePolicy(product.code, pur.id, PolicySet(
                aggregation_policy_id=policies.pick(AGGREGATION),
                rating_frequency_policy_id=policies.pick(RATING_FREQUENCY),
                overage_policy_id=policies.pick(OVERAGE),
                commitment_policy_id=policies.pick(COMMITMENT))))
        for grant in item.grants:
            refresh = refresh_template(grant)
            unit = grant.validity_unit
            term = None if unit == ValidityUnit.NONE else (grant.validity_term or 1)
            grants.append(ProductUsageGrant(
                ids.grant(pur.id), product.code, pur.id, GrantType.GRANT, grant.quantity,
                grant.unit_code or resource.default_unit_code, term, unit, start, end,
                refresh_policy_id=policies.pick(refresh) if refresh else None,
                rollover_policy_id=policies.pick(rollover_template(grant)),
                drawdown_order=grant.drawdown_order or DrawdownOrder.EXPIRING_FIRST))
        if rate_unit is not None:
            priced.append((pur, item, rate_unit))
    rate_records: list[CatalogRecord] = []
    if priced:
        ends = [pur.effective_to for pur, _, _ in priced]
        card = RateCard(ids.rate_card(), f"{product.name} base rates", RateCardType.BASE,
                        min(pur.effective_from for pur, _, _ in priced),
                        None if any(e is None for e in ends) else max(e for e in ends if e is not None))
        rate_records.append(card)
        for pur, item, rate_unit in priced:
            assert item.overage_rate is not None
            rate_records.append(RateCardEntry(
                ids.rate_entry(card.id), card.id, pur.resource_code, product.code, item.overage_rate, rate_unit,
                pur.effective_from, pur.effective_to, item.tier_mode,
                tuple(sorted(item.tiers, key=lambda t: t.lower_bound))))
    tokens_first = sorted(new_resources, key=lambda r: (r.category != ResourceCategory.TOKEN, r.code))
    records: list[CatalogRecord] = [*policies.created, *tokens_first]
    if catalog.product is None:
        records.append(product)
    records += [*purs, *product_policies, *grants, *rate_records]
    return SetupPlan(product, tuple(records), tuple(policies.reused.values()), tuple(purs))
