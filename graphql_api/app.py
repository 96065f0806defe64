"""The Starlette app: /graphql (GraphiQL for browsers) behind API-key auth, and /health.

The same ASGI app runs under uvicorn locally and behind API Gateway in Lambda (``graphql_api.handler``).
"""

from __future__ import annotations

import asyncio
import time
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

KEY_CACHE_SECONDS = 60.0


class KeyCache:
    """Valid keys are remembered briefly so that a warm Lambda does not read the key item on every request."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def principal(self, api_key: str) -> Principal | None:
        hit = self._entries.get(api_key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        principal = authenticate(api_key)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[api_key] = (time.monotonic() + KEY_CACHE_SECONDS, principal)
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


class Authenticated:
    """ASGI wrapper: a valid API key (or a browser asking for GraphiQL) gets through; anything else gets 401."""

    def __init__(self, app: Any, keys: KeyCache, max_body_bytes: int):
        self.app, self.keys, self.max_body_bytes = app, keys, max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope)
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "") \
            and "query" not in request.query_params
        if not wants_ide:
            if int(request.headers.get("content-length") or 0) > self.max_body_bytes:
                await error(413, "PAYLOAD_TOO_LARGE", "request body too large")(scope, receive, send)
                return
            token = bearer(request)
            principal = await asyncio.to_thread(self.keys.principal, token) if token else None
            if principal is None:
                await error(401, "UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer <key>)",
                            {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
            scope["principal"] = principal
        await self.app(scope, receive, send)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers=headers)


def create_app() -> Starlette:
    settings = get_settings()
    graphql = GraphQLApp(schema, graphql_ide="graphiql", allow_queries_via_get=True)

    async def health(_: Request) -> Response:
        try:
            await asyncio.to_thread(dynamodb_client().describe_table, TableName=settings.catalog_table)
        except Exception as exc:  # the store is unreachable: say so, without details
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/graphql", Authenticated(graphql, KeyCache(), settings.max_body_bytes), methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets()),
    ])
