"""GraphQL type of a tenant's API key: never its secret (shown once, in ``createApiKey``'s answer)."""

import strawberry

from core.auth import ApiKey as DomainApiKey
from graphql_api.errors import UserError
from graphql_api.ids import to_global_id
from graphql_api.scalars import DateTime
from graphql_api.types.enums import Role

KIND = "ApiKey"


@strawberry.type(description="An API key of the caller's tenant. The key itself is never shown again.")
class ApiKey:
    id: strawberry.ID
    name: str
    roles: list[Role]
    created_at: DateTime
    revoked_at: DateTime | None = strawberry.field(
        description="Set once revoked: the key no longer signs in.")

    @classmethod
    def from_domain(cls, key: DomainApiKey) -> "ApiKey":
        return cls(id=to_global_id(KIND, key.id), name=key.name, roles=sorted(key.roles),
                   created_at=key.created_at, revoked_at=key.revoked_at)


@strawberry.type
class CreateApiKeyPayload:
    record: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key, for `Authorization: Bearer <key>`. Shown only in this answer: it is "
                                  "stored as a hash and cannot be read again.")
    errors: list[UserError] = strawberry.field(default_factory=list)
