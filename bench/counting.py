"""Count DynamoDB requests and item writes with botocore's event hooks, on every client the process creates.

Used by the benchmarks; install it before any client exists (``install()`` also drops cached clients).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.session

_installed = False
requests: Counter[str] = Counter()
item_writes: Counter[str] = Counter()


def _count_request(model: Any = None, **_: Any) -> None:
    requests[model.name if model is not None else "?"] += 1


def _count_writes(model: Any = None, params: Any = None, **_: Any) -> None:
    """At parameter build the params are the API call's own (TableName, RequestItems, TransactItems)."""
    operation = model.name if model is not None else "?"
    params = params or {}
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        item_writes[params.get("TableName", "?")] += 1
    elif operation == "BatchWriteItem":
        for table, items in params.get("RequestItems", {}).items():
            item_writes[table] += len(items)
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            for action in ("Put", "Update", "Delete"):
                if action in entry:
                    item_writes[entry[action].get("TableName", "?")] += 1


def install() -> None:
    """Hook ``before-call`` (requests) and ``before-parameter-build`` (item writes) on every botocore client
    created from now on (boto3 and PynamoDB alike)."""
    global _installed
    if not _installed:
        original = botocore.session.Session.create_client

        def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            client = original(self, service_name, *args, **kwargs)
            if service_name == "dynamodb":
                client.meta.events.register("before-call.dynamodb", _count_request)
                client.meta.events.register("before-parameter-build.dynamodb", _count_writes)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        _installed = True
    from infra.bootstrap import connect

    connect()  # rebuild cached clients and PynamoDB connections so they carry the hook


def reset() -> None:
    requests.clear()
    item_writes.clear()


def total_requests() -> int:
    return sum(requests.values())


def total_item_writes() -> int:
    return sum(item_writes.values())
