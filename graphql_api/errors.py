"""The one place where domain errors become GraphQL: typed results for expected failures, masked otherwise."""

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

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


def format_domain_error(exc: DomainError) -> ExpectedGraphQLError:
    return ExpectedGraphQLError(exc.message, exc.code, field=exc.field)


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
    """Refuse an unparseable Decimal or DateTime (``core.bounds``) in the arguments of any field (a mutation's
    input, a nested field's ``from``/``asOf``) with a typed INVALID_VALUE naming the input path — after the field's
    role check: a key that may not call the operation hears FORBIDDEN, whatever it sent."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs and not (info.path.prev is None and info.field_name in PER_ITEM_VALIDATION):
            found = _first_unparsed(kwargs, "")
            if found is not None:
                _check_permissions(root, info)
                path, value = found
                raise DomainError(ErrorCode.INVALID_VALUE, f"{path}: {value.reason}", path)
        return _next(root, info, *args, **kwargs)


def _check_permissions(root: Any, info: Any) -> None:
    """Run the root field's permission classes, as its resolver would, raising FORBIDDEN on the first refusal."""
    graphql_field = info.parent_type.fields.get(info.field_name)
    field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF) if graphql_field else None
    for permission_class in getattr(field, "permission_classes", ()) or ():
        permission = permission_class()
        if not permission.has_permission(root, info):
            raise ExpectedGraphQLError(permission.message or "forbidden",
                                       (permission.error_extensions or {}).get("code", ErrorCode.FORBIDDEN))


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
