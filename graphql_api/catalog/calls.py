"""What every catalog resolver shares: opaque ids to keys, the changes an update input carries, one service call
in a worker thread mapped to its payload (a DomainError becomes the payload's errors in ``graphql_api.errors``)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry

from core.errors import DomainError, ErrorCode
from graphql_api.context import Info
from graphql_api.ids import from_global_id
from graphql_api.types.common import DeletePayload, Payload

if TYPE_CHECKING:
    from core.catalog.service import CatalogService

R = TypeVar("R")
UNSET: Any = strawberry.UNSET


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
