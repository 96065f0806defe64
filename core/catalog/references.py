"""What catalog records point at, and the two rules that follow from it: a record may only become ACTIVE when
every record it points at is ACTIVE, and a record with dependents cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from core.catalog import (
    CatalogRecord,
    Policy,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RecordStatus,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
)
from core.catalog.store import CatalogStore
from core.errors import DomainError, ErrorCode


def ensure_no_dependents(store: CatalogStore, record: CatalogRecord) -> None:
    dependents: list[Any] = []
    if isinstance(record, Product):
        dependents = store.purs_of_product(record.code)
    elif isinstance(record, ProductUsageResource):
        dependents = store.grants_of_pur(record.product_code, record.id)
    elif isinstance(record, RateCard):
        dependents = store.entries_of_card(record.id)
    elif isinstance(record, UnitOfMeasureClass):
        dependents = [u for u in store.units_of_class(record.code)]
    elif isinstance(record, UsageResource) and store.resource_is_referenced(record.code):
        dependents = [record.code]
    elif isinstance(record, UnitOfMeasure):
        cls = store.get(UnitOfMeasureClass, record.class_code)
        if cls is not None and record.unit_code in (cls.base_unit_code, cls.default_unit_code):
            dependents = [cls]
    if dependents:
        raise DomainError(ErrorCode.STATUS_FORBIDS,
                          f"{type(record).__name__} still has {len(dependents)} dependent record(s); "
                          "delete those first")


def ensure_references_active(store: CatalogStore, record: CatalogRecord) -> None:
    """A record may only become ACTIVE when every record it points at is ACTIVE."""
    inactive = [f"{type(r).__name__} '{key}'" for r, key in references(store, record)
                if r is not None and r.status != RecordStatus.ACTIVE]
    if inactive:
        raise DomainError(ErrorCode.INACTIVE_REFERENCE,
                          f"activate {', '.join(inactive)} first", "status")


def references(store: CatalogStore, record: CatalogRecord) -> list[tuple[Any, str]]:
    """(referenced record or None, its key) for every reference of a record."""
    refs: list[tuple[Any, str]] = []
    if isinstance(record, UnitOfMeasure):
        refs.append((store.get(UnitOfMeasureClass, record.class_code), record.class_code))
    elif isinstance(record, UsageResource):
        refs.append((store.get(UnitOfMeasureClass, record.unit_class_code), record.unit_class_code))
        refs.append((store.get(UnitOfMeasure, record.default_unit_code), record.default_unit_code))
        if record.token_resource_code:
            refs.append((store.get(UsageResource, record.token_resource_code), record.token_resource_code))
    elif isinstance(record, ProductUsageResource):
        refs.append((store.get(Product, record.product_code), record.product_code))
        refs.append((store.get(UsageResource, record.resource_code), record.resource_code))
    elif isinstance(record, ProductUsageGrant):
        refs.append((store.get(ProductUsageResource, record.pur_id), record.pur_id))
        refs.append((store.get(UnitOfMeasure, record.unit_code), record.unit_code))
        refs += [(store.get(Policy, pid), pid) for pid in (record.refresh_policy_id, record.rollover_policy_id) if pid]
    elif isinstance(record, (ResourcePolicy, ProductResourcePolicy)):
        refs += [(store.get(Policy, pid), pid) for pid in record.policies.ids()]
    elif isinstance(record, RateCardEntry):
        refs.append((store.get(RateCard, record.rate_card_id), record.rate_card_id))
        refs.append((store.get(UnitOfMeasure, record.rate_unit_code), record.rate_unit_code))
        if record.resource_code:
            refs.append((store.get(UsageResource, record.resource_code), record.resource_code))
    return refs
