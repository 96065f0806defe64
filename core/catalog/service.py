"""Manual configuration of the catalog: create, update and delete every catalog record by the DOMAIN §1 rules.

The service is pure logic over the ``CatalogStore`` port: it checks values and references (``core.catalog.rules``),
applies the status rules (``core.lifecycle``, ``core.catalog.references``) and hands records to the store. Every
problem in one input is reported at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from core import lifecycle
from core.bounds import DecimalKind, check_decimal
from core.catalog import (
    BindingTargetType,
    BindingType,
    CatalogRecord,
    DrawdownOrder,
    GrantBindingPolicy,
    GrantType,
    Policy,
    PolicyKind,
    PolicySet,
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
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
    ValidityUnit,
)
from core.catalog.checks import check_class_units, check_code, check_name
from core.catalog.references import ensure_no_dependents, ensure_references_active
from core.catalog.rules import RecordRules
from core.catalog.store import CatalogStore, Ids
from core.errors import Collector, DomainError, ErrorCode, NotFound
from core.rating.model import TierMode

R = TypeVar("R", bound=CatalogRecord)
L = TypeVar("L", ResourcePolicy, ProductResourcePolicy, GrantBindingPolicy)


class CatalogService:
    def __init__(self, store: CatalogStore, ids: Ids | None = None):
        self.store = store
        self._ids = ids
        self.rules = RecordRules(store)

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

    # ------------------------------------------------------------------------------------------ commands
    def create(self, record: R) -> R:
        self.rules.check(record)
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
        check_class_units(errors, cls, {u.unit_code: u for u in units})
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
            ensure_references_active(self.store, updated)
        self.rules.check(updated)
        self.store.replace(current, updated)
        return updated

    def delete(self, kind: type[R], key: str) -> R:
        record = self.store.get(kind, key)
        if record is None:
            raise NotFound(kind.__name__, key)
        lifecycle.ensure_deletable(record)
        ensure_no_dependents(self.store, record)
        self.store.delete(record)
        return record


__all__ = ["CatalogService"]
