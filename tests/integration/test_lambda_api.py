"""The API behind Mangum answers a real-shaped API Gateway HTTP API (payload v2) event."""

from __future__ import annotations

import base64
import json
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


def test_lambda_handler_refuses_malformed_and_oversized_bodies_with_coded_4xx(api: Any) -> None:
    # GIVEN API Gateway events with a valid key and bodies the API must refuse
    def with_body(body: str, base64: bool = False) -> dict[str, Any]:
        event = load_event("http_api_graphql")
        event["headers"]["authorization"] = f"Bearer {api.key}"
        event.update(body=body, isBase64Encoded=base64)
        return event

    cases = [(with_body('"str"'), 400, "BAD_REQUEST"), (with_body("null"), 400, "BAD_REQUEST"),
             (with_body(base64.b64encode(b"\xff\xfe{").decode(), base64=True), 400, "BAD_REQUEST"),
             (with_body("[" * 100_000 + "]" * 100_000), 400, "BAD_REQUEST"),
             (with_body('{"query": "{ products { edges { cursor } } }", "pad": "' + "x" * 3 * 1024 * 1024 + '"}'),
              413, "PAYLOAD_TOO_LARGE")]
    for event, status, code in cases:
        # WHEN Lambda invokes the handler
        response = invoke(event)
        # THEN each gets its status and code, never a 500
        assert response["statusCode"] == status, response
        assert body_of(response)["errors"][0]["extensions"]["code"] == code
