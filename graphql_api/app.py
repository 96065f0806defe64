"""The Starlette app: /graphql (GraphiQL for browsers) behind API-key auth, and /health.

The same ASGI app runs under uvicorn locally and behind API Gateway in Lambda (``graphql_api.handler``).
What reaches Strawberry has passed ``Guarded``: a body of at most ``GRAPHQL_MAX_BODY_BYTES`` (counted as it streams
in, so ``Transfer-Encoding: chunked`` cannot get past it) received within ``GRAPHQL_BODY_READ_TIMEOUT_SECONDS``,
a UTF-8 JSON object of GraphQL's shape, and a valid API key. Every refusal is JSON with ``extensions.code``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from core.auth import Principal
from graphql_api.context import Context
from graphql_api.ide import ASSETS_PATH, graphiql_assets, graphiql_page
from graphql_api.schema import schema
from infra.apikeys import authenticate
from infra.dynamo import dynamodb_client
from infra.settings import get_settings
from infra.store_errors import translate

#: JSON bodies and variables nested deeper than this are refused (DynamoDB maps nest 32 levels at most).
MAX_JSON_NESTING = 64
_frozen = False


class KeyCache:
    """Key lookups are remembered for ``ttl`` seconds (``API_KEY_CACHE_SECONDS``, 5 by default), so a warm process
    reads the key item at most once per key in that time, and a revoked key stops working within it everywhere."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def cached(self, api_key: str) -> tuple[Principal | None] | None:
        """``(principal,)`` when the key was looked up less than ``ttl`` ago (the principal None for a key that
        does not authenticate), else None: then ``principal`` reads it."""
        hit = self._entries.get(api_key)
        return (hit[1],) if hit and hit[0] > self.clock() else None

    def principal(self, api_key: str) -> Principal | None:
        hit = self.cached(api_key)
        if hit is not None:
            return hit[0]
        principal = authenticate(api_key)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[api_key] = (self.clock() + self.ttl, principal)
        return principal


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any = None) -> Context:
        return Context(principal=request.scope.get("principal"), request=request, response=response)

    async def render_graphql_ide(self, request: Any) -> Response:
        """Our GraphiQL page: its files are served by this app (no CDN) and it signs requests in with a key."""
        return HTMLResponse(graphiql_page())


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.response = error(status, code, message, headers)


class Guarded:
    """ASGI wrapper: a valid API key and a well-formed request (or a browser asking for GraphiQL) get through."""

    def __init__(self, app: Any, keys: KeyCache, max_body_bytes: int, read_timeout: float):
        self.app, self.keys, self.max_body_bytes, self.read_timeout = app, keys, max_body_bytes, read_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope)
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "") \
            and "query" not in request.query_params
        if not wants_ide:
            try:
                scope["principal"] = await self.admit(request)
                if request.method == "POST":
                    body = await self.read_body(receive)
                    check_body(body, request.headers.get("content-type", ""))
                    receive = replay(body, receive)
                else:
                    check_params(request)
            except Refused as refusal:
                await refusal.response(scope, receive, send)
                return
            except ConnectionResetError:  # the client went away before it finished sending
                return
        await self.app(scope, receive, send)

    async def admit(self, request: Request) -> Principal:
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            raise Refused(400, "BAD_REQUEST", "Content-Length is not a number") from None
        if declared > self.max_body_bytes:
            raise Refused(413, "PAYLOAD_TOO_LARGE", "request body too large")
        token = bearer(request)
        cached = self.keys.cached(token) if token else (None,)
        try:  # a key looked up a moment ago is answered here; only a lookup goes to a thread
            if cached is not None:
                principal = cached[0]
            else:
                principal = await asyncio.to_thread(self.keys.principal, token or "")
        except Exception as exc:
            if translate(exc) is None:
                raise
            raise Refused(503, "STORE_UNAVAILABLE", "the data store is unavailable right now; retry later",
                          {"Retry-After": "5"}) from exc
        if principal is None:
            raise Refused(401, "UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer <key>)",
                          {"WWW-Authenticate": "Bearer"})
        return principal

    async def read_body(self, receive: Any) -> bytes:
        """The body, counted as it streams in and cut off when it is too large or too slow to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                raise Refused(408, "REQUEST_TIMEOUT", f"the request body did not arrive within "
                              f"{self.read_timeout:g} s", {"Connection": "close"}) from None
            if message["type"] == "http.disconnect":
                raise ConnectionResetError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise Refused(413, "PAYLOAD_TOO_LARGE", "request body too large", {"Connection": "close"})
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the body already read to the app, then waits on the client as before."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> Any:
        return pending.pop() if pending else await receive()

    return again


def check_body(body: bytes, content_type: str) -> None:
    if "application/json" not in content_type.lower():
        raise Refused(415, "UNSUPPORTED_MEDIA_TYPE", "send the request as Content-Type: application/json")
    data = parse_json(body, "the body")
    if not isinstance(data, dict):
        raise Refused(400, "BAD_REQUEST", "the body must be a JSON object: {query, variables, operationName}")
    for name, kinds in (("query", str), ("operationName", str), ("variables", dict), ("extensions", dict)):
        if data.get(name) is not None and not isinstance(data[name], kinds):
            raise Refused(400, "BAD_REQUEST", f"'{name}' must be {'a string' if kinds is str else 'an object'}")


def check_params(request: Request) -> None:
    for name in ("variables", "extensions"):
        raw = request.query_params.get(name)
        if raw and not isinstance(parse_json(raw.encode(), f"'{name}'"), dict):
            raise Refused(400, "BAD_REQUEST", f"'{name}' must be a JSON object")


def parse_json(raw: bytes, what: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "BAD_REQUEST", f"{what} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "BAD_REQUEST", f"{what} is not valid JSON, or is nested too deeply") from None
    if nesting(data) > MAX_JSON_NESTING:
        raise Refused(400, "BAD_REQUEST", f"{what} nests JSON more than {MAX_JSON_NESTING} levels deep")
    return data


def nesting(value: Any) -> int:
    """How deeply JSON containers nest in ``value`` (without recursion)."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            level.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers=headers)


def freeze_startup_objects() -> None:
    """Once per process: what is alive when the first app is made (modules, the schema, botocore's models and
    clients: they live as long as the process) is left out of the garbage collector's full collections from now
    on (``gc.freeze``). A recordUsage call of 1,000 records allocates enough to set one off now and then, and it
    walked all of that: ~95 ms of CPU each (~0.02 ms per record of a burst), ~15 ms after."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def create_app() -> Starlette:
    settings = get_settings()
    graphql = GraphQLApp(schema, graphql_ide="graphiql", allow_queries_via_get=True)

    async def health(_: Request) -> Response:
        try:
            await asyncio.to_thread(dynamodb_client().describe_table, TableName=settings.catalog_table)
        except Exception:  # the store is unreachable: say so, naming nothing internal
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    guarded = Guarded(graphql, KeyCache(settings.key_cache_seconds), settings.max_body_bytes,
                      settings.body_read_timeout_seconds)
    freeze_startup_objects()
    return Starlette(routes=[
        Route("/graphql", guarded, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets()),
    ])
