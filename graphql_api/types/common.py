"""Relay-style connections and the shared payload shapes."""

import base64
from typing import Generic, TypeVar

import strawberry

from core.errors import DomainError, ErrorCode
from graphql_api.errors import UserError

T = TypeVar("T")

MAX_PAGE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raise DomainError(ErrorCode.INVALID_VALUE, "after is not a cursor this API returned", "after") from None


def page_size(first: int | None, cap: int = MAX_PAGE) -> int:
    size = 20 if first is None else first
    if size < 0:
        raise DomainError(ErrorCode.INVALID_VALUE, "first must not be negative", "first")
    if size > cap:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"first may be at most {cap}", "first")
    return size


def connection(nodes: list[T], cursors: list[str], has_next: bool) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(c), node=n) for n, c in zip(nodes, cursors, strict=True)]
    return Connection(edges=edges, page_info=PageInfo(has_next_page=has_next,
                                                      end_cursor=edges[-1].cursor if edges else None))


@strawberry.type
class Payload(Generic[T]):
    """The result of a mutation: the record on success, typed errors otherwise."""

    record: T | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
