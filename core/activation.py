"""Which records activating a product turns ACTIVE, and in which order (DOMAIN §1.3).

``plan_activation`` is pure: from a product snapshot it lists every DRAFT record of the product's chain in
dependency order (units and classes, resources with token resources first, policies, the product, its PURs,
product-resource policies, binding, grants, rate cards, entries) and marks the *gates*: the product and its PURs.
Runtime reaches every other record of a chain only through an ACTIVE product's ACTIVE PURs, so the writer flips
the gates last, in one transaction, and a chain is never half-usable (see infra/README.md, "Activation").
"""

from __future__ import annotations

from typing import Any

from core.catalog import (
    CatalogRecord,
    GrantBindingPolicy,
    Policy,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RecordStatus,
    ResourceCategory,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
)
from core.errors import Collector, DomainError, ErrorCode
from core.validation.findings import name_of
from core.validation.snapshot import ProductSnapshot, RecordKey, key_of, references
from core.values import immutable

#: At most this many records are activated by one call (DOMAIN §1.3).
MAX_RECORDS = 200
#: The gates are flipped in one transaction together with the journal's removal (DynamoDB: ≤ 100 items).
MAX_GATES = 99

DEPENDENCY_ORDER: tuple[type, ...] = (
    UnitOfMeasureClass, UnitOfMeasure, UsageResource, Policy, ResourcePolicy, Product, ProductUsageResource,
    ProductResourcePolicy, GrantBindingPolicy, ProductUsageGrant, RateCard, RateCardEntry,
)
GATE_KINDS: tuple[type, ...] = (Product, ProductUsageResource)


@immutable
class ActivationPlan:
    product_code: str
    records: tuple[CatalogRecord, ...]  # every DRAFT record of the chain, in dependency order
    gates: tuple[CatalogRecord, ...]  # the DRAFT product and PURs among them: flipped last, together

    @property
    def staged(self) -> tuple[CatalogRecord, ...]:
        """The records flipped before the gates (in dependency order)."""
        gate_keys = {key_of(g) for g in self.gates}
        return tuple(r for r in self.records if key_of(r) not in gate_keys)

    def __len__(self) -> int:
        return len(self.records)


def rank(record: CatalogRecord, token_codes: set[str]) -> tuple[int, int, str]:
    """Sort key: kind in dependency order; token resources before the resources that convert into them."""
    sub = 0
    if isinstance(record, UsageResource):
        sub = 0 if record.category == ResourceCategory.TOKEN or record.code in token_codes else 1
    return DEPENDENCY_ORDER.index(type(record)), sub, key_of(record)[1]


def plan_activation(snapshot: ProductSnapshot) -> ActivationPlan:
    """The DRAFT records of the product's chain in dependency order, or a DomainError when they cannot go ACTIVE.

    Refused: an INACTIVE product (STATUS_FORBIDS); a record pointing at a missing or INACTIVE record
    (INACTIVE_REFERENCE, whether or not the validator ran); more than MAX_RECORDS records or MAX_GATES gates
    (MAX_LIMIT_EXCEEDED).
    """
    product = snapshot.product
    if product.status == RecordStatus.INACTIVE:
        raise DomainError(ErrorCode.STATUS_FORBIDS,
                          f"product '{product.code}' is INACTIVE; reactivate it with updateProduct", "productCode")
    drafts = [r for r in snapshot.chain() if r.status == RecordStatus.DRAFT]
    draft_keys = {key_of(r) for r in drafts}
    errors = Collector()
    for record in drafts:
        for key in references(record):
            problem = reference_problem(snapshot, key, draft_keys)
            if problem:
                errors.add(ErrorCode.INACTIVE_REFERENCE, f"{type(record).__name__} '{name_of(record)}' points at "
                           f"{problem}", "productCode")
    errors.raise_if_any()
    if len(drafts) > MAX_RECORDS:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED,
                          f"activating '{product.code}' would change {len(drafts)} records; at most {MAX_RECORDS} "
                          f"can be activated at once — activate shared records (units, resources, policies) first",
                          "productCode")
    token_codes = {r.token_resource_code for r in drafts if isinstance(r, UsageResource) and r.token_resource_code}
    ordered = tuple(sorted(drafts, key=lambda r: rank(r, token_codes)))
    gates = tuple(r for r in ordered if isinstance(r, GATE_KINDS))
    if len(gates) > MAX_GATES:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED,
                          f"'{product.code}' has {len(gates) - 1} DRAFT product usage resources; at most "
                          f"{MAX_GATES - 1} can be activated at once", "productCode")
    return ActivationPlan(product.code, ordered, gates)


def reference_problem(snapshot: ProductSnapshot, key: RecordKey, draft_keys: set[RecordKey]) -> str | None:
    kind, code = key
    target: Any = snapshot.lookup(key)
    if target is None:
        return f"{kind.__name__} '{code}', which does not exist"
    if target.status == RecordStatus.INACTIVE:
        return f"INACTIVE {kind.__name__} '{code}'"
    if target.status == RecordStatus.DRAFT and key not in draft_keys:
        return f"DRAFT {kind.__name__} '{code}' outside the product's chain"
    return None


__all__ = ["ActivationPlan", "MAX_GATES", "MAX_RECORDS", "plan_activation"]
