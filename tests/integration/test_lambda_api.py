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


def get_event(path: str, accept: str) -> dict[str, Any]:
    event = load_event("http_api_graphql")
    event.update(rawPath=path, rawQueryString="", body=None, isBase64Encoded=False)
    event["headers"] = {"accept": accept, "host": event["headers"].get("host", "api.example.com")}
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


def test_lambda_handler_serves_graphiql_and_its_files_without_a_cdn(store_endpoint: str) -> None:
    # GIVEN a browser opening /graphql on the deployed API
    page = invoke(get_event("/graphql", "text/html,application/xhtml+xml"))
    # THEN it gets our page, whose scripts and styles are all served by the API itself
    assert page["statusCode"] == 200
    html = base64.b64decode(page["body"]).decode() if page.get("isBase64Encoded") else page["body"]
    assert "graphiql/graphiql-3.8.3.min.js" in html and "https://" not in html and "http://" not in html
    # AND the files it names come out of the Lambda artifact (graphql_api/static)
    script = invoke(get_event("/graphiql/sign-in.js", "*/*"))
    assert script["statusCode"] == 200 and "javascript" in script["headers"]["content-type"]
    body = base64.b64decode(script["body"]).decode() if script.get("isBase64Encoded") else script["body"]
    assert "Authorization" in body
    # AND the largest file fits in a synchronous Lambda response (6 MB)
    largest = invoke(get_event("/graphiql/graphiql-3.8.3.min.js", "*/*"))
    assert largest["statusCode"] == 200 and len(json.dumps(largest)) < 6 * 1024 * 1024


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
