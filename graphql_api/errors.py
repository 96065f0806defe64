"""The one place where domain errors become GraphQL: typed results for expected failures, masked otherwise."""

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import DomainError, ErrorCode
from graphql_api.scalars import Unparsed


@strawberry.type
class UserError:
    """An expected failure: a machine-readable code, a sentence a person can act on, the input path at fault."""

    code: str
    message: str
    field: str | None = None


def user_errors(exc: DomainError) -> list[UserError]:
    return [UserError(code=d.code, message=d.message, field=d.field) for d in exc.all_details()]


class ExpectedGraphQLError(GraphQLError):
    """A GraphQL-level error that is safe to show (FORBIDDEN, limits); everything else is masked."""

    def __init__(self, message: str, code: str, **extensions: Any):
        super().__init__(message, extensions={"code": code, **extensions})


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep validation errors, typed domain errors and our own GraphQL errors."""
    original = error.original_error
    if original is None:
        return False
    if isinstance(original, (ExpectedGraphQLError, DomainError)):
        return False
    return not isinstance(original, GraphQLError)


class DomainErrorCodes(SchemaExtension):
    """A DomainError raised outside a payload (paging, limits) still reaches the client with its code."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result else None) or []:
            original = error.original_error
            if isinstance(original, DomainError):
                error.extensions = {**(error.extensions or {}), "code": original.code, "field": original.field}


#: Root fields that judge Decimal/DateTime inputs per item themselves (one bad record never sinks the others).
PER_ITEM_VALIDATION = {"recordUsage"}


class UnparsedInputs(SchemaExtension):
    """Refuse an unparseable Decimal or DateTime with a typed INVALID_VALUE naming the input path."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is None and info.field_name not in PER_ITEM_VALIDATION:
            found = _first_unparsed(kwargs, "")
            if found is not None:
                path, value = found
                raise DomainError(ErrorCode.INVALID_VALUE, f"{path}: {value.reason}", path)
        return _next(root, info, *args, **kwargs)


def _first_unparsed(value: Any, path: str) -> tuple[str, Unparsed] | None:
    if isinstance(value, Unparsed):
        return path, value
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = _camel(key) if isinstance(key, str) else str(key)
        found = _first_unparsed(item, f"{path}.{name}" if path else name)
        if found is not None:
            return found
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
