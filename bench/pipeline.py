"""The whole usage path under load: GraphQL recordUsage → usage stream → rate (drawdown, price, summary).

10,000 events over 50 accounts subscribed to the Cell Phone Plan, sent as 10 recordUsage calls of 1,000 (each
call one metering window of a minute: the records carry that window as start and end time), while the rate and
summarize pollers run as `make serve` runs them. Reported, against the same embedded store in the same run:

- DynamoDB item writes per event, amortized (target ≤ 3): the insert, the rated update, and each batch's
  summary, wallet counter and ledger writes;
- end-to-end events/s (first recordUsage call → last event visible in its summary) against raw BatchWriteItem
  items/s of items of the same size (one 400-byte attribute; target ratio ≥ 0.25), and against raw BatchWriteItem
  of copies of the run's own stored usage records (a dozen attributes, two of them packed JSON: a store's cost
  per item grows with its attributes, so this is the like-for-like figure);
- p50/p99 from the recordUsage call to the event being visible in its summary (its summary is written in the
  same transaction as its rated status, so "rated" is "visible");
- rating throughput: events rated per second of rate-handler time;
- the same writes per event when every event has its own timestamp (ledger entries cannot merge then).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

EVENTS = 10_000
ACCOUNTS = 50
CALL_SIZE = 1_000
RAW_ITEMS = 10_000
RAW_WARMUP = 2_000
SPREAD_EVENTS = 1_000  # the variant with distinct timestamps
TARGET_WRITES = 3.0
TARGET_RATIO = 0.25

UNIT_CLASS = """mutation($input: CreateUnitOfMeasureClassInput!) {
  createUnitOfMeasureClass(input: $input) { errors { code message } } }"""
CONFIGURE = """mutation($input: ConfigureUsageProductInput!) { configureUsageProduct(input: $input) {
  errors { code message field } } }"""
ACTIVATE = """mutation($code: String!) { activateUsageProduct(productCode: $code) { errors { code message } } }"""
SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  errors { code message field } } }"""
RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) { accepted rejected
  results { errors { code message field } } } }"""
SUMMARIES = """query($a: String!) { account(externalId: $a) { usageSummaries(first: 100) {
  edges { node { usageCount resource { code } } } } } }"""


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def usage_mix(rng: random.Random) -> tuple[str, str]:
    """The resource and quantity of one benchmark event: 70 % texts, 20 % data, 10 % minutes."""
    roll = rng.random()
    if roll < 0.7:
        return "TEXTS", str(rng.randint(1, 40))
    if roll < 0.9:
        return "DATA", f"0.{rng.randint(1, 99):02d}"
    return "MINUTES", str(rng.randint(1, 10))


class Api:
    def __init__(self, client: Any, key: str):
        self.client, self.key = client, key

    def __call__(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = self.client.post("/graphql", json={"query": query, "variables": variables},
                                headers={"Authorization": f"Bearer {self.key}"}).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            raise RuntimeError(payload["errors"])
        return body["data"]  # type: ignore[no-any-return]


def catalog(api: Api) -> None:
    """The Cell Phone Plan (DOMAIN §5) by guided setup, activated."""
    for code, base, default, units in (("COUNT", "EA", None, [("EA", "1")]),
                                       ("DATA", "MB", "GB", [("MB", "1"), ("GB", "1024")]),
                                       ("TIME", "MIN", None, [("MIN", "1")])):
        api(UNIT_CLASS, {"input": {"code": code, "name": code, "type": "USAGE", "baseUnitCode": base,
                                   "defaultUnitCode": default,
                                   "units": [{"unitCode": u, "name": u, "conversionFactor": f} for u, f in units]}})
    resources = [{"resourceCode": code, "effectiveFrom": "2026-01-01T00:00:00Z", "overageRate": rate,
                  "rateUnitCode": "USD", "newResource": {"name": code, "unitOfMeasureClassCode": cls},
                  "grants": [{"quantity": qty, "validityTerm": 1, "validityUnit": "MONTH"}]}
                 for code, cls, qty, rate in (("TEXTS", "COUNT", "4000", "0.75"), ("DATA", "DATA", "2", "1.25"),
                                              ("MINUTES", "TIME", "100", "0.10"))]
    api(CONFIGURE, {"input": {"productCode": "CELL", "productName": "Cell Phone Plan", "usageModelType": "ANCHOR",
                              "resources": resources}})
    api(ACTIVATE, {"code": "CELL"})


def events(rng: random.Random, count: int, start: datetime, window: timedelta | None,
           prefix: str) -> list[list[dict[str, Any]]]:
    """``count`` events in calls of CALL_SIZE. With ``window``, call k reports the k-th window (start and end
    time); without, every event gets a timestamp of its own."""
    calls = []
    for k in range(0, count, CALL_SIZE):
        call = []
        for i in range(k, min(k + CALL_SIZE, count)):
            resource, quantity = usage_mix(rng)
            if window is not None:
                begin, end = start + (k // CALL_SIZE) * window, start + (k // CALL_SIZE + 1) * window
            else:
                begin = end = start + timedelta(milliseconds=37 * i)
            call.append({"idempotencyKey": f"{prefix}-{i}", "accountExternalId": f"a{i % ACCOUNTS:02d}",
                         "resourceCode": resource, "quantity": quantity, "startTime": iso(begin),
                         "endTime": iso(end)})
        calls.append(call)
    return calls


def stored_usage_items(client: Any, table: str, tenant: str, count: int = 200) -> list[dict[str, Any]]:
    """Some usage records of the run as the table holds them (rated: a dozen attributes each)."""
    from infra.dynamo_kit import query_pages

    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table, "FilterExpression": "tenant = :t AND #s = :p",
                               "ExpressionAttributeNames": {"#s": "status"},
                               "ExpressionAttributeValues": {":t": {"S": tenant}, ":p": {"S": "PROCESSED"}}}
    for page in query_pages(client, request, operation="scan"):
        items += page.get("Items", [])
        if len(items) >= count:
            break
    return items[:count]


def raw_items_per_second(client: Any, shapes: list[dict[str, Any]] | None = None) -> float:
    """BatchWriteItem of RAW_ITEMS items (25 a call, one thread) into a scratch table: by default usage-sized
    items of one 400-byte attribute; with ``shapes``, copies of those items (new keys). RAW_WARMUP items go first,
    untimed: DynamoDB Local is a JVM, and its first thousands of writes run before the JIT has compiled them."""
    table = f"bench-raw-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
    filler = "x" * 400  # about the size of a stored usage record

    def write(first: int, last: int) -> None:
        for k in range(first, last, 25):
            request = {table: [{"PutRequest": {"Item": {
                **(shapes[i % len(shapes)] if shapes else {"data": {"S": filler}}),
                "pk": {"S": f"T#bench#U#{i}"}, "sk": {"S": "U"}}}} for i in range(k, min(k + 25, last))]}
            while request:
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    write(RAW_ITEMS, RAW_ITEMS + RAW_WARMUP)
    started = time.perf_counter()
    write(0, RAW_ITEMS)
    elapsed = time.perf_counter() - started
    client.delete_table(TableName=table)
    return RAW_ITEMS / elapsed


class Visibility:
    """Wraps the rate handler: when an invocation returns, its records' summaries are written."""

    def __init__(self) -> None:
        self.visible: dict[str, float] = {}
        self.busy = 0.0
        self.lock = threading.Lock()

    def wrap(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        from infra.usage_repo import record_from_item

        def timed(event: dict[str, Any], context: Any) -> Any:
            started = time.perf_counter()
            response = handler(event, context)
            done = time.perf_counter()
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            with self.lock:
                self.busy += done - started
                for record in event["Records"]:
                    if record["dynamodb"]["SequenceNumber"] not in failed:
                        key = record_from_item(record["dynamodb"]["NewImage"]).idempotency_key
                        self.visible.setdefault(key, done)
            return response
        timed.__name__ = getattr(handler, "__name__", "handler")
        return timed

    def wait_for(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(k in self.visible for k in keys):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{sum(1 for k in keys if k not in self.visible)} events were not rated in time")


def send(api: Api, calls: list[list[dict[str, Any]]]) -> dict[str, float]:
    sent: dict[str, float] = {}
    for call in calls:
        at = time.perf_counter()
        answer = api(RECORD, {"records": call})["recordUsage"]
        if answer["accepted"] != len(call):
            raise RuntimeError(f"recordUsage did not accept every event: {answer}")
        sent.update({r["idempotencyKey"]: at for r in call})
    return sent


def run() -> None:
    from bench import counting
    from bench.store import ensure_store

    ensure_store()
    from starlette.testclient import TestClient

    from core.auth import Role
    from graphql_api.app import create_app
    from infra.apikeys import create_key
    from infra.bootstrap import bootstrap_tenant, connect
    from infra.dynamo import dynamodb_client
    from local.pollers import start_pollers

    settings = connect()
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    bootstrap_tenant(tenant)
    client = dynamodb_client(settings)
    rng = random.Random(7)
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with TestClient(create_app()) as http:
        api = Api(http, create_key(tenant, {Role.ADMIN}, "bench"))
        catalog(api)
        for n in range(ACCOUNTS):
            api(SUBSCRIBE, {"input": {"externalId": f"s{n:02d}", "accountExternalId": f"a{n:02d}",
                                      "productCode": "CELL", "startDate": iso(month_start)}})
        raw = raw_items_per_second(client)
        visibility = Visibility()
        # this tenant's records only: what earlier benchmarks left in the stream is read past, not rated
        pollers = start_pollers(settings, wrap=visibility.wrap, tenant=tenant)
        try:
            pollers.drain(300)
            windowed = events(rng, EVENTS, max(month_start, now - timedelta(minutes=15)), timedelta(minutes=1), "w")
            counting.reset()
            started = time.perf_counter()
            sent = send(api, windowed)
            visibility.wait_for(list(sent), 600)
            finished = max(visibility.visible[k] for k in sent)
            writes = counting.total_item_writes()
            by_table = dict(counting.item_writes)
            busy = visibility.busy
            latencies = sorted(visibility.visible[k] - sent[k] for k in sent)

            spread = events(rng, SPREAD_EVENTS, max(month_start, now - timedelta(minutes=5)), None, "s")
            pollers.drain(300)
            counting.reset()
            sent_spread = send(api, spread)
            visibility.wait_for(list(sent_spread), 600)
            spread_writes = counting.total_item_writes()
        finally:
            pollers.stop()
        raw_same = raw_items_per_second(client, stored_usage_items(client, settings.usage_table, tenant))
        counted = sum(e["node"]["usageCount"] for n in range(ACCOUNTS)
                      for e in api(SUMMARIES, {"a": f"a{n:02d}"})["account"]["usageSummaries"]["edges"])
    elapsed = finished - started
    per_second = EVENTS / elapsed
    per_event = writes / EVENTS
    print(f"events: {EVENTS} over {ACCOUNTS} accounts in {EVENTS // CALL_SIZE} recordUsage calls; "
          f"{counted} counted in summaries (every event exactly once: {counted == EVENTS + SPREAD_EVENTS})")
    print(f"item writes per event: {per_event:.2f} (target ≤ {TARGET_WRITES:g}) — "
          + ", ".join(f"{table}: {n / EVENTS:.2f}" for table, n in sorted(by_table.items())))
    print(f"end to end: {per_second:,.0f} events/s; raw BatchWriteItem: {raw:,.0f} items/s; "
          f"ratio {per_second / raw:.2f} (target ≥ {TARGET_RATIO:g})")
    print(f"raw BatchWriteItem of the run's own stored usage records (a dozen attributes each): "
          f"{raw_same:,.0f} items/s; ratio {per_second / raw_same:.2f}")
    print(f"recordUsage → visible in the summary: p50 {statistics.median(latencies) * 1000:,.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:,.0f} ms")
    print(f"rating throughput: {(EVENTS + SPREAD_EVENTS) / visibility.busy:,.0f} events per second of rate-handler "
          f"time ({busy:.1f} s for the {EVENTS} windowed events)")
    print(f"with a timestamp per event ({SPREAD_EVENTS} events): {spread_writes / SPREAD_EVENTS:.2f} item writes "
          "per event (ledger entries merge per wallet and usage time only)")
