"""Guided setup, the product validator and activation (DOMAIN §1.1–1.3): parse, call core + infra, map results."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import strawberry

from core import catalog as c
from core.activation import plan_activation
from core.errors import DomainError, ErrorCode, NotFound
from core.guided_setup import GuidedGrant, GuidedResource, GuidedSetup, NewResource, plan_setup
from core.rating.model import TierMode as _TierMode
from core.validation import ProductValidation as DomainValidation
from core.validation import Window, validate
from core.validation.findings import Finding, Severity, ref
from graphql_api.catalog_api import RateTierInput
from graphql_api.context import Info
from graphql_api.errors import UserError, user_errors
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.enums import (
    DrawdownOrder,
    PeriodUnit,
    ResourceCategory,
    TierMode,
    UsageModelType,
    ValidityUnit,
)
from graphql_api.types.validation import ProductValidation, RecordRef
from infra.activation_repo import ChainReader, ChainWriter, StorageIds
from infra.catalog_repo import CatalogRepository

MAX_PRODUCTS_PER_VALIDATION = 10


# ---------------------------------------------------------------------------------------------- inputs
@strawberry.input
class NewUsageResourceInput:
    name: str
    unit_of_measure_class_code: str
    category: ResourceCategory = c.ResourceCategory.USAGE  # type: ignore[valid-type]
    default_unit_code: str | None = None
    token_resource_code: str | None = None
    tokens_per_unit: DecimalScalar | None = None  # type: ignore[valid-type]

    def to_domain(self) -> NewResource:
        return NewResource(self.name, self.unit_of_measure_class_code, c.ResourceCategory(self.category),
                           self.default_unit_code, self.token_resource_code, self.tokens_per_unit)


@strawberry.input
class GuidedGrantInput:
    quantity: DecimalScalar  # type: ignore[valid-type]
    validity_unit: ValidityUnit  # type: ignore[valid-type]
    unit_code: str | None = None
    validity_term: int | None = None
    refresh_every: int | None = None
    refresh_unit: PeriodUnit | None = None  # type: ignore[valid-type]
    rollover: bool | None = None
    maximum_rollover_count: int | None = None
    drawdown_order: DrawdownOrder | None = None  # type: ignore[valid-type]

    def to_domain(self) -> GuidedGrant:
        return GuidedGrant(self.quantity, c.ValidityUnit(self.validity_unit), self.unit_code, self.validity_term,
                           self.refresh_every, c.PeriodUnit(self.refresh_unit) if self.refresh_unit else None,
                           self.rollover, self.maximum_rollover_count,
                           c.DrawdownOrder(self.drawdown_order) if self.drawdown_order else None)


@strawberry.input
class GuidedResourceInput:
    resource_code: str
    effective_from: DateTime  # type: ignore[valid-type]
    effective_to: DateTime | None = None  # type: ignore[valid-type]
    new_resource: NewUsageResourceInput | None = None
    grants: list[GuidedGrantInput] | None = None
    overage_rate: DecimalScalar | None = None  # type: ignore[valid-type]
    rate_unit_code: str | None = None
    tier_mode: TierMode | None = None  # type: ignore[valid-type]
    tiers: list[RateTierInput] | None = None

    def to_domain(self) -> GuidedResource:
        return GuidedResource(
            self.resource_code, self.effective_from, self.effective_to,
            self.new_resource.to_domain() if self.new_resource else None,
            tuple(g.to_domain() for g in self.grants or []), self.overage_rate, self.rate_unit_code,
            _TierMode(self.tier_mode) if self.tier_mode else None, tuple(x.to_domain() for x in self.tiers or []))


@strawberry.input
class ConfigureUsageProductInput:
    product_code: str
    usage_model_type: UsageModelType  # type: ignore[valid-type]
    resources: list[GuidedResourceInput]
    product_name: str | None = None

    def to_domain(self) -> GuidedSetup:
        return GuidedSetup(self.product_code, c.UsageModelType(self.usage_model_type),
                           tuple(r.to_domain() for r in self.resources), self.product_name)


# ---------------------------------------------------------------------------------------------- payloads
@strawberry.type
class ConfigureUsageProductPayload:
    record: t.Product | None = None
    created: list[RecordRef] = strawberry.field(default_factory=list,
                                                description="Every record created, in dependency order.")
    reused: list[RecordRef] = strawberry.field(default_factory=list,
                                               description="Existing policies wired in instead of copies.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ActivateUsageProductPayload:
    record: t.Product | None = None
    activated: list[RecordRef] = strawberry.field(default_factory=list,
                                                  description="Every record this call turned ACTIVE.")
    completed_interrupted: bool = strawberry.field(
        default=False, description="True when this call finished an activation that had been interrupted.")
    validation: ProductValidation | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@dataclass
class Activation:
    product: c.Product
    activated: list[c.CatalogRecord] = field(default_factory=list)
    completed_interrupted: bool = False
    validation: DomainValidation | None = None


def validations(repo: CatalogRepository, codes: list[str], window: Window) -> list[DomainValidation]:
    reader = ChainReader(repo)
    results = []
    for code in dict.fromkeys(codes):
        snapshot = reader.snapshot(code)
        if snapshot is None:
            results.append(DomainValidation(code, errors=(Finding(
                "PRODUCT_EXISTS", ErrorCode.NOT_FOUND, Severity.ERROR, f"product '{code}' does not exist", ()),)))
        else:
            results.append(validate(snapshot, window))
    return results


def configure(repo: CatalogRepository, setup: GuidedSetup) -> tuple[c.Product, list[RecordRef], list[RecordRef]]:
    writer = ChainWriter(repo)
    writer.roll_back_setup(setup.product_code)  # what an interrupted earlier setup left behind
    plan = plan_setup(setup, ChainReader(repo).setup_catalog(setup), StorageIds())
    writer.create(plan)
    return (plan.product, [RecordRef.from_domain(ref(r)) for r in plan.records],
            [RecordRef.from_domain(ref(p)) for p in plan.reused_policies])


def activate(repo: CatalogRepository, product_code: str, run_validator: bool) -> Activation:
    writer = ChainWriter(repo)
    reader = ChainReader(repo)
    completed = writer.complete_activation(product_code, reader)
    if completed is not None:
        product = repo.get(c.Product, product_code)
        if product is None:
            raise NotFound("Product", product_code, "productCode")
        return Activation(product, completed, completed_interrupted=True)
    writer.roll_back_setup(product_code)
    snapshot = reader.snapshot(product_code)
    if snapshot is None:
        raise NotFound("Product", product_code, "productCode")
    result = validate(snapshot) if run_validator else None
    if result is not None and not result.valid:
        return Activation(snapshot.product, validation=result)
    plan = plan_activation(snapshot)
    activated = writer.activate(plan)
    product = next((r for r in activated if isinstance(r, c.Product)), snapshot.product)
    return Activation(product, activated, validation=result)


# ---------------------------------------------------------------------------------------------- root types
@strawberry.type
class SetupQuery:
    @strawberry.field(permission_classes=[CanRead],
                      description="Every validator rule over up to 10 products, optionally within a date range.")
    async def validate_usage_products(
            self, info: Info, product_codes: list[str],
            from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,  # type: ignore[valid-type]
            to: DateTime | None = None) -> list[ProductValidation]:  # type: ignore[valid-type]
        if len(product_codes) > MAX_PRODUCTS_PER_VALIDATION:
            raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {MAX_PRODUCTS_PER_VALIDATION} products per "
                              f"call (got {len(product_codes)})", "productCodes")
        start: datetime | None = from_
        end: datetime | None = to
        if start is not None and end is not None and end <= start:
            raise DomainError(ErrorCode.INVALID_RANGE, "to must be after from", "to")
        found = await asyncio.to_thread(validations, info.context.catalog, product_codes, Window(start, end))
        return [ProductValidation.from_domain(v) for v in found]


@strawberry.type
class SetupMutation:
    @strawberry.mutation(permission_classes=[CanConfigure],
                         description="Guided setup of an ANCHOR or PACK product in one call, all records DRAFT.")
    async def configure_usage_product(self, info: Info,
                                      input: ConfigureUsageProductInput) -> ConfigureUsageProductPayload:
        try:
            product, created, reused = await asyncio.to_thread(configure, info.context.catalog, input.to_domain())
        except DomainError as exc:
            return ConfigureUsageProductPayload(errors=user_errors(exc))
        return ConfigureUsageProductPayload(record=t.Product.from_domain(product), created=created, reused=reused)

    @strawberry.mutation(permission_classes=[CanConfigure],
                         description="Validate (unless validate: false), then activate the product and every DRAFT "
                                     "record of its chain, all or nothing.")
    async def activate_usage_product(self, info: Info, product_code: str,
                                     validate: bool | None = True) -> ActivateUsageProductPayload:
        try:
            result = await asyncio.to_thread(activate, info.context.catalog, product_code, validate is not False)
        except DomainError as exc:
            return ActivateUsageProductPayload(errors=user_errors(exc))
        checked = ProductValidation.from_domain(result.validation) if result.validation else None
        if result.validation is not None and not result.validation.valid:
            count = len(result.validation.errors)
            first = result.validation.errors[0].message
            return ActivateUsageProductPayload(validation=checked, errors=[UserError(
                code=ErrorCode.VALIDATION_FAILED, field="productCode",
                message=f"the validator found {count} error(s), e.g. {first}; fix them or pass validate: false")])
        return ActivateUsageProductPayload(
            record=t.Product.from_domain(result.product), validation=checked,
            activated=[RecordRef.from_domain(ref(r)) for r in result.activated],
            completed_interrupted=result.completed_interrupted)


__all__ = ["SetupMutation", "SetupQuery"]
