"""Catalog queries and manual-configuration mutations: parse, call the service, map the result."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry

from core import catalog as c
from core.errors import DomainError, ErrorCode
from core.rating.model import AdjustmentType as _AdjustmentType
from core.rating.model import TierMode as _TierMode
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.ids import from_global_id
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import Connection, DeletePayload, Payload, connection, decode_cursor, page_size
from graphql_api.types.enums import (
    AdjustmentType,
    AggregationMethod,
    AggregationPeriod,
    BindingTargetType,
    BindingType,
    CommitmentRate,
    DrawdownOrder,
    GrantType,
    PeriodUnit,
    PolicyKind,
    RateCardType,
    RecordStatus,
    ResourceCategory,
    TierMode,
    UnitClassType,
    UsageModelType,
    ValidityUnit,
)

if TYPE_CHECKING:
    from core.catalog_service import CatalogService

R = TypeVar("R")
UNSET: Any = strawberry.UNSET
AnyPolicy = t.PolicyRecord


def key_of(value: str, kind: str) -> str:
    """The storage key inside an opaque id; an id of another kind names nothing."""
    decoded = from_global_id(value, kind)
    if decoded is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"'{value}' is not the id of a {kind}", "id")
    return decoded[1]


def changes_of(data: object, *names: str, rename: dict[str, str] | None = None) -> dict[str, Any]:
    rename = rename or {}
    return {rename.get(n, n): getattr(data, n) for n in names if getattr(data, n) is not UNSET}


async def mutate(info: Info, action: "Callable[[CatalogService], R]", wrap: Callable[[R], Any]) -> Payload[Any]:
    return Payload(record=wrap(await asyncio.to_thread(action, info.context.catalog_service)))


async def remove(info: Info, action: "Callable[[CatalogService], Any]", deleted_id: strawberry.ID) -> DeletePayload:
    await asyncio.to_thread(action, info.context.catalog_service)
    return DeletePayload(deleted_id=deleted_id)


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- inputs
@strawberry.input
class UnitOfMeasureInput:
    unit_code: str
    name: str
    conversion_factor: DecimalScalar
    decimal_places: int | None = None
    sequence: int | None = None


@strawberry.input
class CreateUnitOfMeasureClassInput:
    code: str
    name: str
    type: UnitClassType
    base_unit_code: str
    units: list[UnitOfMeasureInput]
    default_unit_code: str | None = None


@strawberry.input
class UpdateUnitOfMeasureClassInput:
    code: str
    name: str | None = UNSET
    default_unit_code: str | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateUnitOfMeasureInput:
    class_code: str
    unit_code: str
    name: str
    conversion_factor: DecimalScalar
    decimal_places: int | None = None
    sequence: int | None = None


@strawberry.input
class UpdateUnitOfMeasureInput:
    unit_code: str
    name: str | None = UNSET
    conversion_factor: DecimalScalar | None = UNSET
    sequence: int | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateUsageResourceInput:
    code: str
    name: str
    unit_of_measure_class_code: str
    category: ResourceCategory = c.ResourceCategory.USAGE
    default_unit_code: str | None = None
    token_resource_code: str | None = None
    tokens_per_unit: DecimalScalar | None = None
    usage_definition_product_code: str | None = None


@strawberry.input
class UpdateUsageResourceInput:
    code: str
    name: str | None = UNSET
    default_unit_code: str | None = UNSET
    token_resource_code: str | None = UNSET
    tokens_per_unit: DecimalScalar | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateProductInput:
    code: str
    name: str
    usage_model_type: UsageModelType


@strawberry.input
class UpdateProductInput:
    code: str
    name: str | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateProductUsageResourceInput:
    product_code: str
    resource_code: str
    effective_from: DateTime
    effective_to: DateTime | None = None
    is_optional: bool = False
    token_resource_code: str | None = None


@strawberry.input
class UpdateProductUsageResourceInput:
    id: strawberry.ID
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    is_optional: bool | None = UNSET
    token_resource_code: str | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateProductUsageGrantInput:
    product_usage_resource_id: strawberry.ID
    quantity: DecimalScalar
    validity_unit: ValidityUnit
    type: GrantType = c.GrantType.GRANT
    unit_code: str | None = None
    validity_term: int | None = None
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None
    refresh_policy_id: strawberry.ID | None = None
    rollover_policy_id: strawberry.ID | None = None
    drawdown_order: DrawdownOrder = c.DrawdownOrder.EXPIRING_FIRST


@strawberry.input
class UpdateProductUsageGrantInput:
    id: strawberry.ID
    quantity: DecimalScalar | None = UNSET
    unit_code: str | None = UNSET
    validity_term: int | None = UNSET
    validity_unit: ValidityUnit | None = UNSET
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    refresh_policy_id: strawberry.ID | None = UNSET
    rollover_policy_id: strawberry.ID | None = UNSET
    drawdown_order: DrawdownOrder | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreatePolicyInput:
    """One input for every policy kind; the kind decides which settings are required."""

    kind: PolicyKind
    name: str
    aggregation_method: AggregationMethod | None = None
    aggregation_period: AggregationPeriod | None = None
    rating_period: AggregationPeriod | None = None
    delay: int | None = None
    delay_unit: str | None = None
    chargeable: bool | None = None
    refresh_allowed: bool | None = None
    refresh_frequency: int | None = None
    refresh_unit: PeriodUnit | None = None
    rollover_allowed: bool | None = None
    rollover_can_expire: bool | None = None
    maximum_rollover_count: int | None = None
    maximum_rollover_quantity: DecimalScalar | None = None
    commitment_rate: CommitmentRate | None = None


POLICY_SETTINGS = ("aggregation_method", "aggregation_period", "rating_period", "delay", "delay_unit", "chargeable",
                   "refresh_allowed", "refresh_frequency", "refresh_unit", "rollover_allowed", "rollover_can_expire",
                   "maximum_rollover_count", "maximum_rollover_quantity", "commitment_rate")


@strawberry.input
class UpdatePolicyInput:
    id: strawberry.ID
    name: str | None = UNSET
    aggregation_method: AggregationMethod | None = UNSET
    aggregation_period: AggregationPeriod | None = UNSET
    rating_period: AggregationPeriod | None = UNSET
    delay: int | None = UNSET
    delay_unit: str | None = UNSET
    chargeable: bool | None = UNSET
    refresh_allowed: bool | None = UNSET
    refresh_frequency: int | None = UNSET
    refresh_unit: PeriodUnit | None = UNSET
    rollover_allowed: bool | None = UNSET
    rollover_can_expire: bool | None = UNSET
    maximum_rollover_count: int | None = UNSET
    maximum_rollover_quantity: DecimalScalar | None = UNSET
    commitment_rate: CommitmentRate | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class PolicyLinksInput:
    aggregation_policy_id: strawberry.ID | None = None
    rating_frequency_policy_id: strawberry.ID | None = None
    overage_policy_id: strawberry.ID | None = None
    commitment_policy_id: strawberry.ID | None = None


@strawberry.input
class ResourcePolicyInput:
    resource_code: str
    policies: PolicyLinksInput
    status: RecordStatus | None = UNSET


@strawberry.input
class ProductResourcePolicyInput:
    product_usage_resource_id: strawberry.ID
    policies: PolicyLinksInput
    status: RecordStatus | None = UNSET


@strawberry.input
class GrantBindingPolicyInput:
    product_code: str
    binding: BindingType = c.BindingType.SELF
    target: BindingTargetType | None = None
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateRateCardInput:
    name: str
    type: RateCardType = c.RateCardType.BASE
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None


@strawberry.input
class UpdateRateCardInput:
    id: strawberry.ID
    name: str | None = UNSET
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class RateTierInput:
    lower_bound: DecimalScalar
    adjustment_type: AdjustmentType
    adjustment_value: DecimalScalar
    upper_bound: DecimalScalar | None = None
    flat_fee: DecimalScalar | None = None

    def to_domain(self) -> c.RateTier:
        return c.RateTier(self.lower_bound, self.upper_bound, _AdjustmentType(self.adjustment_type),
                          self.adjustment_value, self.flat_fee)


@strawberry.input
class CreateRateCardEntryInput:
    rate_card_id: strawberry.ID
    rate: DecimalScalar
    rate_unit_code: str
    resource_code: str | None = None
    product_code: str | None = None
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None
    tier_mode: TierMode | None = None
    tiers: list[RateTierInput] | None = None
    negotiable: bool = False


@strawberry.input
class UpdateRateCardEntryInput:
    id: strawberry.ID
    rate: DecimalScalar | None = UNSET
    rate_unit_code: str | None = UNSET
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    tier_mode: TierMode | None = UNSET
    negotiable: bool | None = UNSET
    status: RecordStatus | None = UNSET


def policy_set(links: PolicyLinksInput) -> c.PolicySet:
    return c.PolicySet(policy_key(links.aggregation_policy_id), policy_key(links.rating_frequency_policy_id),
                       policy_key(links.overage_policy_id), policy_key(links.commitment_policy_id))


def ids_to_keys(changes: dict[str, Any], **kinds: str) -> dict[str, Any]:
    for name, kind in kinds.items():
        if changes.get(name):
            changes[name] = key_of(changes[name], kind)
    return changes


def policy_key(value: strawberry.ID | None) -> str | None:
    return key_of(value, "Policy") if value else None


def given(value: Any) -> Any:
    """An optional input left out (UNSET) reads as None."""
    return None if value is UNSET else value


def tier_key(tier_id: str) -> tuple[str, str]:
    """(rate card entry id, lower bound as written) inside a RateTier id."""
    entry, _, lower = key_of(tier_id, "RateTier").rpartition("|")
    return entry, lower


# ---------------------------------------------------------------------------------------------- queries
@strawberry.type
class CatalogQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def product(self, info: Info, code: str) -> t.Product | None:
        graph = await info.context.loaders.product_graph.load(code)
        return t.Product.from_domain(graph.product) if graph else None

    @strawberry.field(permission_classes=[CanRead])
    async def products(self, info: Info, first: int | None = 20, after: str | None = None,
                       usage_model_type: UsageModelType | None = None,
                       status: RecordStatus | None = None) -> Connection[t.Product]:
        size = page_size(first)
        after_code = decode_cursor(after)

        def accept(p: c.Product) -> bool:
            return (usage_model_type is None or p.usage_model_type == usage_model_type) and (
                status is None or p.status == status)

        graphs, has_next = await asyncio.to_thread(info.context.catalog.products_page, after_code, size, accept)
        info.context.loaders.prime_graphs(graphs)
        return connection([t.Product.from_domain(g.product) for g in graphs],
                          [g.product.code for g in graphs], has_next)

    @strawberry.field(permission_classes=[CanRead])
    async def usage_resource(self, info: Info, code: str) -> t.UsageResource | None:
        return await t.resource_by_code(info, code)

    @strawberry.field(permission_classes=[CanRead])
    async def usage_resources(self, info: Info, first: int | None = 20,
                              after: str | None = None) -> Connection[t.UsageResource]:
        size = page_size(first)
        found, has_next = await asyncio.to_thread(info.context.catalog.resources_page, decode_cursor(after), size)
        for r in found:
            info.context.loaders.resource.prime(r.code, r)
        return connection([t.UsageResource.from_domain(r) for r in found], [r.code for r in found], has_next)

    @strawberry.field(permission_classes=[CanRead])
    async def unit_of_measure_classes(self, info: Info) -> list[t.UnitOfMeasureClass]:
        classes = await info.context.loaders.unit_classes()
        return [t.UnitOfMeasureClass.from_domain(k) for k in sorted(classes.values(), key=lambda k: k.code)]

    @strawberry.field(permission_classes=[CanRead])
    async def policies(self, info: Info, kind: PolicyKind | None = None) -> list[AnyPolicy]:
        found = (await info.context.loaders.policies()).values()
        return [t.policy_from_domain(p) for p in sorted(found, key=lambda p: (p.kind, p.name, p.id))
                if kind is None or p.kind == kind]

    @strawberry.field(permission_classes=[CanRead])
    async def rate_cards(self, info: Info) -> list[t.RateCard]:
        cards = (await info.context.loaders.rate_cards()).values()
        return [t.RateCard.from_domain(card) for card in sorted(cards, key=lambda k: (k.name, k.id))]


# ---------------------------------------------------------------------------------------------- mutations
def pur_view(svc: "CatalogService", pur: c.ProductUsageResource) -> t.ProductUsageResource:
    return t.ProductUsageResource.from_domain(pur, svc.store.grants_of_pur(pur.product_code, pur.id),
                                              svc.store.get(c.ProductResourcePolicy, pur.id))


@strawberry.type
class CatalogMutation:
    # ---- units
    @mutation(permission_classes=[CanConfigure])
    async def create_unit_of_measure_class(self, info: Info, input: CreateUnitOfMeasureClassInput
                                           ) -> Payload[t.UnitOfMeasureClass]:
        cls = c.UnitOfMeasureClass(input.code, input.name, input.type, input.base_unit_code,
                                   input.default_unit_code or input.base_unit_code)
        units = [c.UnitOfMeasure(u.unit_code, u.name, input.code, u.conversion_factor,
                                 u.sequence if u.sequence is not None else i, u.decimal_places)
                 for i, u in enumerate(input.units)]
        return await mutate(info, lambda s: s.create_unit_class(cls, units), t.UnitOfMeasureClass.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_unit_of_measure_class(self, info: Info, input: UpdateUnitOfMeasureClassInput
                                           ) -> Payload[t.UnitOfMeasureClass]:
        changes = changes_of(input, "name", "default_unit_code", "status")
        return await mutate(info, lambda s: s.update(c.UnitOfMeasureClass, input.code, changes),
                            t.UnitOfMeasureClass.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_unit_of_measure_class(self, info: Info, code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.UnitOfMeasureClass, code),
                            t.to_global_id("UnitOfMeasureClass", code))

    @mutation(permission_classes=[CanConfigure])
    async def create_unit_of_measure(self, info: Info, input: CreateUnitOfMeasureInput) -> Payload[t.UnitOfMeasure]:
        unit = c.UnitOfMeasure(input.unit_code, input.name, input.class_code, input.conversion_factor,
                               input.sequence or 0, input.decimal_places)
        return await mutate(info, lambda s: s.create(unit), t.UnitOfMeasure.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_unit_of_measure(self, info: Info, input: UpdateUnitOfMeasureInput) -> Payload[t.UnitOfMeasure]:
        changes = changes_of(input, "name", "conversion_factor", "sequence", "status")
        return await mutate(info, lambda s: s.update(c.UnitOfMeasure, input.unit_code, changes),
                            t.UnitOfMeasure.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_unit_of_measure(self, info: Info, unit_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.UnitOfMeasure, unit_code),
                            t.to_global_id("UnitOfMeasure", unit_code))

    # ---- resources and products
    @mutation(permission_classes=[CanConfigure])
    async def create_usage_resource(self, info: Info, input: CreateUsageResourceInput) -> Payload[t.UsageResource]:
        return await mutate(info, lambda s: s.create_resource(
            input.code, input.name, input.category, input.unit_of_measure_class_code, input.default_unit_code,
            input.token_resource_code, input.tokens_per_unit, input.usage_definition_product_code),
            t.UsageResource.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_usage_resource(self, info: Info, input: UpdateUsageResourceInput) -> Payload[t.UsageResource]:
        changes = changes_of(input, "name", "default_unit_code", "token_resource_code", "tokens_per_unit", "status")
        return await mutate(info, lambda s: s.update(c.UsageResource, input.code, changes),
                            t.UsageResource.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_usage_resource(self, info: Info, code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.UsageResource, code), t.to_global_id("UsageResource", code))

    @mutation(permission_classes=[CanConfigure])
    async def create_product(self, info: Info, input: CreateProductInput) -> Payload[t.Product]:
        product = c.Product(input.code, input.name, input.usage_model_type)
        return await mutate(info, lambda s: s.create(product), t.Product.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_product(self, info: Info, input: UpdateProductInput) -> Payload[t.Product]:
        changes = changes_of(input, "name", "status")
        return await mutate(info, lambda s: s.update(c.Product, input.code, changes), t.Product.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_product(self, info: Info, code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.Product, code), t.to_global_id("Product", code))

    # ---- product usage resources and grants
    @mutation(permission_classes=[CanConfigure])
    async def create_product_usage_resource(self, info: Info, input: CreateProductUsageResourceInput
                                            ) -> Payload[t.ProductUsageResource]:
        return await mutate(info, lambda s: pur_view(s, s.create_pur(
            input.product_code, input.resource_code, input.effective_from, input.effective_to, input.is_optional,
            input.token_resource_code)), lambda v: v)

    @mutation(permission_classes=[CanConfigure])
    async def update_product_usage_resource(self, info: Info, input: UpdateProductUsageResourceInput
                                            ) -> Payload[t.ProductUsageResource]:
        changes = changes_of(input, "effective_from", "effective_to", "is_optional", "token_resource_code", "status")

        def update(s: "CatalogService") -> t.ProductUsageResource:
            return pur_view(s, s.update(c.ProductUsageResource, key_of(input.id, "ProductUsageResource"), changes))
        return await mutate(info, update, lambda v: v)

    @mutation(permission_classes=[CanConfigure])
    async def delete_product_usage_resource(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.ProductUsageResource, key_of(id, "ProductUsageResource")),
                            id)

    @mutation(permission_classes=[CanConfigure])
    async def create_product_usage_grant(self, info: Info, input: CreateProductUsageGrantInput
                                         ) -> Payload[t.ProductUsageGrant]:
        pur = key_of(input.product_usage_resource_id, "ProductUsageResource")
        refresh, rollover = policy_key(input.refresh_policy_id), policy_key(input.rollover_policy_id)
        return await mutate(info, lambda s: s.create_grant(
            pur, input.quantity, input.validity_unit, input.type, input.unit_code, input.validity_term,
            input.effective_from, input.effective_to, refresh, rollover, input.drawdown_order),
            t.ProductUsageGrant.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_product_usage_grant(self, info: Info, input: UpdateProductUsageGrantInput
                                         ) -> Payload[t.ProductUsageGrant]:
        changes = ids_to_keys(changes_of(input, "quantity", "unit_code", "validity_term", "validity_unit",
                                         "effective_from", "effective_to", "refresh_policy_id",
                                         "rollover_policy_id", "drawdown_order", "status"),
                              refresh_policy_id="Policy", rollover_policy_id="Policy")
        return await mutate(info, lambda s: s.update(c.ProductUsageGrant, key_of(input.id, "ProductUsageGrant"),
                                                     changes), t.ProductUsageGrant.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_product_usage_grant(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.ProductUsageGrant, key_of(id, "ProductUsageGrant")), id)

    # ---- policies
    @mutation(permission_classes=[CanConfigure])
    async def create_policy(self, info: Info, input: CreatePolicyInput) -> Payload[AnyPolicy]:
        settings = {n: getattr(input, n) for n in POLICY_SETTINGS}
        return await mutate(info, lambda s: s.create_policy(input.kind, input.name, **settings),
                            t.policy_from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_policy(self, info: Info, input: UpdatePolicyInput) -> Payload[AnyPolicy]:
        changes = changes_of(input, "name", "status", *POLICY_SETTINGS)
        return await mutate(info, lambda s: s.update(c.Policy, key_of(input.id, "Policy"), changes),
                            t.policy_from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_policy(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.Policy, key_of(id, "Policy")), id)

    @mutation(permission_classes=[CanConfigure], description="Create or change a resource's policies.")
    async def set_resource_policy(self, info: Info, input: ResourcePolicyInput) -> Payload[t.ResourcePolicy]:
        policies, status = policy_set(input.policies), given(input.status)
        return await mutate(info, lambda s: s.set_resource_policy(input.resource_code, policies, status),
                            t.ResourcePolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_resource_policy(self, info: Info, resource_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.ResourcePolicy, resource_code),
                            t.to_global_id("ResourcePolicy", resource_code))

    @mutation(permission_classes=[CanConfigure],
                         description="Create or change a product-resource policy (overrides the resource's).")
    async def set_product_resource_policy(self, info: Info, input: ProductResourcePolicyInput
                                          ) -> Payload[t.ProductResourcePolicy]:
        pur = key_of(input.product_usage_resource_id, "ProductUsageResource")
        policies, status = policy_set(input.policies), given(input.status)
        return await mutate(info, lambda s: s.set_product_resource_policy(pur, policies, status),
                            t.ProductResourcePolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_product_resource_policy(self, info: Info, product_usage_resource_id: strawberry.ID
                                             ) -> DeletePayload:
        key = key_of(product_usage_resource_id, "ProductUsageResource")
        return await remove(info, lambda s: s.delete(c.ProductResourcePolicy, key),
                            t.to_global_id("ProductResourcePolicy", key))

    @mutation(permission_classes=[CanConfigure])
    async def set_grant_binding_policy(self, info: Info, input: GrantBindingPolicyInput
                                       ) -> Payload[t.GrantBindingPolicy]:
        return await mutate(info, lambda s: s.set_grant_binding_policy(
            input.product_code, input.binding, input.target, given(input.status)), t.GrantBindingPolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_grant_binding_policy(self, info: Info, product_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.GrantBindingPolicy, product_code),
                            t.to_global_id("GrantBindingPolicy", product_code))

    # ---- rate cards, entries, tiers
    @mutation(permission_classes=[CanConfigure])
    async def create_rate_card(self, info: Info, input: CreateRateCardInput) -> Payload[t.RateCard]:
        return await mutate(info, lambda s: s.create_rate_card(input.name, input.type, input.effective_from,
                                                               input.effective_to, now()), t.RateCard.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_rate_card(self, info: Info, input: UpdateRateCardInput) -> Payload[t.RateCard]:
        changes = changes_of(input, "name", "effective_from", "effective_to", "status")
        return await mutate(info, lambda s: s.update(c.RateCard, key_of(input.id, "RateCard"), changes),
                            t.RateCard.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_rate_card(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.RateCard, key_of(id, "RateCard")), id)

    @mutation(permission_classes=[CanConfigure])
    async def create_rate_card_entry(self, info: Info, input: CreateRateCardEntryInput) -> Payload[t.RateCardEntry]:
        card = key_of(input.rate_card_id, "RateCard")
        mode = _TierMode(input.tier_mode) if input.tier_mode else None
        tiers = [tier.to_domain() for tier in input.tiers or []]
        return await mutate(info, lambda s: s.create_rate_card_entry(
            card, input.rate, input.rate_unit_code, input.resource_code, input.product_code, input.effective_from,
            input.effective_to, mode, tiers, input.negotiable), t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_rate_card_entry(self, info: Info, input: UpdateRateCardEntryInput) -> Payload[t.RateCardEntry]:
        changes = changes_of(input, "rate", "rate_unit_code", "effective_from", "effective_to", "tier_mode",
                             "negotiable", "status")
        return await mutate(info, lambda s: s.update(c.RateCardEntry, key_of(input.id, "RateCardEntry"), changes),
                            t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_rate_card_entry(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.RateCardEntry, key_of(id, "RateCardEntry")), id)

    @mutation(permission_classes=[CanConfigure], description="Add a tier to a DRAFT rate card entry.")
    async def create_rate_tier(self, info: Info, rate_card_entry_id: strawberry.ID,
                               input: RateTierInput) -> Payload[t.RateCardEntry]:
        entry = key_of(rate_card_entry_id, "RateCardEntry")
        return await mutate(info, lambda s: s.add_tier(entry, input.to_domain()), t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure], description="Replace one tier of a DRAFT entry.")
    async def update_rate_tier(self, info: Info, id: strawberry.ID, input: RateTierInput) -> Payload[t.RateCardEntry]:
        entry, lower = tier_key(id)
        return await mutate(info, lambda s: s.replace_tier(entry, lower, input.to_domain(), id),
                            t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure], description="Remove one tier of a DRAFT entry.")
    async def delete_rate_tier(self, info: Info, id: strawberry.ID) -> DeletePayload:
        entry, lower = tier_key(id)
        return await remove(info, lambda s: s.replace_tier(entry, lower, None, id), id)


__all__ = ["CatalogQuery", "CatalogMutation", "Decimal"]
