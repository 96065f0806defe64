"""What guided setup takes and gives: the input (a product and its resources, grants and rates), what the tenant's
catalog already holds of it, and the plan of records to create."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from core.catalog import (
    CatalogRecord,
    DrawdownOrder,
    PeriodUnit,
    Policy,
    Product,
    ProductUsageResource,
    RateTier,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.rating.model import TierMode
from core.values import immutable


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
