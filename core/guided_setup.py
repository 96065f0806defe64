"""Guided setup (DOMAIN §1.1): one call plans every record of an ANCHOR or PACK product's usage configuration.

``plan_setup`` is pure. From the input and what the tenant's catalog already holds it checks every field (each
problem reported with its input path, e.g. ``resources.2.grants.0.quantity``) and then plans, all as DRAFT: the
product if new, new usage resources, one PUR per resource (00:00 of the start date to 23:59:59 of the end date,
UTC), product-resource policies (anchors only), grants, and a BASE rate card with one entry per priced resource
and its tiers — wired to the default policies of ``core.policies.DEFAULT_POLICIES``, reusing an existing policy
with the same kind and settings instead of creating a copy. Nothing is written here; the caller writes the plan
all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time
from decimal import Decimal

from core.bounds import DecimalKind, check_count, check_decimal
from core.catalog import (
    CatalogRecord,
    DrawdownOrder,
    GrantType,
    PeriodUnit,
    Policy,
    PolicyKind,
    PolicySet,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    RateTier,
    RecordStatus,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.catalog_service import (
    CATEGORY_FOR_CLASS,
    COMMITMENT_TYPES,
    check_code,
    check_name,
    check_rollover_quantity,
    check_tier_values,
)
from core.catalog_store import Ids
from core.errors import Collector, DomainError, ErrorCode
from core.money import fmt
from core.periods import start_of_day
from core.policies import DEFAULT_POLICIES
from core.rating.model import RateTier as PricingTier
from core.rating.model import TierMode
from core.rating.tier_rules import validate_tiers
from core.values import immutable

MAX_RESOURCES = 20
MAX_GRANTS_PER_RESOURCE = 5
SUPPORTED_TYPES = (UsageModelType.ANCHOR, UsageModelType.PACK)
END_OF_DAY = time(23, 59, 59)

AGGREGATION = DEFAULT_POLICIES["Aggregate Usage Monthly by Sum"]
RATING_FREQUENCY = DEFAULT_POLICIES["Rate Usage Monthly"]
OVERAGE = DEFAULT_POLICIES["Overage Chargeable"]
COMMITMENT = DEFAULT_POLICIES["Lowest Commitment Fulfilled Rate"]
REFRESH = DEFAULT_POLICIES["Renew Grants Monthly"]
ROLLOVER = DEFAULT_POLICIES["Rollover Grants without Expiry"]


# ---------------------------------------------------------------------------------------------- input
@immutable
class NewResource:
    name: str
    unit_class_code: str
    category: ResourceCategory = ResourceCategory.USAGE
    default_unit_code: str | None = None
    token_resource_code: str | None = None
    tokens_per_unit: Decimal | None = None


@immutable
class GuidedGrant:
    quantity: Decimal
    validity_unit: ValidityUnit
    unit_code: str | None = None
    validity_term: int | None = None
    refresh_every: int | None = None  # 0 = never refreshed
    refresh_unit: PeriodUnit | None = None
    rollover: bool | None = None
    maximum_rollover_count: int | None = None
    drawdown_order: DrawdownOrder | None = None
    maximum_rollover_quantity: Decimal | None = None


@immutable
class GuidedResource:
    resource_code: str
    effective_from: datetime
    effective_to: datetime | None = None
    new_resource: NewResource | None = None
    grants: tuple[GuidedGrant, ...] = ()
    overage_rate: Decimal | None = None
    rate_unit_code: str | None = None
    tier_mode: TierMode | None = None
    tiers: tuple[RateTier, ...] = ()


@immutable
class GuidedSetup:
    product_code: str
    usage_model_type: UsageModelType
    resources: tuple[GuidedResource, ...]
    product_name: str | None = None


@immutable
class SetupCatalog:
    """What the tenant's catalog already holds, as far as one setup needs it."""

    product: Product | None
    product_purs: Sequence[ProductUsageResource]
    resources: Mapping[str, UsageResource]  # at least every resource code the input names
    classes: Mapping[str, UnitOfMeasureClass]
    units: Mapping[str, UnitOfMeasure]
    policies: Sequence[Policy]

    def default_currency(self) -> str | None:
        currency = sorted((c for c in self.classes.values() if c.type == UnitClassType.CURRENCY),
                          key=lambda c: (c.code != "CURRENCY", c.code))
        return currency[0].default_unit_code if currency else None


@immutable
class SetupPlan:
    product: Product
    records: tuple[CatalogRecord, ...]  # to create, in dependency order
    reused_policies: tuple[Policy, ...]
    purs: tuple[ProductUsageResource, ...]


# ---------------------------------------------------------------------------------------------- dates
def start_date(value: datetime) -> datetime:
    return start_of_day(value)


def end_date(value: datetime) -> datetime:
    """23:59:59 UTC of the day ``value`` falls on."""
    return datetime.combine(start_of_day(value).date(), END_OF_DAY, tzinfo=UTC)


def overlaps(a: tuple[datetime, datetime | None], b: tuple[datetime, datetime | None]) -> bool:
    return (b[1] is None or a[0] < b[1]) and (a[1] is None or b[0] < a[1])


# ---------------------------------------------------------------------------------------------- policies
def refresh_template(grant: GuidedGrant) -> Policy | None:
    """The refresh policy a grant asks for; None when the input is contradictory (reported by the checks)."""
    if grant.refresh_every is None and grant.refresh_unit is None:
        return REFRESH
    every = 1 if grant.refresh_every is None else grant.refresh_every
    if every == 0:
        return Policy(id="", kind=PolicyKind.GRANT_REFRESH, name="Do Not Renew Grants", refresh_allowed=False)
    unit = grant.refresh_unit or PeriodUnit.MONTH
    if (every, unit) == (REFRESH.refresh_frequency, REFRESH.refresh_unit):
        return REFRESH
    label = unit.value.title() + ("s" if every > 1 else "")
    return Policy(id="", kind=PolicyKind.GRANT_REFRESH, name=f"Renew Grants Every {every} {label}",
                  refresh_allowed=True, refresh_frequency=every, refresh_unit=unit)


def rollover_template(grant: GuidedGrant) -> Policy:
    """The rollover policy a grant asks for. Reuse goes by settings (``Policy.settings``), so two grants with the
    same count and quantity cap share one policy, and a cap makes a policy distinct from the uncapped one."""
    if grant.rollover is False:
        return Policy(id="", kind=PolicyKind.GRANT_ROLLOVER, name="Do Not Roll Over Grants", rollover_allowed=False,
                      rollover_can_expire=False)
    cap = grant.maximum_rollover_quantity
    if grant.maximum_rollover_count is None and cap is None:
        return ROLLOVER
    n = grant.maximum_rollover_count
    name = f"Rollover Grants, Expire after {n} Rollovers" if n is not None else "Rollover Grants without Expiry"
    if cap is not None:
        name += f", at most {fmt(cap)} per Rollover"
    return Policy(id="", kind=PolicyKind.GRANT_ROLLOVER, name=name, rollover_allowed=True,
                  rollover_can_expire=n is not None, maximum_rollover_count=n, maximum_rollover_quantity=cap)


class PolicyPicker:
    """One policy per (kind, settings): an existing ACTIVE or DRAFT one if the tenant has it, else a new one."""

    def __init__(self, existing: Sequence[Policy], ids: Ids):
        self.ids = ids
        self.by_settings: dict[tuple[object, ...], Policy] = {}
        live = [p for p in existing if p.status != RecordStatus.INACTIVE]
        for policy in sorted(live, key=lambda p: (p.status != RecordStatus.ACTIVE, p.id)):
            self.by_settings.setdefault((policy.kind, *policy.settings()), policy)
        self.created: list[Policy] = []
        self.reused: dict[str, Policy] = {}

    def pick(self, template: Policy) -> str:
        key = (template.kind, *template.settings())
        found = self.by_settings.get(key)
        if found is None:
            found = replace(template, id=self.ids.policy(), status=RecordStatus.DRAFT)
            self.by_settings[key] = found
            self.created.append(found)
        elif found not in self.created:
            self.reused[found.id] = found
        return found.id


# ---------------------------------------------------------------------------------------------- checks
class SetupChecker:
    """Every field of one setup input against the catalog; problems go to one Collector with input paths."""

    def __init__(self, setup: GuidedSetup, catalog: SetupCatalog):
        self.setup = setup
        self.catalog = catalog
        self.errors = Collector()
        self.new_resources: dict[str, UsageResource] = {}

    def add(self, code: str, message: str, field: str) -> None:
        self.errors.add(code, message, field)

    def resource(self, index: int) -> UsageResource | None:
        """The resource entry ``index`` names (existing or new), or None when it is at fault."""
        item = self.setup.resources[index]
        path = f"resources.{index}"
        code = item.resource_code
        existing = self.catalog.resources.get(code)
        if item.new_resource is not None:
            if existing is not None:
                self.add(ErrorCode.DUPLICATE_CODE, f"resource '{code}' already exists; leave out newResource to "
                         "use it", f"{path}.resourceCode")
                return None
            if code in self.new_resources:
                self.add(ErrorCode.DUPLICATE_CODE, f"resource '{code}' is already created by an earlier entry; "
                         "leave out newResource here", f"{path}.newResource")
                return None
            created = self.new_resource(index, item.new_resource)
            if created is not None:
                self.new_resources[code] = created
            return created
        if existing is None:
            existing = self.new_resources.get(code)
        if existing is None:
            self.add(ErrorCode.UNKNOWN_RESOURCE, f"resource '{code}' does not exist; add newResource to create it",
                     f"{path}.resourceCode")
        elif existing.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"resource '{code}' is INACTIVE", f"{path}.resourceCode")
            return None
        return existing

    def new_resource(self, index: int, new: NewResource) -> UsageResource | None:
        path = f"resources.{index}.newResource"
        code = self.setup.resources[index].resource_code
        before = len(self.errors.details)
        check_code(self.errors, code, f"resources.{index}.resourceCode")
        check_name(self.errors, new.name, f"{path}.name")
        check_decimal(self.errors, new.tokens_per_unit, DecimalKind.FACTOR, f"{path}.tokensPerUnit")
        cls = self.catalog.classes.get(new.unit_class_code)
        default_unit = new.default_unit_code
        if cls is None:
            self.add(ErrorCode.UNKNOWN_REFERENCE, f"unit class '{new.unit_class_code}' does not exist",
                     f"{path}.unitOfMeasureClassCode")
        else:
            if cls.status == RecordStatus.INACTIVE:
                self.add(ErrorCode.INACTIVE_REFERENCE, f"unit class '{cls.code}' is INACTIVE",
                         f"{path}.unitOfMeasureClassCode")
            if CATEGORY_FOR_CLASS[cls.type] != new.category:
                self.add(ErrorCode.INVALID_VALUE, f"a {new.category} resource needs a {new.category} unit class, "
                         f"'{cls.code}' is {cls.type}", f"{path}.category")
            default_unit = default_unit or cls.default_unit_code
            self.unit_in_class(default_unit, cls.code, f"{path}.defaultUnitCode")
        if new.token_resource_code:
            token = self.catalog.resources.get(new.token_resource_code) or self.new_resources.get(
                new.token_resource_code)
            if token is None:
                self.add(ErrorCode.UNKNOWN_RESOURCE, f"token resource '{new.token_resource_code}' does not exist",
                         f"{path}.tokenResourceCode")
            elif token.category != ResourceCategory.TOKEN:
                self.add(ErrorCode.INVALID_VALUE, f"'{token.code}' is not a TOKEN resource",
                         f"{path}.tokenResourceCode")
            elif token.status == RecordStatus.INACTIVE:
                self.add(ErrorCode.INACTIVE_REFERENCE, f"token resource '{token.code}' is INACTIVE",
                         f"{path}.tokenResourceCode")
            if new.tokens_per_unit is None or new.tokens_per_unit <= 0:
                self.add(ErrorCode.INVALID_VALUE, "tokensPerUnit must be greater than 0 with a token resource",
                         f"{path}.tokensPerUnit")
        elif new.tokens_per_unit is not None:
            self.add(ErrorCode.INVALID_VALUE, "tokensPerUnit needs a tokenResourceCode", f"{path}.tokensPerUnit")
        if len(self.errors.details) > before or cls is None or default_unit is None:
            return None
        return UsageResource(code, new.name.strip(), new.category, cls.code, default_unit, new.token_resource_code,
                             new.tokens_per_unit)

    def unit_in_class(self, unit_code: str, class_code: str, field: str) -> UnitOfMeasure | None:
        unit = self.catalog.units.get(unit_code)
        if unit is None:
            self.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", field)
        elif unit.class_code != class_code:
            self.add(ErrorCode.UNIT_NOT_IN_CLASS,
                     f"unit '{unit_code}' belongs to class '{unit.class_code}', not '{class_code}'", field)
        elif unit.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"unit '{unit_code}' is INACTIVE", field)
        else:
            return unit
        return None

    def dates(self, index: int) -> tuple[datetime, datetime | None]:
        item = self.setup.resources[index]
        start = start_date(item.effective_from)
        end = end_date(item.effective_to) if item.effective_to is not None else None
        if end is not None and end < start:
            self.add(ErrorCode.INVALID_RANGE, f"the end date {end.date()} is before the start date {start.date()}",
                     f"resources.{index}.effectiveTo")
        return start, end

    def grant(self, index: int, g_index: int, resource: UsageResource | None) -> None:
        grant = self.setup.resources[index].grants[g_index]
        path = f"resources.{index}.grants.{g_index}"
        if grant.quantity == 0:
            self.add(ErrorCode.INVALID_VALUE, "quantity must be greater than 0", f"{path}.quantity")
        check_decimal(self.errors, grant.quantity, DecimalKind.QUANTITY, f"{path}.quantity")
        if resource is not None:
            self.unit_in_class(grant.unit_code or resource.default_unit_code, resource.unit_class_code,
                               f"{path}.unitCode")
        if grant.validity_unit == ValidityUnit.NONE and grant.validity_term is not None:
            self.add(ErrorCode.INVALID_VALUE, "validityTerm must be empty when validityUnit is NONE",
                     f"{path}.validityTerm")
        elif grant.validity_term is not None and grant.validity_term < 1:
            self.add(ErrorCode.INVALID_VALUE, "validityTerm must be 1 or more", f"{path}.validityTerm")
        for name, value in (("validityTerm", grant.validity_term), ("refreshEvery", grant.refresh_every),
                            ("maximumRolloverCount", grant.maximum_rollover_count)):
            check_count(self.errors, value, f"{path}.{name}")
        if grant.refresh_every is not None and grant.refresh_every < 0:
            self.add(ErrorCode.INVALID_VALUE, "refreshEvery must be 0 (never) or more", f"{path}.refreshEvery")
        if grant.refresh_every == 0 and grant.refresh_unit is not None:
            self.add(ErrorCode.INVALID_VALUE, "refreshUnit needs refreshEvery of 1 or more", f"{path}.refreshUnit")
        if grant.maximum_rollover_count is not None:
            if grant.rollover is False:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverCount needs rollover",
                         f"{path}.maximumRolloverCount")
            elif grant.maximum_rollover_count < 1:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverCount must be 1 or more",
                         f"{path}.maximumRolloverCount")
        if grant.maximum_rollover_quantity is not None:
            if grant.rollover is False:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverQuantity needs rollover",
                         f"{path}.maximumRolloverQuantity")
            else:
                cap_errors = Collector()
                check_rollover_quantity(cap_errors, grant.maximum_rollover_quantity, "maximumRolloverQuantity")
                for detail in cap_errors.details:
                    self.add(detail.code, detail.message, f"{path}.maximumRolloverQuantity")

    def rate(self, index: int) -> str | None:
        """The rate unit of entry ``index`` (checked), or None when it has no rate."""
        item = self.setup.resources[index]
        path = f"resources.{index}"
        if item.overage_rate is None:
            for name, given in (("rateUnitCode", item.rate_unit_code), ("tierMode", item.tier_mode),
                                ("tiers", item.tiers)):
                if given:
                    self.add(ErrorCode.REQUIRED, f"{name} needs an overageRate", f"{path}.overageRate")
                    break
            return None
        check_decimal(self.errors, item.overage_rate, DecimalKind.RATE, f"{path}.overageRate")
        unit_code = item.rate_unit_code or self.catalog.default_currency()
        if unit_code is None:
            self.add(ErrorCode.REQUIRED, "rateUnitCode is required (the tenant has no currency)",
                     f"{path}.rateUnitCode")
            return None
        unit = self.catalog.units.get(unit_code)
        cls = self.catalog.classes.get(unit.class_code) if unit else None
        if unit is None:
            self.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", f"{path}.rateUnitCode")
        elif cls is not None and cls.type not in (UnitClassType.CURRENCY, UnitClassType.TOKEN):
            self.add(ErrorCode.UNIT_NOT_IN_CLASS,
                     f"rate unit '{unit_code}' must be a CURRENCY or TOKEN unit, not {cls.type}",
                     f"{path}.rateUnitCode")
        elif unit.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"unit '{unit_code}' is INACTIVE", f"{path}.rateUnitCode")
        if item.tiers and item.tier_mode is None:
            self.add(ErrorCode.REQUIRED, "tiers need a tierMode (TIERED or VOLUME)", f"{path}.tierMode")
        if item.tier_mode is not None and not item.tiers:
            self.add(ErrorCode.INVALID_VALUE, "tierMode needs tiers", f"{path}.tierMode")
        pricing = [PricingTier(t.lower_bound, t.upper_bound, t.adjustment_type, t.adjustment_value, t.flat_fee)
                   for t in item.tiers]
        for problem in validate_tiers(pricing):
            self.add(ErrorCode.INVALID_RANGE, problem.message,
                     f"{path}.tiers.{problem.indexes[0]}" if problem.indexes else f"{path}.tiers")
        check_tier_values(self.errors, item.tiers, f"{path}.")
        return unit_code


# ---------------------------------------------------------------------------------------------- the plan
def check_product(setup: GuidedSetup, catalog: SetupCatalog, errors: Collector) -> Product | None:
    if setup.usage_model_type in COMMITMENT_TYPES:
        raise DomainError(ErrorCode.UNSUPPORTED_MODEL_TYPE,
                          f"guided setup configures ANCHOR and PACK products; configure a {setup.usage_model_type} "
                          "product manually (createProduct, createProductUsageResource, createProductUsageGrant, …)",
                          "usageModelType")
    existing = catalog.product
    if existing is not None:
        if existing.usage_model_type in COMMITMENT_TYPES:
            raise DomainError(ErrorCode.UNSUPPORTED_MODEL_TYPE,
                              f"product '{existing.code}' is a {existing.usage_model_type} product; configure it "
                              "manually", "productCode")
        if existing.usage_model_type != setup.usage_model_type:
            errors.add(ErrorCode.INVALID_VALUE, f"product '{existing.code}' is a {existing.usage_model_type} "
                       f"product, not {setup.usage_model_type}", "usageModelType")
        if existing.status == RecordStatus.INACTIVE:
            errors.add(ErrorCode.STATUS_FORBIDS, f"product '{existing.code}' is INACTIVE", "productCode")
        return existing
    check_code(errors, setup.product_code, "productCode")
    name = setup.product_code if setup.product_name is None else setup.product_name.strip()
    check_name(errors, setup.product_name, "productName")
    return Product(setup.product_code, name, setup.usage_model_type)


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


__all__ = ["GuidedGrant", "GuidedResource", "GuidedSetup", "Ids", "NewResource", "SetupCatalog", "SetupPlan",
           "plan_setup"]
