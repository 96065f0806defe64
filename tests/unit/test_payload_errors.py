"""The one wrapper that turns a mutation's DomainError into its payload's typed errors (graphql_api.errors)."""

import asyncio
from typing import Any

import strawberry

from core.errors import Collector, DomainError, ErrorCode
from graphql_api.errors import UserError, mutation


@strawberry.type
class ThingPayload:
    name: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OwnError:
    code: str
    message: str
    field: str | None = None


@strawberry.type
class OwnPayload:
    count: int = 0
    errors: list[OwnError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Mutation:
    @mutation()
    async def make(self, name: str) -> ThingPayload:
        if name == "bad":
            errors = Collector()
            errors.add(ErrorCode.INVALID_VALUE, "name is bad", "name")
            errors.add(ErrorCode.REQUIRED, "a second problem", "other")
            errors.raise_if_any()
        if name == "bug":
            raise RuntimeError("not an expected failure")
        return ThingPayload(name=name)

    @mutation()
    def count(self) -> OwnPayload:
        raise DomainError(ErrorCode.NOT_FOUND, "nothing to count", "id")


schema = strawberry.Schema(query=Query, mutation=Mutation)


def run(query: str) -> Any:
    return asyncio.run(schema.execute(query))


def test_a_collector_of_problems_becomes_every_typed_error_of_the_payload() -> None:
    # GIVEN a mutation whose resolver raises one DomainError collecting two problems
    result = run('mutation { make(name: "bad") { name errors { code message field } } }')
    # THEN the call succeeds with both problems as typed errors and no record
    assert result.errors is None
    assert result.data == {"make": {"name": None, "errors": [
        {"code": "INVALID_VALUE", "message": "name is bad", "field": "name"},
        {"code": "REQUIRED", "message": "a second problem", "field": "other"}]}}


def test_a_success_passes_through_and_an_unexpected_exception_stays_a_graphql_error() -> None:
    ok = run('mutation { make(name: "fine") { name errors { code } } }')
    assert ok.data == {"make": {"name": "fine", "errors": []}}
    bug = run('mutation { make(name: "bug") { name } }')
    assert bug.errors and "not an expected failure" in bug.errors[0].message


def test_a_sync_resolver_and_a_payload_with_its_own_error_type_are_mapped_the_same_way() -> None:
    result = run("mutation { count { count errors { code message field } } }")
    assert result.errors is None
    assert result.data == {"count": {"count": 0, "errors": [
        {"code": "NOT_FOUND", "message": "nothing to count", "field": "id"}]}}
