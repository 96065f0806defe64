"""Usage resources: inputs, queries and mutations.

Parse, call one catalog service method, map the result."""

import asyncio

import strawberry

from core import catalog as c
from graphql_api.catalog.calls import UNSET, changes_of, mutate, remove
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import Connection, DeletePayload, Payload, connection, decode_cursor, page_size
from graphql_api.types.enums import (
    RecordStatus,
    ResourceCategory,
)


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


@strawberry.type
class ResourcesQuery:
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


@strawberry.type
class ResourcesMutation:
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
