"""The demo catalog `make serve` starts with: the Cell Phone Plan of DOMAIN §5 and a Text Pack, ACTIVE.

Built through the same catalog service as the API (so every rule applies), and idempotent: a catalog that
already has the plan is left alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.catalog import (
    GrantType,
    PolicySet,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    RecordStatus,
    ResourceCategory,
    ResourcePolicy,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.catalog.service import CatalogService
from core.policies import DEFAULT_POLICIES
from infra import keys
from infra.catalog_repo import CatalogRepository

START = datetime(2026, 1, 1, tzinfo=UTC)
PLAN, PACK = "CELL-PLAN", "TEXT-PACK"

UNIT_CLASSES: list[tuple[str, str, str, str, list[tuple[str, str, str]]]] = [
    ("DATA", "Data", "MB", "GB", [("MB", "Megabyte", "1"), ("GB", "Gigabyte", "1024"), ("TB", "Terabyte", "1048576")]),
    ("COUNT", "Count", "EA", "EA", [("EA", "Each", "1"), ("K", "Thousand", "1000")]),
    ("TIME", "Time", "MIN", "MIN", [("SEC", "Second", "0.016666666666666667"), ("MIN", "Minute", "1"),
                                     ("HR", "Hour", "60")]),
]
RESOURCES = [("TEXTS", "Text messages", "COUNT"), ("DATA", "Mobile data", "DATA"), ("MINUTES", "Voice minutes", "TIME")]
#: resource → (monthly grant, overage rate in USD per default unit)
PLAN_TERMS = {"TEXTS": ("4000", "0.75"), "DATA": ("2", "1.25"), "MINUTES": ("100", "0.10")}


def seed_demo_catalog(tenant: str) -> bool:
    """Create and activate the demo catalog; False when it was already there."""
    repo = CatalogRepository(tenant)
    if repo.get(Product, PLAN) is not None:
        return False
    svc = CatalogService(repo)
    created: list[Any] = []

    def add(record: Any) -> Any:
        created.append(svc.create(record))
        return record

    for code, name, base, default, units in UNIT_CLASSES:
        cls = UnitOfMeasureClass(code, name, UnitClassType.USAGE, base, default)
        svc.create_unit_class(cls, [UnitOfMeasure(u, n, code, Decimal(f), i) for i, (u, n, f) in enumerate(units)])
        created.append(cls)
        created += [repo.get(UnitOfMeasure, u) for u, _, _ in units]
    for code, name, cls_code in RESOURCES:
        default = next(d for c, _, _, d, _ in UNIT_CLASSES if c == cls_code)
        add(UsageResource(code, name, ResourceCategory.USAGE, cls_code, default))
    policies = {name: add(replace(p, id=keys.new_ulid())) for name, p in DEFAULT_POLICIES.items()}
    resource_policies = PolicySet(
        aggregation_policy_id=policies["Aggregate Usage Monthly by Sum"].id,
        rating_frequency_policy_id=policies["Rate Usage Monthly"].id,
        overage_policy_id=policies["Overage Chargeable"].id,
        commitment_policy_id=policies["Lowest Commitment Fulfilled Rate"].id)
    for code, _, _ in RESOURCES:
        add(ResourcePolicy(code, resource_policies))
    refresh = policies["Renew Grants Monthly"].id
    rollover = policies["Rollover Grants without Expiry"].id

    add(Product(PLAN, "Cell Phone Plan", UsageModelType.ANCHOR))
    card = add(RateCard(keys.new_ulid(), "Cell Phone Plan rates", RateCardType.BASE, START))
    for code, (quantity, rate) in PLAN_TERMS.items():
        resource = repo.get(UsageResource, code)
        assert resource is not None
        pur = add(ProductUsageResource(keys.pur_id(PLAN, keys.new_ulid()), PLAN, code, START))
        add(ProductResourcePolicy(PLAN, pur.id, resource_policies))
        add(ProductUsageGrant(keys.grant_id(pur.id, keys.new_ulid()), PLAN, pur.id, GrantType.GRANT,
                              Decimal(quantity), resource.default_unit_code, 1, ValidityUnit.MONTH, START,
                              refresh_policy_id=refresh, rollover_policy_id=None if code != "DATA" else rollover))
        add(RateCardEntry(keys.rate_entry_id(card.id, keys.new_ulid()), card.id, code, PLAN, Decimal(rate), "USD",
                          START))

    add(Product(PACK, "Text Pack: 2,000 texts for 7 days", UsageModelType.PACK))
    pack_pur = add(ProductUsageResource(keys.pur_id(PACK, keys.new_ulid()), PACK, "TEXTS", START))
    add(ProductUsageGrant(keys.grant_id(pack_pur.id, keys.new_ulid()), PACK, pack_pur.id, GrantType.GRANT,
                          Decimal(2000), "EA", None, ValidityUnit.NONE, START))

    for record in created:  # dependency order: everything a record points at was created (and activated) first
        if record.status != RecordStatus.ACTIVE:
            svc.update(type(record), _key(record), {"status": RecordStatus.ACTIVE})
    return True


def _key(record: Any) -> str:
    from infra.catalog_repo import key_of

    return key_of(record)
