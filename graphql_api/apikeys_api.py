"""A tenant's API keys, for its ADMIN keys: ``createApiKey`` (the secret shown once), ``apiKeys``, ``revokeApiKey``.

The tenant is always the caller's own. A revoked key stops signing in at once in a fresh process and within the
key cache's lifetime in a warm one (``graphql_api.app.KeyCache``).
"""

import asyncio

import strawberry

from core.auth import key_request
from core.errors import NotFound
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.ids import from_global_id
from graphql_api.permissions import CanManageKeys
from graphql_api.types.apikeys import KIND, ApiKey, CreateApiKeyPayload
from graphql_api.types.common import Connection, Payload, connection, decode_cursor, page_size
from graphql_api.types.enums import Role


@strawberry.input
class CreateApiKeyInput:
    name: str = strawberry.field(description="What or who uses the key (1–100 characters).")
    roles: list[Role] = strawberry.field(
        description="At least one: ADMIN (everything), PARTNER (record and read usage), VIEWER (read only).")


@strawberry.type
class ApiKeysQuery:
    @strawberry.field(permission_classes=[CanManageKeys],
                      description="The keys of the caller's tenant, oldest first, revoked ones included.")
    async def api_keys(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[ApiKey]:
        size = page_size(first)
        found, has_next = await asyncio.to_thread(info.context.api_keys.page, decode_cursor(after), size)
        return connection([ApiKey.from_domain(k) for k in found], [k.id for k in found], has_next)


@strawberry.type
class ApiKeysMutation:
    @mutation(permission_classes=[CanManageKeys],
                         description="A new key of the caller's tenant; its secret is in this answer only.")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        request = key_request(input.name, [Role(r).value for r in input.roles])
        record, secret = await asyncio.to_thread(info.context.api_keys.create, request)
        return CreateApiKeyPayload(record=ApiKey.from_domain(record), secret=secret)

    @mutation(permission_classes=[CanManageKeys],
                         description="Revoke a key of the caller's tenant; revoking it again changes nothing.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> Payload[ApiKey]:
        parsed = from_global_id(id, KIND)
        if parsed is None:
            raise NotFound("API key", id, "id")
        record = await asyncio.to_thread(info.context.api_keys.revoke, parsed[1])
        return Payload(record=ApiKey.from_domain(record))
