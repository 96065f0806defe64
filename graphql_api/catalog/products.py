"""Products, their usage resources (PURs) and grants: inputs, queries and mutations.

Parse, call one catalog service method, map the result."""

import asyncio
from typing import TYPE_CHECKING

import strawberry

from core import catalog as c
from graphql_api.catalog.calls import UNSET, changes_of, ids_to_keys, key_of, mutate, policy_key, remove
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import Connection, DeletePayload, Payload, connection, decode_cursor, page_size
from graphql_api.types.enums import (
    DrawdownOrder,
    GrantType,
    RecordStatus,
    UsageModelType,
    ValidityUnit,
)

if TYPE_CHECKING:
    from core.catalog.service import CatalogService


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


def pur_view(svc: "CatalogService", pur: c.ProductUsageResource) -> t.ProductUsageResource:
    return t.ProductUsageResource.from_domain(pur, svc.store.grants_of_pur(pur.product_code, pur.id),
                                              svc.store.get(c.ProductResourcePolicy, pur.id))


@strawberry.type
class ProductsQuery:
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


@strawberry.type
class ProductsMutation:
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
