"""Table definitions (the same key schemas as template.yaml; a test ties the two) and idempotent creation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from infra.settings import Settings

TableDef = Callable[[Settings], dict[str, Any]]


def _s(name: str) -> dict[str, str]:
    return {"AttributeName": name, "AttributeType": "S"}


def _table(name: str, index_projection: str = "ALL", stream: bool = False, include: tuple[str, ...] = (),
           more_indexes: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """Every table has the same shape: pk/sk, a gsi1 (sparse: only items that set gsi1pk/gsi1sk) and on-demand
    billing; they differ in the index's projection (``include``: what an INCLUDE projection adds to the keys), in
    whether a stream is on, and in further sparse indexes (``more_indexes``: (name, projection), keyed
    ``{name}pk``/``{name}sk``)."""
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [_s("pk"), _s("sk"), _s("gsi1pk"), _s("gsi1sk")],
        "GlobalSecondaryIndexes": [{
            "IndexName": "gsi1",
            "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                          {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": index_projection,
                           **({"NonKeyAttributes": list(include)} if include else {})},
        }],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for index, projection in more_indexes:
        spec["AttributeDefinitions"] += [_s(f"{index}pk"), _s(f"{index}sk")]
        spec["GlobalSecondaryIndexes"].append({
            "IndexName": index,
            "KeySchema": [{"AttributeName": f"{index}pk", "KeyType": "HASH"},
                          {"AttributeName": f"{index}sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": projection},
        })
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return spec


def catalog_table(settings: Settings) -> dict[str, Any]:
    """Catalog records and API keys; gsi1 finds what points at a resource."""
    return _table(settings.catalog_table)


def accounts_table(settings: Settings) -> dict[str, Any]:
    """Accounts, subscriptions, wallets (credit counters) and the wallet ledger; see infra/keys.py."""
    return _table(settings.accounts_table)


def summaries_table(settings: Settings) -> dict[str, Any]:
    """Usage summaries, one partition per account; gsi1 (KEYS_ONLY) lists OPEN summaries by closing time (the
    period close), gsi2 (KEYS_ONLY) a tenant's summaries by status and period end (invoicing)."""
    return _table(settings.summaries_table, index_projection="KEYS_ONLY", more_indexes=(("gsi2", "KEYS_ONLY"),))


def usage_table(settings: Settings) -> dict[str, Any]:
    """Usage records, one item each; gsi1 lists an account's records (keys and the resource code only: rating's
    updates leave both alone, so they never write the index); the stream feeds rating."""
    return _table(settings.usage_table, index_projection="INCLUDE", stream=True, include=USAGE_INDEX_ATTRIBUTES)


#: What the usage table's gsi1 projects besides the keys: what listing filters on that never changes.
USAGE_INDEX_ATTRIBUTES = ("resource_code",)


#: Every table the application needs; later modules append their definitions here.
TABLES: list[TableDef] = [catalog_table, accounts_table, summaries_table, usage_table]


def ensure_tables(client: Any, settings: Settings, timeout_s: float = 60) -> list[str]:
    """Create the tables that are missing and wait until all are ACTIVE; returns the names created."""
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for table in TABLES:
        spec = table(settings)
        if spec["TableName"] not in existing:
            try:
                client.create_table(**spec)
                created.append(spec["TableName"])
            except client.exceptions.ResourceInUseException:
                pass  # created concurrently by another process: fine
    deadline = time.monotonic() + timeout_s
    for table in TABLES:
        spec = table(settings)
        _wait_active(client, spec["TableName"], deadline, timeout_s)
        if spec["TableName"] not in created:
            _add_missing_indexes(client, spec, deadline, timeout_s)
    return created


def _add_missing_indexes(client: Any, spec: dict[str, Any], deadline: float, timeout_s: float) -> None:
    """Indexes a newer version defines on a table a store kept from before (a local store's data directory):
    created one at a time, as UpdateTable allows, and waited for."""
    name = spec["TableName"]
    present = {i["IndexName"] for i in client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])}
    for index in spec.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in present:
            continue
        client.update_table(TableName=name, AttributeDefinitions=spec["AttributeDefinitions"],
                            GlobalSecondaryIndexUpdates=[{"Create": index}])
        _wait_active(client, name, deadline, timeout_s)


def _wait_active(client: Any, name: str, deadline: float, timeout_s: float) -> None:
    while True:
        table = client.describe_table(TableName=name)["Table"]
        if table["TableStatus"] == "ACTIVE" and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE"
                                                     for i in table.get("GlobalSecondaryIndexes", [])):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} did not become ACTIVE in {timeout_s}s")
        time.sleep(0.2)
