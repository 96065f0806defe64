"""UpdateItem for the embedded moto store: simple SET/REMOVE expressions applied directly.

moto 5 runs every UpdateExpression through a generic parser and a chain of AST validators whose cost grows with
the expression and the item: 20–100 ms for rating's update of a usage record (a dozen SETs and REMOVEs on an
item of thirty attributes), against about 1 ms for a Put. That, not rating, set the pace of `make serve`, the
end-to-end tests and `make bench` on the embedded store.

`install()` gives `DynamoDBBackend.update_item` a fast path for the expressions this project writes —

    SET #a = :v, #b = if_not_exists(#b, :zero) + :delta, …  [REMOVE #c, …]

(attribute names as ``#placeholders`` or plain names, values as ``:placeholders``) on an item that exists:
it evaluates the condition with moto's own condition evaluator, applies the changes to the item, and appends the
stream record, as moto does. Anything else — other functions, nested paths, list operations, a missing item or
placeholder, a change of a key attribute, a non-numeric addition — goes through moto's code unchanged.

Only moto's in-process backend changes; DynamoDB Local and AWS are untouched. Installing twice is harmless.
``local.pollers`` installs it together with ``local.moto_streams``.
"""

from __future__ import annotations

import copy
import re
import threading
from decimal import Decimal
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

_LOCK = threading.Lock()
_installed = False
_original: Any = None

_NAME = r"(#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)"
_VALUE = r"(:[A-Za-z0-9_]+)"
_ASSIGN = re.compile(rf"^{_NAME}\s*=\s*{_VALUE}$")
_ADD = re.compile(rf"^{_NAME}\s*=\s*if_not_exists\(\s*{_NAME}\s*,\s*{_VALUE}\s*\)\s*\+\s*{_VALUE}$")
_SECTIONS = re.compile(r"^\s*SET\s+(?P<set>.+?)(?:\s+REMOVE\s+(?P<remove>.+?))?\s*$", re.IGNORECASE | re.DOTALL)


class _NotSimple(Exception):
    pass


def _clauses(text: str) -> list[str]:
    """Split on the commas that are not inside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def _plan(expression: str, names: dict[str, str], values: dict[str, Any], keys: set[str]
          ) -> tuple[list[tuple[str, str, str | None, str | None]], list[str]]:
    """(sets, removes): a set is (attribute, value placeholder, if_not_exists source or None, default or None)."""
    sections = _SECTIONS.match(expression or "")
    if sections is None:
        raise _NotSimple

    def name(token: str) -> str:
        resolved = names.get(token) if token.startswith("#") else token
        if not resolved or resolved in keys:
            raise _NotSimple
        return resolved

    def value(token: str) -> str:
        if token not in values:
            raise _NotSimple
        return token

    sets: list[tuple[str, str, str | None, str | None]] = []
    for clause in _clauses(sections["set"]):
        if (m := _ASSIGN.match(clause)) is not None:
            sets.append((name(m[1]), value(m[2]), None, None))
        elif (m := _ADD.match(clause)) is not None and name(m[1]) == name(m[2]):
            sets.append((name(m[1]), value(m[4]), name(m[2]), value(m[3])))
        else:
            raise _NotSimple
    removes = [name(token) for token in _clauses(sections["remove"])] if sections["remove"] else []
    if len({s[0] for s in sets} | set(removes)) != len(sets) + len(removes):
        raise _NotSimple  # overlapping paths: let moto report them
    return sets, removes


def _number(attribute: DynamoType | None) -> Decimal:
    if attribute is None or attribute.type != "N":
        raise _NotSimple
    return Decimal(attribute.value)


def _update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], update_expression: str,
                 expression_attribute_names: dict[str, Any], expression_attribute_values: dict[str, Any],
                 attribute_updates: dict[str, Any] | None = None, expected: dict[str, Any] | None = None,
                 condition_expression: str | None = None,
                 return_values_on_condition_check_failure: str | None = None) -> Any:
    names, values = expression_attribute_names or {}, expression_attribute_values or {}
    table = self.get_table(table_name)
    try:
        if attribute_updates or expected:
            raise _NotSimple
        sets, removes = _plan(update_expression, names, values, set(table.attribute_keys))
        hash_value, range_value = self.get_keys_value(table, key)
        item = table.get_item(hash_value, range_value)
        if item is None:
            raise _NotSimple
        new_attrs: dict[str, DynamoType] = {}
        for attribute, placeholder, source, default in sets:
            value = DynamoType(values[placeholder])
            if source is not None:
                base = item.attrs.get(source) or DynamoType(values[default])  # type: ignore[index]
                value = DynamoType({"N": str(_number(base) + _number(value))})
            new_attrs[attribute] = value
    except _NotSimple:
        return _original(self, table_name, key, update_expression, expression_attribute_names,
                         expression_attribute_values, attribute_updates, expected, condition_expression,
                         return_values_on_condition_check_failure)
    if condition_expression and not get_filter_expression(condition_expression, names, values).expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD":
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    original = copy.deepcopy(item)
    item.attrs.update(new_attrs)
    for attribute in removes:
        item.attrs.pop(attribute, None)
    if table.stream_shard is not None:
        table.stream_shard.add(original, item)
    return item


def install() -> None:
    global _installed, _original
    with _LOCK:
        if not _installed:
            _original = DynamoDBBackend.update_item
            DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
            _installed = True
