"""How GraphQL errors are logged: an expected one (a typed domain error, FORBIDDEN, a query that does not
validate) is the client's mistake, answered with its code — one line at INFO, no traceback; an unexpected one (a
bug, masked for the client) keeps Strawberry's ERROR with the traceback. Strawberry's documented hook for this is
``Schema.process_errors``; the test of "expected" is the one masking uses (``errors.should_mask``)."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.utils.logging import StrawberryLogger

from core.errors import DomainError
from graphql_api.errors import should_mask

logger = logging.getLogger("strawberry.execution")


def describe(error: GraphQLError) -> str:
    """``CODE at path: message`` on one line."""
    original = error.original_error
    code = (original.code if isinstance(original, DomainError) else (error.extensions or {}).get("code")) or (
        "GRAPHQL_VALIDATION_FAILED" if original is None else type(original).__name__)
    where = ".".join(str(p) for p in error.path) if error.path else "the request"
    return f"{code} at {where}: {' '.join(error.message.split())}"


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            if should_mask(error):
                StrawberryLogger.error(error, execution_context)
            else:
                logger.info("expected error: %s", describe(error))
