"""The one place where domain errors become GraphQL: typed results for expected failures, masked otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import DomainError


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
