"""What DynamoDB requests cost, counted from the requests themselves with botocore's event hooks.

``install()`` registers two handlers on every DynamoDB client the process makes (``infra.dynamo.CLIENT_HOOKS``):
``before-parameter-build`` keeps the call's own parameters in the request context, ``after-call`` reads the
parsed answer and books (the usage inserts, sent without botocore by ``infra.dynamo_direct``, are booked from its
``AFTER_CALL`` hook the same way)

- requests per operation and item writes per table (what the older benchmarks report);
- **billed write request units** the way on-demand DynamoDB bills them (DynamoDB Local reports wrong
  ConsumedCapacity for transactions, so nothing is taken from the store): per item written, the larger of its
  size before and after the write rounded up to 1 KB (DynamoDB's item-size rules: attribute names and values,
  numbers by their significant digits, 3 bytes per map or list plus 1 per element), twice inside
  TransactWriteItems; plus one write per global secondary index entry written, removed or changed (an update
  that changes neither the index keys nor a projected attribute writes no index entry; a key change is a delete
  and a put), each the size of the index entry (projected attributes, the keys, 100 bytes) rounded up to 1 KB.
  A conditional write that fails, and every item of a cancelled transaction, is billed as if written (AWS
  bills the attempt) and counted apart;
- **billed read request units**: per item of a GetItem/BatchGetItem rounded up to 4 KB, per Query/Scan page the
  sum of what it read rounded up to 4 KB (scaled by ScannedCount/Count when a filter dropped items), halved for
  eventually consistent reads, doubled for TransactGetItems.

Sizes before a write come from a shadow of every item the process has seen (written, read by key, or given to
``observe``: the rate workers hand it their stream images, which is how a rated update knows the record it
changes). Update expressions are applied to the shadow for the forms the project writes (``SET a = :v``,
``if_not_exists(a, :z) + :v``, ``REMOVE``, ``ADD``); anything else counts its new values on top of the old item.
Table layouts (keys, indexes, projections) are read once per table with DescribeTable on a client of its own.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

_installed = False
_lock = threading.Lock()
requests: Counter[str] = Counter()
item_writes: Counter[str] = Counter()


@dataclass
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: frozenset[str] = frozenset()


@dataclass
class Table:
    keys: tuple[str, ...]
    indexes: list[Index] = field(default_factory=list)


@dataclass
class Bill:
    """Billed units of what was counted since the last ``reset``."""

    wcu: Counter[str] = field(default_factory=Counter)  # per table: base table writes
    index_wcu: Counter[str] = field(default_factory=Counter)  # per table: its indexes' writes
    failed_wcu: Counter[str] = field(default_factory=Counter)  # per table: of wcu, conditional failures/cancels
    rcu: Counter[str] = field(default_factory=Counter)  # per table
    writes_by_kind: Counter[str] = field(default_factory=Counter)  # "table/Put-tx" ...: WCU

    def as_dict(self) -> dict[str, Any]:
        return {"wcu": dict(self.wcu), "index_wcu": dict(self.index_wcu), "failed_wcu": dict(self.failed_wcu),
                "rcu": dict(self.rcu), "writes_by_kind": dict(self.writes_by_kind)}


bill = Bill()
_shadow: dict[tuple[str, str, str], dict[str, Any]] = {}
_tables: dict[str, Table] = {}
_describe_client: Any = None
unparsed: Counter[str] = Counter()


# ---------------------------------------------------------------------------------------------- item sizes
def _number_size(text: str) -> int:
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except InvalidOperation:
        return len(text)
    significant = len(digits) if any(digits) else 1
    return (significant + 1) // 2 + 1


def value_size(av: Mapping[str, Any]) -> int:
    (kind, value), = av.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in value.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(len(v) for v in value)
    return 0


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


# ---------------------------------------------------------------------------------------------- table layouts
def _table(name: str) -> Table:
    table = _tables.get(name)
    if table is None:
        global _describe_client
        if _describe_client is None:
            import boto3

            from infra.settings import get_settings

            s = get_settings()
            _describe_client = boto3.session.Session().client("dynamodb", region_name=s.region,
                                                               endpoint_url=s.dynamodb_endpoint)
        try:
            spec = _describe_client.describe_table(TableName=name)["Table"]
        except Exception:
            spec = {"KeySchema": [{"AttributeName": "pk"}, {"AttributeName": "sk"}]}
        table = Table(tuple(k["AttributeName"] for k in spec["KeySchema"]),
                      [Index(i["IndexName"], tuple(k["AttributeName"] for k in i["KeySchema"]),
                             i["Projection"]["ProjectionType"], frozenset(i["Projection"].get("NonKeyAttributes", ())))
                       for i in spec.get("GlobalSecondaryIndexes", [])])
        _tables[name] = table
    return table


def _key(table: str, layout: Table, item: Mapping[str, Any]) -> tuple[str, str, str]:
    parts = [str(item.get(k, {})) for k in layout.keys] + [""]
    return (table, parts[0], parts[1])


# ---------------------------------------------------------------------------------------------- updates
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b", re.IGNORECASE)


def _split(text: str) -> list[str]:
    """Split on top-level commas."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [p for p in out if p]


def _name(token: str, names: Mapping[str, str]) -> str:
    token = token.strip()
    if "." in token or "[" in token:
        raise ValueError("nested path")
    return names.get(token, token)


def _operand(token: str, item: Mapping[str, Any], names: Mapping[str, str], values: Mapping[str, Any]) -> Any:
    token = token.strip()
    if token.startswith(":"):
        return values[token]
    match = re.fullmatch(r"if_not_exists\s*\((.*),(.*)\)", token)
    if match:
        found = item.get(_name(match.group(1), names))
        return found if found is not None else _operand(match.group(2), item, names, values)
    match = re.fullmatch(r"list_append\s*\((.*),(.*)\)", token)
    if match:
        return {"L": _operand(match.group(1), item, names, values)["L"] + _operand(match.group(2), item, names,
                                                                                  values)["L"]}
    return item[_name(token, names)]


def _expression(text: str, item: Mapping[str, Any], names: Mapping[str, str], values: Mapping[str, Any]) -> Any:
    depth = 0
    for i, ch in enumerate(text):  # a top-level + or - (numbers)
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in "+-" and depth == 0 and i > 0:
            left = Decimal(_operand(text[:i], item, names, values)["N"])
            right = Decimal(_operand(text[i + 1:], item, names, values)["N"])
            return {"N": str(left + right if ch == "+" else left - right)}
    return _operand(text, item, names, values)


def apply_update(before: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    after = dict(before)
    after.update(params.get("Key", {}))
    expression = params.get("UpdateExpression") or ""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    try:
        parts = _CLAUSE.split(expression)
        for i in range(1, len(parts) - 1, 2):
            action, body = parts[i].upper(), parts[i + 1]
            for clause in _split(body):
                if action == "SET":
                    target, value = clause.split("=", 1)
                    after[_name(target, names)] = _expression(value.strip(), before, names, values)
                elif action == "REMOVE":
                    after.pop(_name(clause, names), None)
                elif action == "ADD":
                    target, value = clause.split(None, 1)
                    name, add = _name(target, names), values[value.strip()]
                    if "N" in add:
                        after[name] = {"N": str(Decimal(after.get(name, {"N": "0"})["N"]) + Decimal(add["N"]))}
                    else:
                        (kind, members), = add.items()
                        after[name] = {kind: sorted(set(after.get(name, {}).get(kind, [])) | set(members))}
                elif action == "DELETE":
                    target, value = clause.split(None, 1)
                    name, gone = _name(target, names), values[value.strip()]
                    (kind, members), = gone.items()
                    left = sorted(set(after.get(name, {}).get(kind, [])) - set(members))
                    if left:
                        after[name] = {kind: left}
                    else:
                        after.pop(name, None)
    except (ValueError, KeyError, IndexError, InvalidOperation, TypeError):
        unparsed[expression[:60]] += 1
        for i, value in enumerate(values.values()):
            after[f"?{i}"] = value
    return after


# ---------------------------------------------------------------------------------------------- booking
def _projected(index: Index, layout: Table, item: Mapping[str, Any]) -> dict[str, Any]:
    if index.projection == "ALL":
        return dict(item)
    wanted = set(layout.keys) | set(index.keys) | (index.include if index.projection == "INCLUDE" else set())
    return {k: v for k, v in item.items() if k in wanted}


def _index_units(index: Index, layout: Table, before: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None) -> int:
    had = before is not None and all(k in before for k in index.keys)
    has = after is not None and all(k in after for k in index.keys)
    old = _projected(index, layout, before or {}) if had else None
    new = _projected(index, layout, after or {}) if has else None
    if old is None and new is None:
        return 0
    if old is None:
        return write_units(item_size(new) + 100)
    if new is None:
        return write_units(item_size(old) + 100)
    if any(before.get(k) != after.get(k) for k in index.keys):  # type: ignore[union-attr]
        return write_units(item_size(old) + 100) + write_units(item_size(new) + 100)
    return write_units(item_size(new) + 100) if old != new else 0


def _book_write(table: str, action: str, params: Mapping[str, Any], transactional: bool, ok: bool,
                old_on_failure: Mapping[str, Any] | None = None) -> None:
    layout = _table(table)
    key_source = params.get("Item") if action == "Put" else params.get("Key")
    key = _key(table, layout, key_source or {})
    before = _shadow.get(key)
    if before is None and old_on_failure:
        before = dict(old_on_failure)
    if action == "Put":
        after: dict[str, Any] | None = dict(params["Item"])
    elif action == "Update":
        after = apply_update(before or {}, params)
    elif action == "Delete":
        after = None
    else:  # ConditionCheck
        after = before
    units = write_units(max(item_size(before), item_size(after))) * (2 if transactional else 1)
    bill.wcu[table] += units
    bill.writes_by_kind[f"{table}/{action}{'-tx' if transactional else ''}"] += units
    item_writes[table] += 1 if action != "ConditionCheck" else 0
    if not ok:
        bill.failed_wcu[table] += units
        if old_on_failure:
            _shadow[key] = dict(old_on_failure)
        return
    if action == "ConditionCheck":
        return
    for index in layout.indexes:
        bill.index_wcu[table] += _index_units(index, layout, before, after)
    if after is None:
        _shadow.pop(key, None)
    else:
        _shadow[key] = after


def _book_read_items(table: str, items: list[Mapping[str, Any]], consistent: bool, per_item: bool,
                     factor: float = 1.0, remember: bool = True, transactional: bool = False) -> None:
    if per_item:
        units: float = sum(read_units(item_size(i)) for i in items)
    else:
        units = read_units(int(sum(item_size(i) for i in items) * factor))
    units = units * (1 if consistent else 0.5) * (2 if transactional else 1)
    bill.rcu[table] += units  # type: ignore[assignment]
    if remember:
        layout = _table(table)
        for item in items:
            if all(k in item for k in layout.keys):
                _shadow[_key(table, layout, item)] = dict(item)


def observe(table: str, item: Mapping[str, Any]) -> None:
    """Tell the meter what an item holds now (a stream image): the next write of it is billed on that size."""
    started = time.thread_time()
    with _lock:
        layout = _table(table)
        _shadow[_key(table, layout, item)] = dict(item)
        meter_cpu[0] += time.thread_time() - started


def _before_build(params: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
    if context is not None and params is not None:
        context["bench_params"] = params


#: CPU seconds the meter itself spent (left out of the process CPU the benchmarks report)
meter_cpu = [0.0]


def _after_call(http_response: Any = None, parsed: Any = None, model: Any = None, context: Any = None,
                **_: Any) -> None:
    started = time.thread_time()
    operation = model.name if model is not None else "?"
    params = (context or {}).get("bench_params") or {}
    parsed = parsed or {}
    status = getattr(http_response, "status_code", 200)
    ok = status < 300
    code = parsed.get("Error", {}).get("Code", "")
    with _lock:
        requests[operation] += 1
        try:
            _book(operation, params, parsed, ok, code)
        except Exception as exc:
            unparsed[f"{operation}: {exc!r}"[:80]] += 1
        meter_cpu[0] += time.thread_time() - started


def _direct_after_call(operation: str, params: dict[str, Any], answer: dict[str, Any], status: int) -> None:
    """The same booking for a request sent by ``infra.dynamo_direct`` (usage inserts)."""
    started = time.thread_time()
    code = str(answer.get("__type", "")).rsplit("#", 1)[-1]
    with _lock:
        requests[operation] += 1
        try:
            _book(operation, params, answer, status < 300, code)
        except Exception as exc:
            unparsed[f"{operation}: {exc!r}"[:80]] += 1
        meter_cpu[0] += time.thread_time() - started


def _book(operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any], ok: bool, code: str) -> None:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        if not ok and code not in ("ConditionalCheckFailedException",):
            return  # refused before writing (validation, throttling): not billed
        _book_write(params["TableName"], operation[:-4], params, False, ok, parsed.get("Item"))
    elif operation == "TransactWriteItems":
        if not ok and code != "TransactionCanceledException":
            return
        reasons = parsed.get("CancellationReasons") or []
        for i, entry in enumerate(params.get("TransactItems", [])):
            (action, body), = entry.items()
            old = reasons[i].get("Item") if i < len(reasons) else None
            _book_write(body["TableName"], action, body, True, ok, old)
    elif operation == "BatchWriteItem":
        unprocessed = parsed.get("UnprocessedItems") or {}
        for table, entries in params.get("RequestItems", {}).items():
            skipped = {repr(e) for e in unprocessed.get(table, [])}
            for entry in entries:
                if repr(entry) in skipped:
                    continue
                if "PutRequest" in entry:
                    _book_write(table, "Put", entry["PutRequest"], False, True)
                else:
                    _book_write(table, "Delete", entry["DeleteRequest"], False, True)
    elif not ok:
        return
    elif operation == "GetItem":
        item = parsed.get("Item")
        _book_read_items(params["TableName"], [item] if item else [{}], bool(params.get("ConsistentRead")),
                         True, remember=item is not None and "ProjectionExpression" not in params)
    elif operation == "BatchGetItem":
        unprocessed = parsed.get("UnprocessedKeys") or {}
        for table, request in params.get("RequestItems", {}).items():
            found = list(parsed.get("Responses", {}).get(table, []))
            asked = len(request.get("Keys", [])) - len(unprocessed.get(table, {}).get("Keys", []))
            missing: list[Mapping[str, Any]] = [{}] * max(0, asked - len(found))
            _book_read_items(table, found, bool(request.get("ConsistentRead")), True,
                             remember=False)
            _book_read_items(table, missing, bool(request.get("ConsistentRead")), True, remember=False)
            if "ProjectionExpression" not in request:
                layout = _table(table)
                for item in found:
                    _shadow[_key(table, layout, item)] = dict(item)
    elif operation in ("Query", "Scan"):
        items = parsed.get("Items", [])
        count, scanned = parsed.get("Count", len(items)), parsed.get("ScannedCount", len(items))
        factor = scanned / count if count else 1.0
        consistent = bool(params.get("ConsistentRead"))
        if not items and scanned:
            items, factor = [{}], 1.0
        _book_read_items(params["TableName"], items, consistent, False, factor,
                         remember="IndexName" not in params and "ProjectionExpression" not in params)
    elif operation == "TransactGetItems":
        for entry, response in zip(params.get("TransactItems", []), parsed.get("Responses", []), strict=False):
            table = entry["Get"]["TableName"]
            _book_read_items(table, [response.get("Item") or {}], True, True, remember=False, transactional=True)


_registered: set[int] = set()


def register(service: str, client: Any) -> None:
    if service == "dynamodb" and id(client) not in _registered:
        _registered.add(id(client))
        client.meta.events.register("before-parameter-build.dynamodb", _before_build)
        client.meta.events.register("after-call.dynamodb", _after_call)


def install() -> None:
    """Count every DynamoDB client made from now on (and rebuild the cached ones so they are counted too)."""
    global _installed
    from infra import dynamo

    if not _installed:
        from infra import dynamo_direct

        dynamo.CLIENT_HOOKS.append(register)
        dynamo_direct.AFTER_CALL.append(_direct_after_call)
        _installed = True
    from infra.bootstrap import connect

    connect()  # rebuild the cached clients, so they are made with the hooks


def reset() -> None:
    with _lock:
        requests.clear()
        item_writes.clear()
        unparsed.clear()
        meter_cpu[0] = 0.0
        for counter in (bill.wcu, bill.index_wcu, bill.failed_wcu, bill.rcu, bill.writes_by_kind):
            counter.clear()


def snapshot() -> dict[str, Any]:
    with _lock:
        return {"requests": dict(requests), "item_writes": dict(item_writes), "unparsed": dict(unparsed),
                "meter_cpu": meter_cpu[0],
                **bill.as_dict()}


def total_requests() -> int:
    return sum(requests.values())


def total_item_writes() -> int:
    return sum(item_writes.values())
