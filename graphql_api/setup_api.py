"""Guided setup, the product validator and activation (DOMAIN §1.1–1.3): parse, call core + infra, map results."""

import asyncio
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import catalog as c
from core.errors import ErrorCode
from core.rating.model import TierMode as _TierMode
from graphql_api.catalog.rate_cards import RateTierInput
from graphql_api.context import Info
from graphql_api.errors import UserError, mutation
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

if TYPE_CHECKING:
    from core.guided_setup import GuidedGrant, GuidedResource, GuidedSetup, NewResource

# ---------------------------------------------------------------------------------------------- inputs
@strawberry.input
class NewUsageResourceInput:
    name: str
    unit_of_measure_class_code: str
    category: ResourceCategory = c.ResourceCategory.USAGE
    default_unit_code: str | None = None
    token_resource_code: str | None = None
    tokens_per_unit: DecimalScalar | None = None

    def to_domain(self) -> "NewResource":
        from core.guided_setup import NewResource

        return NewResource(self.name, self.unit_of_measure_class_code, c.ResourceCategory(self.category),
                           self.default_unit_code, self.token_resource_code, self.tokens_per_unit)


@strawberry.input
class GuidedGrantInput:
    quantity: DecimalScalar
    validity_unit: ValidityUnit
    unit_code: str | None = None
    validity_term: int | None = None
    refresh_every: int | None = None
    refresh_unit: PeriodUnit | None = None
    rollover: bool | None = None
    maximum_rollover_count: int | None = None
    drawdown_order: DrawdownOrder | None = None
    maximum_rollover_quantity: DecimalScalar | None = None

    def to_domain(self) -> "GuidedGrant":
        from core.guided_setup import GuidedGrant

        return GuidedGrant(self.quantity, c.ValidityUnit(self.validity_unit), self.unit_code, self.validity_term,
                           self.refresh_every, c.PeriodUnit(self.refresh_unit) if self.refresh_unit else None,
                           self.rollover, self.maximum_rollover_count,
                           c.DrawdownOrder(self.drawdown_order) if self.drawdown_order else None,
                           self.maximum_rollover_quantity)


@strawberry.input
class GuidedResourceInput:
    resource_code: str
    effective_from: DateTime
    effective_to: DateTime | None = None
    new_resource: NewUsageResourceInput | None = None
    grants: list[GuidedGrantInput] | None = None
    overage_rate: DecimalScalar | None = None
    rate_unit_code: str | None = None
    tier_mode: TierMode | None = None
    tiers: list[RateTierInput] | None = None

    def to_domain(self) -> "GuidedResource":
        from core.guided_setup import GuidedResource

        return GuidedResource(
            self.resource_code, self.effective_from, self.effective_to,
            self.new_resource.to_domain() if self.new_resource else None,
            tuple(g.to_domain() for g in self.grants or []), self.overage_rate, self.rate_unit_code,
            _TierMode(self.tier_mode) if self.tier_mode else None, tuple(x.to_domain() for x in self.tiers or []))


@strawberry.input
class ConfigureUsageProductInput:
    product_code: str
    usage_model_type: UsageModelType
    resources: list[GuidedResourceInput]
    product_name: str | None = None

    def to_domain(self) -> "GuidedSetup":
        from core.guided_setup import GuidedSetup

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


# ---------------------------------------------------------------------------------------------- root types
@strawberry.type
class SetupQuery:
    @strawberry.field(permission_classes=[CanRead],
                      description="Every validator rule over up to 10 products, optionally within a date range.")
    async def validate_usage_products(
            self, info: Info, product_codes: list[str],
            from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
            to: DateTime | None = None) -> list[ProductValidation]:
        from core.validation.snapshot import validation_window
        from graphql_api import setup_ops  # the validator, planners and chain repository: on first use

        window = validation_window(product_codes, from_, to)
        found = await asyncio.to_thread(setup_ops.validations, info.context.catalog, product_codes, window)
        return [ProductValidation.from_domain(v) for v in found]


@strawberry.type
class SetupMutation:
    @mutation(permission_classes=[CanConfigure],
                         description="Guided setup of an ANCHOR or PACK product in one call, all records DRAFT.")
    async def configure_usage_product(self, info: Info,
                                      input: ConfigureUsageProductInput) -> ConfigureUsageProductPayload:
        from graphql_api import setup_ops

        product, created, reused = await asyncio.to_thread(setup_ops.configure, info.context.catalog,
                                                           input.to_domain())
        return ConfigureUsageProductPayload(record=t.Product.from_domain(product), created=created, reused=reused)

    @mutation(permission_classes=[CanConfigure],
                         description="Validate (unless validate: false), then activate the product and every DRAFT "
                                     "record of its chain, all or nothing.")
    async def activate_usage_product(self, info: Info, product_code: str,
                                     validate: bool | None = True) -> ActivateUsageProductPayload:
        from graphql_api import setup_ops

        result = await asyncio.to_thread(setup_ops.activate, info.context.catalog, product_code,
                                         validate is not False)
        checked = ProductValidation.from_domain(result.validation) if result.validation else None
        if result.validation is not None and not result.validation.valid:
            count = len(result.validation.errors)
            first = result.validation.errors[0].message
            return ActivateUsageProductPayload(validation=checked, errors=[UserError(
                code=ErrorCode.VALIDATION_FAILED, field="productCode",
                message=f"the validator found {count} error(s), e.g. {first}; fix them or pass validate: false")])
        return ActivateUsageProductPayload(
            record=t.Product.from_domain(result.product), validation=checked,
            activated=[RecordRef.from_domain(setup_ops.ref(r)) for r in result.activated],
            completed_interrupted=result.completed_interrupted)


__all__ = ["SetupMutation", "SetupQuery"]
