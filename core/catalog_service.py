"""Manual configuration of the catalog: create, update and delete every catalog record by the DOMAIN §1 rules.

The service is pure logic over the ``CatalogStore`` port: it checks values and references, applies the status
rules (``core.lifecycle``) and hands records to the store. Every problem in one input is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from core import lifecycle
from core.bounds import MAX_NAME, DecimalKind, check_count, check_decimal, check_text, quote
from core.catalog import (
    CODE_PATTERN,
    POLICY_FIELDS,
    RESOURCE_POLICY_KINDS,
    BindingTargetType,
    BindingType,
    CatalogRecord,
    DrawdownOrder,
    GrantBindingPolicy,
    GrantType,
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
    ResourcePolicy,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
    pricing_spec,
)
from core.catalog_store import CatalogStore, Ids
from core.errors import Collector, DomainError, ErrorCode, NotFound
from core.rating.model import RateTier as PricingTier
from core.rating.model import TierMode
from core.rating.tier_rules import validate_tiers

R = TypeVar("R", bound=CatalogRecord)
L = TypeVar("L", ResourcePolicy, ProductResourcePolicy, GrantBindingPolicy)

CATEGORY_FOR_CLASS = {
    UnitClassType.USAGE: ResourceCategory.USAGE,
    UnitClassType.TOKEN: ResourceCategory.TOKEN,
    UnitClassType.CURRENCY: ResourceCategory.CURRENCY,
}
COMMITMENT_TYPES = {UsageModelType.TOKEN_COMMITMENT, UsageModelType.QUANTITY_COMMITMENT,
                    UsageModelType.MONETARY_COMMITMENT}


def check_code(errors: Collector, code: str, field: str = "code") -> None:
    if not re.match(CODE_PATTERN, code or ""):
        errors.add(ErrorCode.INVALID_VALUE,
                   f"code {quote(code)} must be 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit",
                   field)


def check_range(errors: Collector, start: datetime | None, end: datetime | None,
                field: str = "effectiveTo", what: str = "end") -> None:
    if start is not None and end is not None and end <= start:
        errors.add(ErrorCode.INVALID_RANGE, f"{what} {end.isoformat()} must be after start {start.isoformat()}",
                   field)


def check_name(errors: Collector, name: str | None, field: str = "name") -> None:
    """A name: not empty, at most ``core.bounds.MAX_NAME`` characters, plain text (no lone surrogates)."""
    if name is not None and not name.strip():
        errors.add(ErrorCode.REQUIRED, f"{field} must not be empty", field)
    else:
        check_text(errors, name, field, MAX_NAME)


def check_tier_values(errors: Collector, tiers: Sequence[PricingTier | RateTier], path: str = "") -> None:
    """Each tier's bounds are quantities, its adjustment and flat fee inside their kinds (``core.bounds``)."""
    for index, tier in enumerate(tiers):
        at = f"{path}tiers.{index}."
        check_decimal(errors, tier.lower_bound, DecimalKind.QUANTITY, at + "lowerBound")
        check_decimal(errors, tier.upper_bound, DecimalKind.QUANTITY, at + "upperBound")
        check_decimal(errors, tier.adjustment_value, DecimalKind.ADJUSTMENT, at + "adjustmentValue")
        check_decimal(errors, tier.flat_fee, DecimalKind.AMOUNT, at + "flatFee")


def check_non_negative(errors: Collector, value: Decimal | None, field: str) -> None:
    if value is not None and value < 0:
        errors.add(ErrorCode.NEGATIVE_QUANTITY, f"{field} must not be negative (got {value})", field)


#: the largest rollover cap accepted (DynamoDB numbers hold 38 digits; quantities have 6 decimal places)


def check_rollover_quantity(errors: Collector, value: Decimal | None, field: str) -> None:
    """A rollover cap is a quantity (core.bounds): 0 (nothing carries over) or more, within a quantity's bounds."""
    check_decimal(errors, value, DecimalKind.QUANTITY, field)


class CatalogService:
    def __init__(self, store: CatalogStore, ids: Ids | None = None):
        self.store = store
        self._ids = ids

    @property
    def ids(self) -> Ids:
        if self._ids is None:
            raise TypeError("this CatalogService was built without Ids: it cannot create records that need new ids")
        return self._ids

    # ------------------------------------------------------------------------------------------ lookups
    def require(self, kind: type[R], key: str | None, field: str | None = None) -> R:
        record = self.store.get(kind, key) if key else None
        if record is None:
            raise DomainError(ErrorCode.UNKNOWN_REFERENCE, f"{kind.__name__} '{key}' does not exist", field)
        return record

    def _ref(self, errors: Collector, kind: type[R], key: str | None, field: str) -> R | None:
        """The record ``key`` names (None: no reference). An empty code names nothing: REQUIRED."""
        if not key:
            if key is not None:
                errors.add(ErrorCode.REQUIRED, f"{field} must not be empty", field)
            return None
        record = self.store.get(kind, key)
        if record is None:
            errors.add(ErrorCode.UNKNOWN_REFERENCE, f"{kind.__name__} '{key}' does not exist", field)
        return record

    def _unit(self, errors: Collector, unit_code: str | None, class_code: str, field: str) -> UnitOfMeasure | None:
        if not unit_code:
            return None
        unit = self.store.get(UnitOfMeasure, unit_code)
        if unit is None:
            errors.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", field)
        elif unit.class_code != class_code:
            errors.add(ErrorCode.UNIT_NOT_IN_CLASS,
                       f"unit '{unit_code}' belongs to class '{unit.class_code}', not '{class_code}'", field)
        return unit

    # ------------------------------------------------------------------------------------------ checks per kind
    def check(self, record: CatalogRecord) -> None:
        """Every value and reference rule of the record's kind; raises one DomainError listing all problems."""
        errors = Collector()
        checker = getattr(self, f"_check_{type(record).__name__}")
        checker(errors, record)
        errors.raise_if_any()

    def _check_UnitOfMeasureClass(self, errors: Collector, c: UnitOfMeasureClass) -> None:
        check_code(errors, c.code)
        check_name(errors, c.name)
        units = {u.unit_code: u for u in self.store.units_of_class(c.code)}
        if units:
            if c.base_unit_code not in units:
                errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"base unit '{c.base_unit_code}' is not in the class",
                           "baseUnitCode")
            elif units[c.base_unit_code].conversion_factor != 1:
                errors.add(ErrorCode.INVALID_VALUE, "the base unit's conversion factor must be 1", "baseUnitCode")
            if c.default_unit_code not in units:
                errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"default unit '{c.default_unit_code}' is not in the class",
                           "defaultUnitCode")

    def _check_UnitOfMeasure(self, errors: Collector, u: UnitOfMeasure) -> None:
        check_code(errors, u.unit_code, "unitCode")
        check_name(errors, u.name)
        self._ref(errors, UnitOfMeasureClass, u.class_code, "classCode")
        check_decimal(errors, u.conversion_factor, DecimalKind.FACTOR, "conversionFactor")
        if u.decimal_places is not None and not 0 <= u.decimal_places <= 6:
            errors.add(ErrorCode.INVALID_VALUE, "decimalPlaces must be between 0 and 6", "decimalPlaces")

    def _check_UsageResource(self, errors: Collector, r: UsageResource) -> None:
        check_code(errors, r.code)
        check_name(errors, r.name)
        check_decimal(errors, r.tokens_per_unit, DecimalKind.FACTOR, "tokensPerUnit")
        cls = self._ref(errors, UnitOfMeasureClass, r.unit_class_code, "unitOfMeasureClassCode")
        if cls is not None:
            self._unit(errors, r.default_unit_code, cls.code, "defaultUnitCode")
            if CATEGORY_FOR_CLASS[cls.type] != r.category:
                errors.add(ErrorCode.INVALID_VALUE,
                           f"a {r.category} resource needs a {r.category} unit class, '{cls.code}' is {cls.type}",
                           "category")
        if r.token_resource_code:
            token = self._ref(errors, UsageResource, r.token_resource_code, "tokenResourceCode")
            if token is not None and token.category != ResourceCategory.TOKEN:
                errors.add(ErrorCode.INVALID_VALUE, f"'{token.code}' is not a TOKEN resource", "tokenResourceCode")
            if r.tokens_per_unit is None or r.tokens_per_unit <= 0:
                errors.add(ErrorCode.INVALID_VALUE, "tokensPerUnit must be greater than 0 with a token resource",
                           "tokensPerUnit")
        elif r.tokens_per_unit is not None:
            errors.add(ErrorCode.INVALID_VALUE, "tokensPerUnit needs a tokenResourceCode", "tokensPerUnit")
        if r.usage_definition_product_code:
            self._ref(errors, Product, r.usage_definition_product_code, "usageDefinitionProductCode")

    def _check_Product(self, errors: Collector, p: Product) -> None:
        check_code(errors, p.code)
        check_name(errors, p.name)

    def _check_ProductUsageResource(self, errors: Collector, pur: ProductUsageResource) -> None:
        product = self._ref(errors, Product, pur.product_code, "productCode")
        self._ref(errors, UsageResource, pur.resource_code, "resourceCode")
        check_range(errors, pur.effective_from, pur.effective_to)
        if pur.is_optional and product is not None and product.usage_model_type not in COMMITMENT_TYPES:
            errors.add(ErrorCode.INVALID_VALUE, "isOptional is for commitment products only", "isOptional")
        if pur.token_resource_code:
            token = self._ref(errors, UsageResource, pur.token_resource_code, "tokenResourceCode")
            if token is not None and token.category != ResourceCategory.TOKEN:
                errors.add(ErrorCode.INVALID_VALUE, f"'{token.code}' is not a TOKEN resource", "tokenResourceCode")

    def _check_ProductUsageGrant(self, errors: Collector, g: ProductUsageGrant) -> None:
        pur = self.store.get(ProductUsageResource, g.pur_id)
        if pur is None:
            errors.add(ErrorCode.UNKNOWN_REFERENCE, f"product usage resource '{g.pur_id}' does not exist",
                       "productUsageResourceId")
        check_decimal(errors, g.quantity, DecimalKind.QUANTITY, "quantity")
        if g.validity_unit == ValidityUnit.NONE and g.validity_term is not None:
            errors.add(ErrorCode.INVALID_VALUE, "validityTerm must be empty when validityUnit is NONE", "validityTerm")
        check_count(errors, g.validity_term, "validityTerm")
        if g.validity_unit != ValidityUnit.NONE and (g.validity_term is None or g.validity_term < 1):
            errors.add(ErrorCode.INVALID_VALUE, "validityTerm must be 1 or more", "validityTerm")
        check_range(errors, g.effective_from, g.effective_to)
        if pur is not None:
            resource = self.store.get(UsageResource, pur.resource_code)
            if resource is not None:
                self._unit(errors, g.unit_code, resource.unit_class_code, "unitCode")
        for field, policy_id, kind in (("refreshPolicyId", g.refresh_policy_id, PolicyKind.GRANT_REFRESH),
                                       ("rolloverPolicyId", g.rollover_policy_id, PolicyKind.GRANT_ROLLOVER)):
            self._policy_of_kind(errors, policy_id, kind, field)

    def _policy_of_kind(self, errors: Collector, policy_id: str | None, kind: PolicyKind, field: str) -> None:
        policy = self._ref(errors, Policy, policy_id, field)
        if policy is not None and policy.kind != kind:
            errors.add(ErrorCode.INVALID_VALUE, f"policy '{policy_id}' is a {policy.kind} policy, not {kind}", field)

    def _check_Policy(self, errors: Collector, p: Policy) -> None:
        check_name(errors, p.name)
        for name in POLICY_FIELDS[p.kind]:
            optional = {"maximum_rollover_count", "maximum_rollover_quantity", "delay_unit", "refresh_frequency",
                        "refresh_unit", "rollover_can_expire"}
            if getattr(p, name) is None and name not in optional:
                errors.add(ErrorCode.REQUIRED, f"a {p.kind} policy needs {camel(name)}", camel(name))
        for name in ("delay", "maximum_rollover_count", "refresh_frequency"):
            check_count(errors, getattr(p, name), camel(name))
        for name in ("delay", "maximum_rollover_count"):
            value = getattr(p, name)
            if value is not None and value < 0:
                errors.add(ErrorCode.INVALID_VALUE, f"{camel(name)} must not be negative", camel(name))
        check_rollover_quantity(errors, p.maximum_rollover_quantity, "maximumRolloverQuantity")
        if p.maximum_rollover_quantity is not None and p.kind == PolicyKind.GRANT_ROLLOVER and not p.rollover_allowed:
            errors.add(ErrorCode.INVALID_VALUE, "maximumRolloverQuantity needs rolloverAllowed",
                       "maximumRolloverQuantity")
        if p.refresh_allowed and (p.refresh_frequency is None or p.refresh_frequency < 1 or p.refresh_unit is None):
            errors.add(ErrorCode.INVALID_VALUE, "a refresh needs frequency ≥ 1 and a unit", "refreshFrequency")

    def _check_policy_set(self, errors: Collector, policies: PolicySet) -> None:
        for kind in RESOURCE_POLICY_KINDS:
            self._policy_of_kind(errors, policies.policy_id(kind), kind, camel(kind.lower()) + "PolicyId")

    def _check_ResourcePolicy(self, errors: Collector, rp: ResourcePolicy) -> None:
        self._ref(errors, UsageResource, rp.resource_code, "resourceCode")
        self._check_policy_set(errors, rp.policies)

    def _check_ProductResourcePolicy(self, errors: Collector, prp: ProductResourcePolicy) -> None:
        self._ref(errors, ProductUsageResource, prp.pur_id, "productUsageResourceId")
        self._check_policy_set(errors, prp.policies)

    def _check_GrantBindingPolicy(self, errors: Collector, b: GrantBindingPolicy) -> None:
        self._ref(errors, Product, b.product_code, "productCode")
        if (b.target is None) != (b.binding.value == "SELF"):
            errors.add(ErrorCode.INVALID_VALUE, "binding TARGET needs a target; SELF takes none", "target")

    def _check_RateCard(self, errors: Collector, c: RateCard) -> None:
        check_name(errors, c.name)
        check_range(errors, c.effective_from, c.effective_to)

    def _check_RateCardEntry(self, errors: Collector, e: RateCardEntry) -> None:
        card = self._ref(errors, RateCard, e.rate_card_id, "rateCardId")
        if e.resource_code:
            self._ref(errors, UsageResource, e.resource_code, "resourceCode")
        elif card is not None and card.type == RateCardType.BASE:
            errors.add(ErrorCode.REQUIRED, "an entry of a BASE rate card needs a resource", "resourceCode")
        if e.product_code:
            self._ref(errors, Product, e.product_code, "productCode")
        check_decimal(errors, e.rate, DecimalKind.RATE, "rate")
        unit = self.store.get(UnitOfMeasure, e.rate_unit_code)
        if unit is None:
            errors.add(ErrorCode.UNKNOWN_UNIT, f"unit '{e.rate_unit_code}' does not exist", "rateUnitCode")
        else:
            cls = self.store.get(UnitOfMeasureClass, unit.class_code)
            if cls is not None and cls.type not in (UnitClassType.CURRENCY, UnitClassType.TOKEN):
                errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"rate unit '{unit.unit_code}' must be a CURRENCY or TOKEN"
                           f" unit, not {cls.type}", "rateUnitCode")
        check_range(errors, e.effective_from, e.effective_to)
        if e.tiers and e.tier_mode is None:
            errors.add(ErrorCode.REQUIRED, "tiers need a tierMode (TIERED or VOLUME)", "tierMode")
        pricing_tiers = [PricingTier(t.lower_bound, t.upper_bound, t.adjustment_type, t.adjustment_value, t.flat_fee)
                         for t in e.tiers]
        for problem in validate_tiers(pricing_tiers):
            errors.add(ErrorCode.INVALID_RANGE, problem.message,
                       f"tiers.{problem.indexes[0]}" if problem.indexes else "tiers")
        check_tier_values(errors, e.tiers)

    # ------------------------------------------------------------------------------------------ commands
    def create(self, record: R) -> R:
        self.check(record)
        if isinstance(record, UnitOfMeasureClass):
            raise DomainError(ErrorCode.INVALID_VALUE, "create a unit class with create_unit_class (needs units)")
        self.store.insert(record)
        return record

    def create_unit_class(self, cls: UnitOfMeasureClass, units: list[UnitOfMeasure]) -> UnitOfMeasureClass:
        """A class is created together with its units, so that its base and default units exist."""
        errors = Collector()
        check_code(errors, cls.code)
        check_name(errors, cls.name)
        if self.store.get(UnitOfMeasureClass, cls.code) is not None:
            errors.add(ErrorCode.DUPLICATE_CODE, f"unit class '{cls.code}' already exists", "code")
        codes = [u.unit_code for u in units]
        if not units:
            errors.add(ErrorCode.REQUIRED, "a unit class needs at least one unit", "units")
        for index, unit in enumerate(units):
            check_code(errors, unit.unit_code, f"units.{index}.unitCode")
            if codes.count(unit.unit_code) > 1:
                errors.add(ErrorCode.DUPLICATE_CODE, f"unit '{unit.unit_code}' appears twice", f"units.{index}")
            elif self.store.get(UnitOfMeasure, unit.unit_code) is not None:
                errors.add(ErrorCode.DUPLICATE_CODE, f"unit '{unit.unit_code}' already exists", f"units.{index}")
            check_name(errors, unit.name, f"units.{index}.name")
            check_decimal(errors, unit.conversion_factor, DecimalKind.FACTOR, f"units.{index}.conversionFactor")
        by_code = {u.unit_code: u for u in units}
        if cls.base_unit_code not in by_code:
            errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"base unit '{cls.base_unit_code}' is not among the units",
                       "baseUnitCode")
        elif by_code[cls.base_unit_code].conversion_factor != 1:
            errors.add(ErrorCode.INVALID_VALUE, "the base unit's conversion factor must be 1", "baseUnitCode")
        if cls.default_unit_code not in by_code:
            errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"default unit '{cls.default_unit_code}' is not among the units",
                       "defaultUnitCode")
        errors.raise_if_any()
        self.store.insert(cls)
        for unit in units:
            self.store.insert(replace(unit, class_code=cls.code))
        return cls

    def create_resource(self, code: str, name: str, category: ResourceCategory, class_code: str,
                        default_unit_code: str | None = None, token_resource_code: str | None = None,
                        tokens_per_unit: Decimal | None = None,
                        usage_definition_product_code: str | None = None) -> UsageResource:
        """A usage resource; without a default unit it takes its unit class's default unit."""
        cls = self.require(UnitOfMeasureClass, class_code, "unitOfMeasureClassCode")
        return self.create(UsageResource(code, name, category, cls.code, default_unit_code or cls.default_unit_code,
                                         token_resource_code, tokens_per_unit, usage_definition_product_code))

    def create_pur(self, product_code: str, resource_code: str, effective_from: datetime,
                   effective_to: datetime | None = None, is_optional: bool = False,
                   token_resource_code: str | None = None) -> ProductUsageResource:
        """A product usage resource under a new id of its product."""
        return self.create(ProductUsageResource(self.ids.pur(product_code), product_code, resource_code,
                                                effective_from, effective_to, is_optional, token_resource_code))

    def create_grant(self, pur_id: str, quantity: Decimal, validity_unit: ValidityUnit,
                     type: GrantType = GrantType.GRANT, unit_code: str | None = None, validity_term: int | None = None,
                     effective_from: datetime | None = None, effective_to: datetime | None = None,
                     refresh_policy_id: str | None = None, rollover_policy_id: str | None = None,
                     drawdown_order: DrawdownOrder = DrawdownOrder.EXPIRING_FIRST) -> ProductUsageGrant:
        """A grant of a PUR, under a new id of the PUR. Defaults: the resource's default unit and the PUR's dates."""
        pur = self.require(ProductUsageResource, pur_id, "productUsageResourceId")
        resource = self.require(UsageResource, pur.resource_code)
        return self.create(ProductUsageGrant(
            self.ids.grant(pur.id), pur.product_code, pur.id, type, quantity, unit_code or resource.default_unit_code,
            validity_term, validity_unit, effective_from or pur.effective_from, effective_to or pur.effective_to,
            refresh_policy_id, rollover_policy_id, drawdown_order))

    def create_policy(self, kind: PolicyKind, name: str, **settings: Any) -> Policy:
        """A policy of any kind under a new id; the kind decides which settings are required."""
        return self.create(Policy(self.ids.policy(), kind, name, **settings))

    def create_rate_card(self, name: str, type: RateCardType, effective_from: datetime | None,
                         effective_to: datetime | None, now: datetime) -> RateCard:
        """A rate card under a new id, effective from ``now`` unless told otherwise."""
        return self.create(RateCard(self.ids.rate_card(), name, type, effective_from or now, effective_to))

    def create_rate_card_entry(self, rate_card_id: str, rate: Decimal, rate_unit_code: str,
                               resource_code: str | None = None, product_code: str | None = None,
                               effective_from: datetime | None = None, effective_to: datetime | None = None,
                               tier_mode: TierMode | None = None, tiers: Sequence[RateTier] = (),
                               negotiable: bool = False) -> RateCardEntry:
        """An entry of a rate card under a new id of the card; its dates default to the card's."""
        card = self.require(RateCard, rate_card_id, "rateCardId")
        return self.create(RateCardEntry(
            self.ids.rate_entry(card.id), card.id, resource_code, product_code, rate, rate_unit_code,
            effective_from or card.effective_from, effective_to or card.effective_to, tier_mode, tuple(tiers),
            negotiable))

    # ------------------------------------------------------------------------------------------ policy links
    def set_resource_policy(self, resource_code: str, policies: PolicySet,
                            status: RecordStatus | None = None) -> ResourcePolicy:
        """Create a resource's policy link, or replace its pointers (status rules apply)."""
        return self._upsert_link(ResourcePolicy, resource_code, ResourcePolicy(resource_code, policies), status)

    def set_product_resource_policy(self, pur_id: str, policies: PolicySet,
                                    status: RecordStatus | None = None) -> ProductResourcePolicy:
        """Create or change the policy link of a product usage resource (it overrides the resource's)."""
        pur = self.require(ProductUsageResource, pur_id, "productUsageResourceId")
        record = ProductResourcePolicy(pur.product_code, pur.id, policies)
        return self._upsert_link(ProductResourcePolicy, pur.id, record, status)

    def set_grant_binding_policy(self, product_code: str, binding: BindingType, target: BindingTargetType | None,
                                 status: RecordStatus | None = None) -> GrantBindingPolicy:
        """Create or change a product's grant binding policy."""
        record = GrantBindingPolicy(product_code, binding, target)
        return self._upsert_link(GrantBindingPolicy, product_code, record, status)

    def _upsert_link(self, kind: type[L], key: str, record: L, status: RecordStatus | None) -> L:
        """Create the link record if absent (as given: DRAFT), else replace its pointers and, when given, its
        status."""
        if self.store.get(kind, key) is None:
            return self.create(record)
        changes: dict[str, Any] = {f: getattr(record, f) for f in ("policies", "binding", "target")
                                   if hasattr(record, f)}
        if status is not None:
            changes["status"] = status
        return self.update(kind, key, changes)

    # ------------------------------------------------------------------------------------------ rate tiers
    def add_tier(self, entry_id: str, tier: RateTier) -> RateCardEntry:
        """Add a tier to an entry; tiers stay ordered by lower bound (the entry's rules apply: DRAFT only)."""
        entry = self.require(RateCardEntry, entry_id, "rateCardEntryId")
        tiers = sorted([*entry.tiers, tier], key=lambda t: t.lower_bound)
        return self.update(RateCardEntry, entry_id, {"tiers": tuple(tiers)})

    def replace_tier(self, entry_id: str, lower_bound: str, new: RateTier | None, tier_ref: str) -> RateCardEntry:
        """Replace (``new``) or remove (None) the tier of an entry starting at ``lower_bound`` (as written in its
        id); ``tier_ref`` names the tier in the NOT_FOUND message."""
        entry = self.require(RateCardEntry, entry_id, "id")
        if not any(str(tier.lower_bound) == lower_bound for tier in entry.tiers):
            raise DomainError(ErrorCode.NOT_FOUND, f"rate tier '{tier_ref}' does not exist", "id")
        tiers = [tier for tier in entry.tiers if str(tier.lower_bound) != lower_bound] + ([new] if new else [])
        return self.update(RateCardEntry, entry_id, {"tiers": tuple(sorted(tiers, key=lambda t: t.lower_bound))})

    def update(self, kind: type[R], key: str, changes: dict[str, Any]) -> R:
        current = self.store.get(kind, key)
        if current is None:
            raise NotFound(kind.__name__, key)
        updated = lifecycle.apply_changes(current, changes)
        if updated == current:
            return current
        if updated.status == RecordStatus.ACTIVE and current.status != RecordStatus.ACTIVE:
            self.ensure_references_active(updated)
        self.check(updated)
        self.store.replace(current, updated)
        return updated

    def delete(self, kind: type[R], key: str) -> R:
        record = self.store.get(kind, key)
        if record is None:
            raise NotFound(kind.__name__, key)
        lifecycle.ensure_deletable(record)
        self._ensure_no_dependents(record)
        self.store.delete(record)
        return record

    def _ensure_no_dependents(self, record: CatalogRecord) -> None:
        dependents: list[Any] = []
        if isinstance(record, Product):
            dependents = self.store.purs_of_product(record.code)
        elif isinstance(record, ProductUsageResource):
            dependents = self.store.grants_of_pur(record.product_code, record.id)
        elif isinstance(record, RateCard):
            dependents = self.store.entries_of_card(record.id)
        elif isinstance(record, UnitOfMeasureClass):
            dependents = [u for u in self.store.units_of_class(record.code)]
        elif isinstance(record, UsageResource) and self.store.resource_is_referenced(record.code):
            dependents = [record.code]
        elif isinstance(record, UnitOfMeasure):
            cls = self.store.get(UnitOfMeasureClass, record.class_code)
            if cls is not None and record.unit_code in (cls.base_unit_code, cls.default_unit_code):
                dependents = [cls]
        if dependents:
            raise DomainError(ErrorCode.STATUS_FORBIDS,
                              f"{type(record).__name__} still has {len(dependents)} dependent record(s); "
                              "delete those first")

    def ensure_references_active(self, record: CatalogRecord) -> None:
        """A record may only become ACTIVE when every record it points at is ACTIVE."""
        inactive = [f"{type(r).__name__} '{key}'" for r, key in self.references(record)
                    if r is not None and r.status != RecordStatus.ACTIVE]
        if inactive:
            raise DomainError(ErrorCode.INACTIVE_REFERENCE,
                              f"activate {', '.join(inactive)} first", "status")

    def references(self, record: CatalogRecord) -> list[tuple[Any, str]]:
        """(referenced record or None, its key) for every reference of a record."""
        s = self.store
        refs: list[tuple[Any, str]] = []
        if isinstance(record, UnitOfMeasure):
            refs.append((s.get(UnitOfMeasureClass, record.class_code), record.class_code))
        elif isinstance(record, UsageResource):
            refs.append((s.get(UnitOfMeasureClass, record.unit_class_code), record.unit_class_code))
            refs.append((s.get(UnitOfMeasure, record.default_unit_code), record.default_unit_code))
            if record.token_resource_code:
                refs.append((s.get(UsageResource, record.token_resource_code), record.token_resource_code))
        elif isinstance(record, ProductUsageResource):
            refs.append((s.get(Product, record.product_code), record.product_code))
            refs.append((s.get(UsageResource, record.resource_code), record.resource_code))
        elif isinstance(record, ProductUsageGrant):
            refs.append((s.get(ProductUsageResource, record.pur_id), record.pur_id))
            refs.append((s.get(UnitOfMeasure, record.unit_code), record.unit_code))
            refs += [(s.get(Policy, pid), pid) for pid in (record.refresh_policy_id, record.rollover_policy_id) if pid]
        elif isinstance(record, (ResourcePolicy, ProductResourcePolicy)):
            refs += [(s.get(Policy, pid), pid) for pid in record.policies.ids()]
        elif isinstance(record, RateCardEntry):
            refs.append((s.get(RateCard, record.rate_card_id), record.rate_card_id))
            refs.append((s.get(UnitOfMeasure, record.rate_unit_code), record.rate_unit_code))
            if record.resource_code:
                refs.append((s.get(UsageResource, record.resource_code), record.resource_code))
        return refs


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)


__all__ = ["CatalogService", "pricing_spec"]
