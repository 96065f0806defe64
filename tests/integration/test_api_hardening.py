"""Issue 15: no input stalls or poisons the API — query cost, HTTP bodies, key revocation, typed errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError

from tests.builders import GRANT, PRODUCT
from tests.unit.test_query_limits import fragment_bomb

OUTAGE = EndpointConnectionError(endpoint_url="http://store:8000")


def post(api: Any, content: bytes | Any, content_type: str = "application/json", key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key or api.key}", "content-type": content_type}
    return api.client.post("/graphql", content=content, headers=headers)


def code_of(response: Any) -> str:
    return response.json()["errors"][0]["extensions"]["code"]  # type: ignore[no-any-return]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set environment variables for one test; the settings are read again before and after."""
    from infra.settings import reset_settings

    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


# --- 1. query cost -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [22, 29])
def test_a_fragment_bomb_gets_a_typed_error_in_milliseconds_while_health_answers(app: Any, api: Any,
                                                                                 levels: int) -> None:
    # GIVEN a VIEWER key and the 1 KB document whose fragments expand to 2^levels selections
    from core.auth import Role

    viewer_key = api.keys[Role.VIEWER]

    async def scenario() -> tuple[Any, list[int], float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            started = time.monotonic()
            bomb = asyncio.create_task(client.post("/graphql", json={"query": fragment_bomb(levels)},
                                                   headers={"Authorization": f"Bearer {viewer_key}"}))
            # WHEN /health is asked meanwhile
            health = [(await client.get("/health")).status_code for _ in range(3)]
            answer = await bomb
            return answer, health, time.monotonic() - started

    answer, health, elapsed = asyncio.run(scenario())
    # THEN the document is refused with QUERY_TOO_COMPLEX, quickly, and /health kept answering
    assert answer.status_code == 200 and code_of(answer) == "QUERY_TOO_COMPLEX"
    assert health == [200, 200, 200]
    assert elapsed < 2.0, elapsed


def test_validation_and_limit_errors_carry_a_code(api: Any) -> None:
    assert code_of(api.raw("{ nope }")) == "GRAPHQL_VALIDATION_FAILED"
    assert code_of(api.raw("{ products ")) == "GRAPHQL_PARSE_FAILED"
    deep = "{ products { edges { node { usageResources { resource " + "{ tokenResource " * 10 + "{ code }" + \
        " }" * 10 + " } } } } }"
    assert code_of(api.raw(deep)) == "QUERY_TOO_DEEP"
    aliases = "{ " + " ".join(f"a{i}: products {{ edges {{ cursor }} }}" for i in range(40)) + " }"
    assert code_of(api.raw(aliases)) == "TOO_MANY_ALIASES"


def test_a_document_with_two_operations_and_no_operation_name_is_an_error(api: Any) -> None:
    both = "query A { products { edges { cursor } } } query B { usageResources { edges { cursor } } }"
    body = api.raw(both).json()
    assert body.get("data") is None and body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    named = api.client.post("/graphql", json={"query": both, "operationName": "B"},
                            headers={"Authorization": f"Bearer {api.key}"}).json()
    assert named["data"] == {"usageResources": {"edges": []}}


# --- 4. HTTP -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b'"str"', b"null", b"1", b"[]", b"\xff\xfe\x00{", b"[" * 100_000 + b"]" * 100_000,
                                  b'{"query": 1}', b'{"query": "{ products { edges { cursor } } }", "variables": 2}',
                                  b"{", b""])
def test_a_malformed_body_is_a_400_with_a_code(api: Any, body: bytes) -> None:
    response = post(api, body)
    assert response.status_code == 400, response.text
    assert code_of(response) == "BAD_REQUEST"


def test_deeply_nested_variables_are_a_400_also_in_a_get(api: Any) -> None:
    nested = json.dumps({"input": json.loads("[" * 500 + "]" * 500)})
    response = api.client.get("/graphql", params={"query": "{ products { edges { cursor } } }", "variables": nested},
                              headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 400 and code_of(response) == "BAD_REQUEST"


def test_a_chunked_body_over_the_limit_is_a_413(api: Any) -> None:
    # GIVEN a body sent in chunks, without Content-Length, larger than GRAPHQL_MAX_BODY_BYTES (2 MB)
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ products { edges { cursor } } }", "pad": "'
        for _ in range(3 * 1024):
            yield b"x" * 1024
        yield b'"}'

    response = post(api, chunks())
    assert response.status_code == 413 and code_of(response) == "PAYLOAD_TOO_LARGE"


def test_a_body_sent_too_slowly_is_cut_off_with_a_408(settings_env: pytest.MonkeyPatch, api: Any) -> None:
    from graphql_api.app import create_app
    from infra.settings import reset_settings

    settings_env.setenv("GRAPHQL_BODY_READ_TIMEOUT_SECONDS", "0.3")
    reset_settings()
    app = create_app()
    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {api.key}".encode()), (b"content-type", b"application/json"),
                         (b"content-length", b"100")],
             "http_version": "1.1", "scheme": "http", "server": ("api", 80), "client": ("c", 1), "root_path": ""}
    first = True
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"query": "{ pro', "more_body": True}
        await asyncio.sleep(3600)  # the client stalls
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def scenario() -> float:
        started = time.monotonic()
        await asyncio.wait_for(app(scope, receive, send), 5)
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert sent[0]["status"] == 408 and elapsed < 2
    assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


def test_an_unknown_key_while_the_store_is_down_is_a_503(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(_: str) -> None:
        raise OUTAGE

    monkeypatch.setattr("graphql_api.app.authenticate", down)
    response = api.raw("{ products { edges { cursor } } }", key=f"umk_{uuid.uuid4().hex}")
    assert response.status_code == 503 and code_of(response) == "STORE_UNAVAILABLE"


@pytest.mark.parametrize("failure", ["outage", "batch read left unprocessed"])
def test_a_store_outage_during_a_query_is_a_typed_503(api: Any, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    from infra.catalog_repo import CatalogRepository
    from infra.dynamo_kit import UnprocessedKeysError

    def down(*_: Any, **__: Any) -> None:
        raise OUTAGE if failure == "outage" else UnprocessedKeysError("BatchGetItem left keys unprocessed")

    monkeypatch.setattr(CatalogRepository, "products_page", down)
    response = api.raw("{ products { edges { cursor } } }")
    assert response.status_code == 503
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "STORE_UNAVAILABLE" and "8000" not in error["message"]


def test_health_names_no_internal_exception(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    class Down:
        def describe_table(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="http://store:8000")

    monkeypatch.setattr("graphql_api.app.dynamodb_client", Down)
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


# --- 5. key revocation -------------------------------------------------------------------------------------------

def test_a_revoked_key_stops_working_within_five_seconds(tenant: str) -> None:
    from core.auth import Role
    from graphql_api.app import KeyCache
    from infra.apikeys import create_key, revoke_key
    from infra.settings import get_settings

    now = [1000.0]
    cache = KeyCache(get_settings().key_cache_seconds, clock=lambda: now[0])
    key = create_key(tenant, {Role.ADMIN}, "soon-revoked")
    assert cache.cached(key) is None  # not looked up yet: the app reads it in a thread
    principal = cache.principal(key)
    assert principal is not None and cache.cached(key) == (principal,)  # then answered without a read
    revoke_key(key)
    now[0] += 5.0
    assert cache.cached(key) is None
    assert cache.principal(key) is None and cache.cached(key) == (None,)


# --- 6. smaller ones ---------------------------------------------------------------------------------------------

def test_a_forbidden_mutation_with_a_bad_decimal_answers_forbidden(api: Any) -> None:
    from core.auth import Role

    bad = {"input": {"productUsageResourceId": "UHVyOng=", "quantity": "lots", "validityUnit": "NONE"}}
    for role in (Role.VIEWER, Role.PARTNER):
        assert code_of(api.as_role(role).raw(GRANT, bad)) == "FORBIDDEN"
    assert code_of(api.raw(GRANT, bad)) == "INVALID_VALUE"


def test_introspection_and_suggestions_can_be_turned_off_for_non_admin_keys(settings_env: pytest.MonkeyPatch,
                                                                            api: Any) -> None:
    from core.auth import Role

    introspect, typo = "{ __schema { queryType { name } } }", '{ product(code: "X") { nam } }'
    viewer = api.as_role(Role.VIEWER)
    # GIVEN the default (make serve): everyone may introspect and gets suggestions
    assert viewer(introspect)["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in viewer.raw(typo).json()["errors"][0]["message"]
    # WHEN production turns them off
    settings_env.setenv("GRAPHQL_INTROSPECTION", "off")
    from infra.settings import reset_settings

    reset_settings()
    # THEN a VIEWER or PARTNER gets neither; an ADMIN still gets both
    for role in (Role.VIEWER, Role.PARTNER):
        refused = api.as_role(role).raw(introspect).json()["errors"][0]
        assert refused["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "introspection" in refused["message"]
        assert "Did you mean" not in api.as_role(role).raw(typo).json()["errors"][0]["message"]
        enum_typo = api.as_role(role).raw("query($t: UsageModelType) { products(usageModelType: $t) { edges "
                                          "{ cursor } } }", {"t": "ANCHR"}).json()["errors"][0]["message"]
        assert "Did you mean" not in enum_typo
    assert api(introspect)["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in api.raw(typo).json()["errors"][0]["message"]


def test_expected_errors_are_logged_on_one_line_without_a_traceback(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    from core.auth import Role

    caplog.set_level(logging.INFO)
    api.as_role(Role.VIEWER).raw(PRODUCT, {"input": {"code": "V", "name": "V", "usageModelType": "ANCHOR"}})
    api.raw("{ products(first: 101) { edges { cursor } } }")
    records = [r for r in caplog.records if r.name.startswith(("graphql_api", "strawberry"))]
    assert {r.getMessage().split(" at ")[0] for r in records} == {"expected error: FORBIDDEN",
                                                                 "expected error: MAX_LIMIT_EXCEEDED"}
    assert all(r.exc_info is None and "\n" not in r.getMessage() and r.levelno == logging.INFO for r in records)


def test_hostile_values_get_typed_errors_not_unexpected_error(api: Any) -> None:
    from tests.integration.test_subscriptions_api import SUBSCRIBE, texts_catalog

    texts_catalog(api)
    name = api.raw(PRODUCT, {"input": {"code": "BIG", "name": "n" * 500_000, "usageModelType": "ANCHOR"}}).json()
    quantity = api.raw(SUBSCRIBE, {"input": {"externalId": "s1", "accountExternalId": "a1", "productCode": "PLAN",
                                             "quantity": "1e21", "startDate": "2026-01-01T00:00:00Z"}}).json()
    early = api.raw(SUBSCRIBE, {"input": {"externalId": "s2", "accountExternalId": "a1", "productCode": "PLAN",
                                          "startDate": "0001-01-01T00:00:00+01:00"}}).json()
    for body in (name, quantity, early):
        assert "Unexpected error." not in json.dumps(body), body
        errors = body.get("errors") or next(iter(body["data"].values()))["errors"]
        assert errors and all(e.get("code") or e["extensions"]["code"] for e in errors), body


def test_under_uvicorn_a_slow_body_is_cut_off_and_a_chunked_one_is_counted(settings_env: pytest.MonkeyPatch,
                                                                          api: Any) -> None:
    # GIVEN the app served by uvicorn with a 0.5 s body read timeout
    import socket
    import threading

    import uvicorn

    from graphql_api.app import create_app
    from infra.settings import reset_settings

    settings_env.setenv("GRAPHQL_BODY_READ_TIMEOUT_SECONDS", "0.5")
    reset_settings()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        head = (f"POST /graphql HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {api.key}\r\n"
                "Content-Type: application/json\r\n")

        def exchange(request: bytes, then: bytes = b"", pause: float = 0.0) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(request)
                if pause:
                    time.sleep(pause)
                try:
                    if then:
                        conn.sendall(then)
                except OSError:  # the server already answered and closed
                    pass
                answer = b""
                while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                    try:
                        part = conn.recv(65536)
                    except ConnectionResetError:
                        break
                    if not part:
                        break
                    answer += part
                return answer

        # WHEN a client sends 16 of the 100 bytes it announced, then stalls
        started = time.monotonic()
        slow = exchange((head + "Content-Length: 100\r\n\r\n").encode() + b'{"query": "{ pro')
        # THEN it is answered 408 after the read timeout
        assert slow.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in slow, slow[:300]
        assert time.monotonic() - started < 5
        # WHEN a client streams 3 MB in chunks, with no Content-Length
        chunk = b"x" * 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(48)) + b"0\r\n\r\n"
        big = exchange((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b'10\r\n{"query": "{ x",\r\n', body)
        # THEN the streamed bytes are counted: 413
        assert big.startswith(b"HTTP/1.1 413") and b"PAYLOAD_TOO_LARGE" in big, big[:300]
    finally:
        server.should_exit = True
        thread.join(10)
