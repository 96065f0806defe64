"""What a document may cost, judged before anything walks it, and validation kept off the event loop.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` re-walk a fragment at every spread, so a 1 KB document
whose fragments each spread the previous one twice (``fragment F1 on T {...F0 ...F0}`` … ``F29``) makes them walk
2^29 selections. Here each fragment is measured once (``measure``), so the cost of a document is linear in its size;
a document over a limit is refused before any other rule (or the executor) sees it. The rest of validation, bounded
by then, runs in a worker thread so that ``/health`` and other requests keep being served meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from core.auth import Role
from graphql_api.errors import ExpectedGraphQLError

#: Fragments nested in one another beyond this are refused outright (the parser bounds nesting inside one definition).
MAX_FRAGMENT_NESTING = 100
#: Documents up to this many characters are kept parsed, and once valid remembered as valid, in ``KEPT_DOCUMENTS``
#: entries each: a client sends the same few documents again and again, and recordUsage's parse and validation
#: cost ~1.2 ms of CPU (and two thread hand-offs) per call otherwise — 0.02 ms per record at 75 records a call.
KEPT_DOCUMENT_CHARS = 20_000
KEPT_DOCUMENTS = 256


class Kept:
    """A small least-recently-used map, shared by the threads of a process."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


#: query text and parse options → its DocumentNode (never changed by execution, as Strawberry's ParserCache has it)
_PARSED = Kept(KEPT_DOCUMENTS)
#: (schema, query text, operation name, limits, suggestions and introspection allowed) of valid documents → True
_VALID = Kept(KEPT_DOCUMENTS)


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_selections: int


@dataclass(frozen=True)
class Shape:
    """A selection set with every fragment spread expanded: its fields, its deepest nesting and its aliases."""

    selections: int = 0
    depth: int = 0
    aliases: int = 0

    def __add__(self, other: Shape) -> Shape:
        return Shape(self.selections + other.selections, max(self.depth, other.depth), self.aliases + other.aliases)


class TooNested(Exception):
    """Fragments spread inside one another more than ``MAX_FRAGMENT_NESTING`` times."""


def measure(document: DocumentNode) -> dict[str | None, Shape]:
    """The expanded shape of each operation of ``document``, each fragment measured once (linear time).

    Depth counts as Strawberry's limiter does: a root field is at depth 0 and introspection fields (``__schema``,
    ``__type``) do not count towards it. A spread of an unknown fragment or one closing a cycle adds nothing here:
    validation reports those.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    known: dict[str, Shape] = {}
    open_: set[str] = set()

    def of_set(selection_set: SelectionSetNode | None, nesting: int) -> Shape:
        total = Shape()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                inner = of_set(selection.selection_set, nesting)
                counted = selection.selection_set is not None and not selection.name.value.startswith("__")
                total += Shape(1 + inner.selections, 1 + inner.depth if counted else 0,
                               (1 if selection.alias else 0) + inner.aliases)
            elif isinstance(selection, InlineFragmentNode):
                total += of_set(selection.selection_set, nesting)
            elif isinstance(selection, FragmentSpreadNode):
                total += of_fragment(selection.name.value, nesting + 1)
        return total

    def of_fragment(name: str, nesting: int) -> Shape:
        if name in known:
            return known[name]
        if name not in fragments or name in open_:
            return Shape()
        if nesting > MAX_FRAGMENT_NESTING:
            raise TooNested(name)
        open_.add(name)
        known[name] = shape = of_set(fragments[name].selection_set, nesting)
        open_.discard(name)
        return shape

    return {(d.name.value if d.name else None): of_set(d.selection_set, 0)
            for d in document.definitions if isinstance(d, OperationDefinitionNode)}


def limit_errors(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """Typed errors for every operation of ``document`` over a limit (none when it is within all of them)."""
    try:
        shapes = measure(document)
    except TooNested:
        return [ExpectedGraphQLError(f"fragments are nested more than {MAX_FRAGMENT_NESTING} levels deep",
                                     "QUERY_TOO_COMPLEX")]
    errors: list[GraphQLError] = []
    for name, shape in shapes.items():
        label = f"'{name}'" if name else "the operation"
        if shape.selections > limits.max_selections:
            errors.append(ExpectedGraphQLError(
                f"{label} selects {shape.selections} fields once its fragments are expanded; "
                f"at most {limits.max_selections} are allowed", "QUERY_TOO_COMPLEX"))
        elif shape.depth > limits.max_depth:
            errors.append(ExpectedGraphQLError(
                f"{label} exceeds maximum operation depth of {limits.max_depth}", "QUERY_TOO_DEEP"))
        if shape.aliases > limits.max_aliases:
            errors.append(ExpectedGraphQLError(
                f"{label} uses {shape.aliases} aliases; at most {limits.max_aliases} are allowed",
                "TOO_MANY_ALIASES"))
    return errors


def operation_errors(document: DocumentNode, operation_name: str | None) -> list[GraphQLError]:
    """A document with several operations must name the one to run (the spec's GetOperation)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None and len(operations) > 1:
        return [ExpectedGraphQLError("the document holds several operations: name one in operationName",
                                     "OPERATION_NAME_REQUIRED")]
    return []


def check(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, rules: Iterable[Any],
          limits: Limits, *, hide_suggestions: bool, introspection: bool) -> list[GraphQLError]:
    """Limits first (linear), then the operation name, then graphql-core's validation of a bounded document."""
    errors = limit_errors(document, limits) or operation_errors(document, operation_name)
    if errors:
        return errors
    all_rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule,
                 *(() if introspection else (NoSchemaIntrospectionCustomRule,)))
    return [coded(error) for error in validate(schema, document, all_rules, hide_suggestions=hide_suggestions)]


def coded(error: GraphQLError) -> GraphQLError:
    """A validation error with its code; one a scalar's parser raised (a bad literal) is the client's, not masked."""
    code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                            extensions={**(error.extensions or {}), "code": code})
    error.extensions = {**(error.extensions or {}), "code": code}
    return error


class DocumentLimits(SchemaExtension):
    """Refuse over-limit documents with a typed error; validate the rest in a worker thread.

    It replaces Strawberry's own validation step (which skips when an extension has set the errors), the way
    ``strawberry.extensions.ValidationCache`` does. Non-ADMIN keys get no introspection and no "did you mean"
    suggestions unless ``GRAPHQL_INTROSPECTION`` allows them (it does by default).
    """

    async def on_parse(self) -> AsyncIterator[None]:
        """Parse in a worker thread too (20,000 tokens or a 2 MB string literal take a good fraction of a second);
        Strawberry then finds the document parsed. A syntax error is answered as GRAPHQL_PARSE_FAILED."""
        context = self.execution_context
        if context.graphql_document is None and context.query:
            kept = len(context.query) <= KEPT_DOCUMENT_CHARS
            key = (context.query, tuple(sorted(context.parse_options.items()))) if kept else None
            document = _PARSED.get(key) if kept else None
            if document is None:
                try:
                    document = await asyncio.to_thread(parse, context.query, **context.parse_options)
                except GraphQLError as error:
                    error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_PARSE_FAILED"}
                    raise
                if kept:
                    _PARSED.put(key, document)
            context.graphql_document = document
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        from infra.settings import get_settings

        context = self.execution_context
        settings = get_settings()
        open_ = not suggestions_hidden(context.context)
        limits = Limits(settings.max_query_depth, settings.max_aliases, settings.max_selections)
        assert context.graphql_document is not None
        query = context.query
        key = (context.schema._schema, query, context._provided_operation_name, limits, open_,
               tuple(context.validation_rules)) if query and len(query) <= KEPT_DOCUMENT_CHARS else None
        if key is not None and _VALID.get(key):
            context.pre_execution_errors = []  # the same document, found valid for the same caller's view before
        else:
            context.pre_execution_errors = errors = await asyncio.to_thread(
                check, context.schema._schema, context.graphql_document, context._provided_operation_name,
                context.validation_rules, limits, hide_suggestions=not open_, introspection=open_)
            if key is not None and not errors:
                _VALID.put(key, True)
        yield


def suggestions_hidden(context: Any) -> bool:
    """Whether this request's caller gets no introspection and no "did you mean" suggestions."""
    from infra.settings import get_settings

    principal = getattr(context, "principal", None)
    return not (get_settings().introspection or (principal is not None and Role.ADMIN in principal.roles))


class Executor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, hiding "did you mean" suggestions in variable errors from whom they are hidden."""

    @classmethod
    def build(cls, schema: Any, document: Any, root_value: Any = None, context_value: Any = None,
              *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = kwargs.get("hide_suggestions") or suggestions_hidden(context_value)
        return super().build(schema, document, root_value, context_value, *args, **kwargs)
