"""The one place where domain errors become GraphQL: typed results for expected failures, masked otherwise."""

import logging
from collections.abc import Awaitable, Callable, Iterator
from decimal import DecimalException
from typing import Any

import strawberry
from graphql import GraphQLError, VariableDefinitionNode
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types.base import StrawberryList, get_object_definition
from strawberry.types.field import StrawberryField

from core.errors import DomainError, ErrorCode
from graphql_api.permissions import refused
from graphql_api.scalars import Unparsed
from infra.store_errors import translate

logger = logging.getLogger("graphql_api")


@strawberry.type
class UserError:
    """An expected failure: a machine-readable code, a sentence a person can act on, the input path at fault."""

    code: str
    message: str
    field: str | None = None


def refusal(payload: type) -> Callable[[DomainError], Any]:
    """How ``payload`` answers a DomainError: the payload with only its typed ``errors`` list — one error
    (``UserError``, or the payload's own error type of the same shape) per detail: ``code``, ``message``, ``field``."""
    definition = get_object_definition(payload, strict=True)
    errors_type = next(f.type for f in definition.fields if f.python_name == "errors")
    error: Any = errors_type.of_type if isinstance(errors_type, StrawberryList) else UserError

    def refuse(exc: DomainError) -> Any:
        return payload(errors=[error(code=d.code, message=d.message, field=d.field) for d in exc.all_details()])
    return refuse


class PayloadErrors(FieldExtension):
    """The one place a mutation's expected failure becomes data: a ``DomainError`` (one problem or a collector's
    several) raised by the resolver is answered as the payload's typed ``errors``; anything else propagates."""

    def apply(self, field: StrawberryField) -> None:
        payload = field.type
        if not isinstance(payload, type):
            raise TypeError(f"{field.python_name}: a mutation with typed errors returns a payload type")
        self.refuse = refusal(payload)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        try:
            return next_(source, info, **kwargs)
        except DomainError as exc:
            return self.refuse(exc)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any,
                            **kwargs: Any) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as exc:
            return self.refuse(exc)


def mutation(**options: Any) -> Any:
    """``strawberry.mutation`` whose DomainErrors become the payload's typed errors (``PayloadErrors``)."""
    return strawberry.mutation(extensions=[PayloadErrors()], **options)


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


def typed(error: GraphQLError) -> GraphQLError:
    """The error a client may see for ``error``: storage failures and invalid variables become typed errors.

    A storage outage (or the store refusing an input) anywhere in the chain becomes its ``DomainError``, and so does
    a Decimal computation that overflowed on an absurd input (the net under the per-field bounds); a variable
    that could not be coerced (the error points at its definition: no resolver ran) is INVALID_VALUE with
    graphql-core's message, which names the variable and the input path. Anything else is left for masking.
    """
    original = error.original_error
    if original is not None and not isinstance(original, (GraphQLError, DomainError)):
        domain = translate(original)
        if domain is None and isinstance(original, DecimalException):  # a number no Decimal context can hold
            domain = DomainError(ErrorCode.INVALID_VALUE, "a number in the input is too large or too precise")
        if domain is not None:
            return GraphQLError(domain.message, error.nodes, path=error.path, original_error=domain,
                                extensions={"code": domain.code})
    if error.path is None and error.nodes and all(isinstance(n, VariableDefinitionNode) for n in error.nodes) \
            and not (error.extensions or {}).get("code"):
        return ExpectedGraphQLError(error.message, ErrorCode.INVALID_VALUE)
    return error


class DomainErrorCodes(SchemaExtension):
    """A DomainError raised outside a payload (paging, limits) still reaches the client with its code; a store
    outage answers HTTP 503 with STORE_UNAVAILABLE."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = (result.errors if result else None) or []
        for index, raw in enumerate(errors):
            errors[index] = error = typed(raw)
            original = error.original_error
            if isinstance(original, DomainError):
                error.extensions = {**(error.extensions or {}), "code": original.code, "field": original.field}
                if original.code == ErrorCode.STORE_UNAVAILABLE:
                    response = getattr(self.execution_context.context, "response", None)
                    if response is not None:
                        response.status_code = 503


def expected(error: GraphQLError) -> bool:
    """An error the client caused or the store's state explains: logged on one line, never with a traceback."""
    original = error.original_error
    return original is None or isinstance(original, (GraphQLError, DomainError)) or typed(error) is not error


def describe(error: GraphQLError) -> str:
    """``CODE at path: message`` on one line."""
    original = error.original_error
    code = (error.extensions or {}).get("code") or getattr(original, "code", None) or (
        "GRAPHQL_VALIDATION_FAILED" if original is None else type(original).__name__)
    code = getattr(code, "value", code)  # an ErrorCode member reads as its value
    where = ".".join(str(p) for p in error.path) if error.path else "the request"
    return f"{code} at {where}: {' '.join(error.message.split())}"


class LoggedSchema(strawberry.Schema):
    """Expected errors are logged on one line (code and message); unexpected ones with their traceback."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = []
        for error in errors:
            if expected(error):
                logger.info("expected error: %s", describe(error))
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


#: Root fields that judge Decimal/DateTime inputs per item themselves (one bad record never sinks the others).
PER_ITEM_VALIDATION = {"recordUsage"}


class UnparsedInputs(SchemaExtension):
    """Refuse an unparseable Decimal or DateTime (``core.bounds``) in the arguments of any field (a mutation's
    input, a nested field's ``from``/``asOf``) with a typed INVALID_VALUE naming the input path — after the field's
    role check: a key that may not call the operation hears FORBIDDEN, whatever it sent."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs and not (info.path.prev is None and info.field_name in PER_ITEM_VALIDATION):
            found = _first_unparsed(kwargs, "")
            if found is not None and not refused(info):  # a caller who may not call it learns FORBIDDEN first
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
