"""The value and reference rules of each catalog record kind (DOMAIN §1), checked against the ``CatalogStore``:
``RecordRules.check`` raises one DomainError listing every problem of a record.
"""

from __future__ import annotations

from typing import TypeVar

from core.bounds import DecimalKind, check_count, check_decimal
from core.catalog import (
    POLICY_FIELDS,
    RESOURCE_POLICY_KINDS,
    CatalogRecord,
    GrantBindingPolicy,
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
    ResourceCategory,
    ResourcePolicy,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
    ValidityUnit,
)
from core.catalog.checks import (
    CATEGORY_FOR_CLASS,
    COMMITMENT_TYPES,
    camel,
    check_class_units,
    check_code,
    check_name,
    check_range,
    check_rollover_quantity,
    check_tiers,
)
from core.catalog.store import CatalogStore
from core.errors import Collector, ErrorCode

R = TypeVar("R", bound=CatalogRecord)


class RecordRules:
    """Every rule of a record's kind; ``_check_{Kind}`` per kind, references looked up in the store."""

    def __init__(self, store: CatalogStore):
        self.store = store

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
            check_class_units(errors, c, units)

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
        check_tiers(errors, e.tiers)
