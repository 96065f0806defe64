"""TransactWriteItems for the embedded moto store, at the cost of the items it touches.

moto 5 implements a transaction by deep-copying the whole table once per item of the transaction (to roll back
on failure): a 100-item transaction on a table of 10,000 items copies a million items, and two concurrent
transactions on the server's threads crash with ``dictionary changed size during iteration``. Usage ingestion
writes every record through conditional transactions, so on moto that made the local stack unusable.

`install()` replaces moto's ``DynamoDBBackend.transact_write_items`` with the semantics DynamoDB documents,
implemented per item:

1. under one lock (transactions are serialised, as DynamoDB isolates them), validate the request and evaluate
   every condition against the current items; if any fails, cancel with one reason per item
   (``ConditionalCheckFailed`` with the old item when ``ReturnValuesOnConditionCheckFailure=ALL_OLD``,
   ``None`` for the others) and write nothing;
2. otherwise apply the operations; should one fail half-way (an invalid update expression), the touched items
   and the stream records already appended are restored, so nothing of the transaction remains.

Its request handling loads the body as the JSON it is (not through moto's model-driven parser), and validates it
with moto's own checks in the same order, parsing each distinct condition and update expression once per process
instead of once per item.

Only moto's in-process backend changes; DynamoDB Local and AWS are untouched. Installing twice is harmless.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import create_condition_expression_parser, get_filter_expression
from moto.dynamodb.exceptions import (
    ExpressionAttributeValuesEmpty,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.parsing.expressions import ExpressionAttributeName, UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.responses import DynamoHandler, validate_attributes_used, validate_put_has_empty_keys

_LOCK = threading.RLock()
_OPS = ("ConditionCheck", "Put", "Delete", "Update")
_installed = False


def install() -> None:
    """Patch moto's backend class (process-wide); every moto server and ``mock_aws`` of the process uses it."""
    global _installed
    with _LOCK:
        if not _installed:
            DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
            DynamoHandler.transact_write_items = _validate_and_transact  # type: ignore[method-assign]
            DynamoHandler.parse_parameters = _parse_parameters  # type: ignore[method-assign,assignment]
            _installed = True


_generic_parse = DynamoHandler.parse_parameters


def _parse_parameters(self: DynamoHandler, request: Any) -> None:
    """A TransactWriteItems body is DynamoDB JSON already: loaded as it is rather than walked through moto's
    model-driven parser, attribute by attribute (a fifth of the store's work under load). Bodies holding binary
    attributes (which that parser decodes) and every other operation take moto's way."""
    body = request.data
    if self._get_action() == "TransactWriteItems" and b'"B"' not in body and b'"BS"' not in body:
        self.params = json.loads(body)
        return
    _generic_parse(self, request)


_EMPTY_KEY = ("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
              "empty string value. Key: {}")


def _validate_and_transact(self: DynamoHandler) -> ActionResult:
    """moto's request validation of a TransactWriteItems (the same checks, in the same order), with each
    expression parsed once per process rather than once per item: a batch repeats the same few expressions, and
    parsing them was a tenth of the embedded store's work under load."""
    transact_items = self.body["TransactItems"]
    for item in transact_items:
        op = next(iter(item.values()))
        names = op.get("ExpressionAttributeNames", {})
        used = list(_condition_names(op.get("ConditionExpression"), json.dumps(names, sort_keys=True),
                                     json.dumps(op.get("ExpressionAttributeValues", {}), sort_keys=True)))
        for kind in ("Put", "Update"):
            if kind not in item:
                continue
            if item[kind].get("ExpressionAttributeValues") == {}:
                raise ExpressionAttributeValuesEmpty
            table = self.dynamodb_backend.get_table(item[kind]["TableName"])
            if kind == "Put":
                validate_put_has_empty_keys(item[kind]["Item"], table)
            else:
                validate_put_has_empty_keys(item[kind]["Key"], table, custom_error_msg=_EMPTY_KEY)
                used += _update_names(item[kind]["UpdateExpression"])
        validate_attributes_used(names, used, validation_error_prefix=False)
    self.dynamodb_backend.transact_write_items(transact_items)
    return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})


@functools.lru_cache(maxsize=1024)
def _condition_names(expression: str | None, names: str, values: str) -> tuple[str, ...]:
    parser = create_condition_expression_parser(expression, json.loads(names), json.loads(values))
    parser.parse()
    return tuple(parser.expr_attr_names_found)


@functools.lru_cache(maxsize=1024)
def _update_names(expression: str) -> tuple[str, ...]:
    clauses = UpdateExpressionParser.make(expression).find_clauses([ExpressionAttributeName])
    return tuple(clause.get_attribute_name_placeholder() for clause in clauses)


def _condition(expression: str, names: dict[str, Any] | None, values: dict[str, Any] | None) -> Any:
    """The parsed condition; parsing is most of a condition check's cost, and a batch repeats one expression."""
    return _parse(expression, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))


@functools.lru_cache(maxsize=512)
def _parse(expression: str, names: str, values: str) -> Any:
    return get_filter_expression(expression, json.loads(names), json.loads(values))


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    if table.hash_key_attr not in attrs or (table.range_key_attr and table.range_key_attr not in attrs):
        raise MockValidationException("The provided key element does not match the schema")
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        plan: list[tuple[str, dict[str, Any], Any, tuple[DynamoType, DynamoType | None]]] = []
        seen: set[tuple[str, str, str]] = set()
        for entry in transact_items:
            if len(entry) != 1:
                raise TransactWriteSingleOpException()
            op_type, op = next(iter(entry.items()))
            if op_type not in _OPS:
                raise MockValidationException(f"unsupported transaction operation {op_type}")
            table = self.get_table(op["TableName"])
            key = _key_of(table, op_type, op)
            identity = (table.name, str(key[0]), str(key[1]))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            plan.append((op_type, op, table, key))

        reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for _op_type, op, table, key in plan:
            current = table.get_item(*key)
            condition = op.get("ConditionExpression")
            if condition is not None and not _condition(condition, op.get("ExpressionAttributeNames"),
                                                        op.get("ExpressionAttributeValues")).expr(current):
                old = current.to_json()["Attributes"] if current is not None and \
                    op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
                reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
            else:
                reasons.append((None, None, None))
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)

        before = [(table, key, copy.deepcopy(table.get_item(*key))) for _, _, table, key in plan]
        stream_lengths = {id(t): (t, len(t.stream_shard.items)) for _, _, t, _ in plan if t.stream_shard}
        try:
            for op_type, op, table, key in plan:
                _apply(self, op_type, op, table, key)
        except Exception:
            for table, (hash_key, range_key), item in before:
                _restore(table, hash_key, range_key, item)
            for table, length in stream_lengths.values():
                del table.stream_shard.items[length:]
            raise


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], table: Any,
           key: tuple[DynamoType, DynamoType | None]) -> None:
    names, values = op.get("ExpressionAttributeNames") or {}, op.get("ExpressionAttributeValues") or {}
    if op_type == "Put":
        backend.put_item(table.name, op["Item"])
    elif op_type == "Delete":
        backend.delete_item(table.name, op["Key"])
    elif op_type == "Update":
        backend.update_item(table.name, op["Key"], update_expression=op["UpdateExpression"],
                            expression_attribute_names=names, expression_attribute_values=values)


def _restore(table: Any, hash_key: DynamoType, range_key: DynamoType | None, item: Any) -> None:
    if range_key is not None:
        if item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item
