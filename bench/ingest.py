"""Usage ingestion throughput: recordUsage over HTTP against raw BatchWriteItem, and a bulk file.

Against the same store in the same run (the machine is shared, so the ratio is the figure; absolute numbers
are context):

- records/s of 10,000 records sent to ``POST /graphql`` as 10 recordUsage calls of 1,000 (Starlette's TestClient:
  the whole ASGI app, auth, GraphQL parsing, validation, the PERIOD_CLOSED gate, conditional PutItem
  inserts, the answer of every record), with a PARTNER key, 100 accounts;
- raw items/s of 10,000 items of the same shape written with BatchWriteItem (25 a call, unconditional, on as
  many threads as ingestion uses) — the floor of what storing them costs;
- the ratio (target ≥ 0.5), and DynamoDB item writes per record (botocore ``before-parameter-build`` hooks on the
  clients: every PutItem, and every Put of a TransactWriteItems or BatchWriteItem, counts) — 1.0 is one write
  per record;
- rows/s of a bulk file (``functions.ingest``: CSV read line by line, same code path, report written).
  ``INGEST_BENCH_FILE_ROWS`` sets its size (default 5,000; ``INGEST_BENCH_FILE_ROWS=100000`` is the 100,000-row
  run of the issue).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

RECORDS = 10_000
CALL_SIZE = 1_000
ACCOUNTS = 100
TARGET_RATIO = 0.5
RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) {
  accepted duplicates rejected errors { code message } results { outcome usageRecord { id } } } }"""


class WriteCounter:
    """DynamoDB requests and item writes of some clients, from botocore's before-parameter-build event, and of the
    usage inserts ``infra.dynamo_direct`` sends without botocore, from its ``AFTER_CALL`` hook."""

    def __init__(self, *clients: Any):
        self.clients = clients
        self.requests: Counter[str] = Counter()
        self.items = 0
        from infra import dynamo_direct  # the store is chosen before infra is imported

        self._lock = threading.Lock()
        for client in clients:
            client.meta.events.register("before-parameter-build.dynamodb", self._count)
        dynamo_direct.AFTER_CALL.append(self._direct)

    def _count(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._add(model.name, params)

    def _direct(self, operation: str, params: dict[str, Any], answer: dict[str, Any], status: int) -> None:
        self._add(operation, params)

    def _add(self, operation: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.requests[operation] += 1
            if operation in ("PutItem", "UpdateItem", "DeleteItem"):
                self.items += 1
            elif operation == "BatchWriteItem":
                self.items += sum(len(v) for v in params.get("RequestItems", {}).values())
            elif operation == "TransactWriteItems":
                self.items += len(params.get("TransactItems", []))

    def reset(self) -> None:
        self.requests.clear()
        self.items = 0

    def close(self) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", self._count)
        from infra import dynamo_direct

        dynamo_direct.AFTER_CALL.remove(self._direct)


def _unit() -> Any:
    from core.catalog import RecordStatus, UnitOfMeasure

    return UnitOfMeasure("EA", "Each", "COUNT", Decimal(1), status=RecordStatus.ACTIVE)


def _resource() -> Any:
    from core.catalog import RecordStatus, ResourceCategory, UsageResource

    return UsageResource("API_CALLS", "API calls", ResourceCategory.USAGE, "COUNT", "EA", status=RecordStatus.ACTIVE)


def _catalog(tenant: str) -> None:
    from core.catalog import RecordStatus, UnitClassType, UnitOfMeasureClass
    from core.catalog.service import CatalogService
    from infra.catalog_repo import CatalogRepository

    service = CatalogService(CatalogRepository(tenant))
    service.create_unit_class(UnitOfMeasureClass("COUNT", "Count", UnitClassType.USAGE, "EA", "EA",
                                                 RecordStatus.ACTIVE), [_unit()])
    service.create(_resource())


def _records(prefix: str, count: int, start: datetime) -> list[dict[str, Any]]:
    return [{"idempotencyKey": f"{prefix}-{i}", "accountExternalId": f"acct-{i % ACCOUNTS}",
             "resourceCode": "API_CALLS", "quantity": str(1 + i % 500),
             "startTime": (start + timedelta(seconds=i % 3600)).isoformat().replace("+00:00", "Z")}
            for i in range(count)]


def _raw_items(tenant: str) -> list[dict[str, Any]]:
    """Items of the same shape as recordUsage writes, validated and encoded before the clock starts."""
    from core.usage_validation import CatalogView, UsageInput, validate
    from infra.usage_repo import to_item

    start = datetime.now(UTC) - timedelta(hours=2)
    inputs = [UsageInput(idempotency_key=r["idempotencyKey"], account_external_id=r["accountExternalId"],
                         resource_code=r["resourceCode"], quantity=r["quantity"], start_time=r["startTime"])
              for r in _records(f"raw-{uuid.uuid4().hex[:6]}", RECORDS, start)]
    view = CatalogView({"API_CALLS": _resource()}, {"EA": _unit()})
    return [to_item(v.record) for v in validate(tenant, inputs, view, datetime.now(UTC)) if v.record]


def _raw_write(client: Any, table: str, items: list[dict[str, Any]]) -> float:
    """BatchWriteItem of 25 items a call, on as many threads as ingestion writes with."""
    from infra.usage_repo import PUT_THREADS as WRITE_THREADS

    def write(chunk: list[dict[str, Any]]) -> None:
        request = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        list(pool.map(write, [items[i:i + 25] for i in range(0, len(items), 25)]))
    return time.perf_counter() - started


def _interleaved(app: Any, key: str, counter: WriteCounter, tenant: str) -> tuple[float, float, int]:
    """One recordUsage call of 1,000, then 1,000 raw items, ten times: both see the same machine load."""
    from starlette.testclient import TestClient

    from infra.settings import get_settings

    start = datetime.now(UTC) - timedelta(hours=2)
    run = uuid.uuid4().hex[:6]
    batches = [_records(f"api-{run}-{b}", CALL_SIZE, start) for b in range(RECORDS // CALL_SIZE)]
    raw = _raw_items(tenant)
    table = get_settings().usage_table
    api_s = raw_s = 0.0
    writes = 0
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key}"}
        client.post("/graphql", json={"query": RECORD, "variables": {"records": _records(f"warm-{run}", 10, start)}},
                    headers=headers)  # warm: schema, catalog and connections
        for number, batch in enumerate(batches):
            counter.reset()
            started = time.perf_counter()
            body = client.post("/graphql", json={"query": RECORD, "variables": {"records": batch}},
                               headers=headers).json()
            api_s += time.perf_counter() - started
            writes += counter.items
            payload = body["data"]["recordUsage"]
            if payload["accepted"] != len(batch):
                raise RuntimeError(f"expected every record ACCEPTED: {payload['errors'] or payload['rejected']}")
            raw_s += _raw_write(counter.clients[0], table, raw[number * CALL_SIZE:(number + 1) * CALL_SIZE])
    return api_s, raw_s, writes


def _file_phase(tenant: str, rows: int) -> float:
    from functions.ingest.bulk import byte_lines, ingest_lines
    from functions.ingest.rows import FileFormat
    from infra.usage_repo import usage_ingestion

    start = datetime.now(UTC) - timedelta(hours=2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage.csv"
        with path.open("w") as out:
            out.write("idempotencyKey,accountExternalId,resourceCode,quantity,startTime\n")
            for i in range(rows):
                stamp = (start + timedelta(seconds=i % 3600)).isoformat().replace("+00:00", "Z")
                out.write(f"file-{i},acct-{i % ACCOUNTS},API_CALLS,{1 + i % 500},{stamp}\n")
        started = time.perf_counter()
        with path.open("rb") as data:
            totals = ingest_lines(byte_lines(data), FileFormat.CSV, usage_ingestion(tenant), f"file://{path}",
                                  io.StringIO())
        elapsed = time.perf_counter() - started
    if totals.accepted != rows:
        raise RuntimeError(f"expected {rows} rows accepted, got {totals.as_dict()}")
    return elapsed


def run() -> None:
    from bench.store import ensure_store

    ensure_store()
    import infra.usage_repo
    from core.auth import Role
    from graphql_api.app import create_app
    from infra.apikeys import create_key
    from infra.bootstrap import bootstrap_tenant
    from infra.dynamo import bulk_writer_client, dynamodb_client

    tenant = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    bootstrap_tenant(tenant)
    _catalog(tenant)
    key = create_key(tenant, {Role.PARTNER}, "bench-ingest")
    client = dynamodb_client()
    counter = WriteCounter(client, bulk_writer_client())  # reads and the gate; the inserts
    gate_time: list[float] = []
    make_gate = infra.usage_repo.period_gate

    class TimedGate:
        def __init__(self, inner: Any):
            self.inner = inner

        def closed(self, tenant_: str, records: Any) -> set[int]:
            started = time.perf_counter()
            try:
                return set(self.inner.closed(tenant_, records))
            finally:
                gate_time.append(time.perf_counter() - started)

    infra.usage_repo.period_gate = lambda t: TimedGate(make_gate(t))  # type: ignore[assignment]
    try:
        api_s, raw_s, api_writes = _interleaved(create_app(), key, counter, tenant)
        gate_s = sum(gate_time[1:])  # the warm-up call's gate is not in api_s
        file_rows = int(os.environ.get("INGEST_BENCH_FILE_ROWS", "5000"))
        file_s = _file_phase(tenant, file_rows) if file_rows else 0.0
    finally:
        infra.usage_repo.period_gate = make_gate  # type: ignore[assignment]
        counter.close()
    api_rate, raw_rate = RECORDS / api_s, RECORDS / raw_s
    ratio = api_rate / raw_rate
    print(f"recordUsage over HTTP: {RECORDS} records in {api_s:.1f}s = {api_rate:,.0f} records/s "
          f"(calls of {CALL_SIZE}; PERIOD_CLOSED gate {gate_s:.1f}s of it)")
    print(f"raw BatchWriteItem:    {RECORDS} items in {raw_s:.1f}s = {raw_rate:,.0f} items/s")
    print(f"ratio: {ratio:.2f} (target ≥ {TARGET_RATIO}) {'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}; "
          f"without the gate's time: {RECORDS / (api_s - gate_s) / raw_rate:.2f}")
    print(f"DynamoDB item writes per record: {api_writes / RECORDS:.2f}")
    if file_rows:
        print(f"bulk file: {file_rows} rows in {file_s:.1f}s = {file_rows / file_s:,.0f} rows/s (report written)")
