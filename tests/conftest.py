"""Shared fixtures: one store per test session (moto server or Amazon DynamoDB Local, by USAGE_TEST_STORE),
one fresh tenant per test, and helpers to call the GraphQL API through the real Starlette app."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
# EMF metrics print to stdout; the tests of them turn them on (monkeypatch.delenv), the rest keep the output quiet
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@contextlib.contextmanager
def _endpoint() -> Iterator[str]:
    try:
        from tests.stores import store_endpoint
    except ImportError:  # pragma: no cover - the embedded moto server alone
        from local.embedded import start_moto_server

        with start_moto_server() as store:
            yield store.endpoint
        return
    with store_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def store_endpoint() -> Iterator[str]:
    with _endpoint() as endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODBSTREAMS"] = endpoint
        from infra.bootstrap import connect

        connect()
        yield endpoint


@pytest.fixture
def tables(store_endpoint: str) -> str:
    """The application's tables for one test. On moto they are new and empty (dropped and created again): moto's
    transactions copy each touched table once per item, so they stay cheap only while tables hold one test's data.
    On DynamoDB Local the session's tables are shared (tests keep apart by tenant). Returns the store's URL."""
    try:
        from tests.stores import recreate_tables, store_kind
    except ImportError:  # pragma: no cover - the embedded moto server alone
        return store_endpoint
    if store_kind() == "moto":
        from infra.dynamo import dynamodb_client
        from infra.settings import get_settings

        recreate_tables(dynamodb_client(get_settings()), get_settings())
    return store_endpoint


@pytest.fixture
def tenant(tables: str) -> str:
    """A tenant of its own for each test (on moto, in tables of its own too: see ``tables``)."""
    from infra.bootstrap import bootstrap_tenant

    name = f"t-{uuid.uuid4().hex[:12]}"
    bootstrap_tenant(name)
    return name


class Api:
    """Calls /graphql through the Starlette app with an API key, like a front end or partner would."""

    def __init__(self, client: Any, tenant: str):
        from core.auth import Role
        from infra.apikeys import create_key

        self.client = client
        self.tenant = tenant
        self.keys = {role: create_key(tenant, {role}, f"test-{role}") for role in Role}
        self.key = self.keys[Role.ADMIN]

    def as_role(self, role: Any) -> Api:
        other = object.__new__(Api)
        other.client, other.tenant, other.keys, other.key = self.client, self.tenant, self.keys, self.keys[role]
        return other

    def raw(self, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    def __call__(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        response = self.raw(query, variables, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def ok(self, query: str, variables: dict[str, Any] | None = None, field: str | None = None) -> dict[str, Any]:
        """Run a mutation whose payload must carry no typed errors; returns the payload."""
        data = self(query, variables)
        payload = data[field or next(iter(data))]
        assert payload.get("errors") in (None, []), payload["errors"]
        return payload  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def app(store_endpoint: str) -> Any:
    from graphql_api.app import create_app

    return create_app()


@pytest.fixture
def api(app: Any, tenant: str) -> Iterator[Api]:
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        yield Api(client, tenant)
