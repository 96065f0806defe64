"""The API behind Mangum answers a real-shaped API Gateway HTTP API (payload v2) event."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from tests.builders import cell_phone_plan
from tests.events import load_event


class LambdaContext:
    function_name = "usage-api"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:usage-api"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from graphql_api.handler import handler

    return handler(event, LambdaContext())


def body_of(response: dict[str, Any]) -> Any:
    body = response["body"]
    return json.loads(base64.b64decode(body) if response.get("isBase64Encoded") else body)


def test_lambda_handler_serves_the_nested_query(api: Any) -> None:
    # GIVEN a catalog and an API Gateway v2 event carrying a key of the tenant
    cell_phone_plan(api)
    event = load_event("http_api_graphql")
    event["headers"]["authorization"] = f"Bearer {api.key}"
    # WHEN Lambda invokes the handler
    response = invoke(event)
    # THEN the GraphQL answer comes back in the v2 response shape
    assert response["statusCode"] == 200
    product = body_of(response)["data"]["product"]
    assert product["code"] == "CELL"
    assert {p["resource"]["code"] for p in product["usageResources"]} == {"TEXTS", "DATA", "MINUTES"}


def test_lambda_handler_refuses_a_missing_key_with_401(store_endpoint: str) -> None:
    response = invoke(load_event("http_api_graphql"))
    assert response["statusCode"] == 401
    assert body_of(response)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_lambda_handler_health(store_endpoint: str) -> None:
    event = load_event("http_api_graphql")
    event.update(rawPath="/health", body=None)
    event["requestContext"]["http"].update(method="GET", path="/health")
    response = invoke(event)
    assert response["statusCode"] == 200 and body_of(response) == {"status": "ok"}


def test_the_first_call_seeds_random_again_so_instances_restored_from_one_snapshot_jitter_apart(
        store_endpoint: str, monkeypatch: Any) -> None:
    # GIVEN an instance whose random state is the snapshot's (the same in every instance restored from it)
    import graphql_api.handler

    monkeypatch.setattr(graphql_api.handler, "_handler", None)
    random.seed(7)
    snapshot_sequence = [random.random() for _ in range(3)]
    random.seed(7)
    # WHEN its first request arrives
    event = load_event("http_api_graphql")
    event.update(rawPath="/health", body=None)
    event["requestContext"]["http"].update(method="GET", path="/health")
    assert invoke(event)["statusCode"] == 200
    # THEN its random numbers no longer follow the snapshot's
    assert [random.random() for _ in range(3)] != snapshot_sequence
