"""The store the tests run against: moto's server (default) or Amazon DynamoDB Local.

    USAGE_TEST_STORE=moto | dynamodb-local

conftest.py wraps `store_endpoint()` in a session fixture. Each pytest-xdist worker is its own process and
so gets its own store. Nested users share the running store: it starts with the first `store_endpoint()` of a
kind in this process and stops when the last one exits. A store is shared by every test of a session, so
tables need unique names (`unique_name`); DynamoDB Local wants them at least 3 characters long.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Literal, NamedTuple, cast

import boto3
from botocore.config import Config

from local.dynamodb_local import DynamoDBLocal, ensure_installed, start_dynamodb_local
from local.embedded import EmbeddedStore, start_moto_server

StoreKind = Literal["moto", "dynamodb-local"]
STORE_KINDS: tuple[StoreKind, ...] = ("moto", "dynamodb-local")
STORE_ENV = "USAGE_TEST_STORE"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}

_lock = threading.Lock()
_running: dict[StoreKind, tuple[EmbeddedStore | DynamoDBLocal, int]] = {}


def store_kind() -> StoreKind:
    kind = os.environ.get(STORE_ENV, "moto") or "moto"
    if kind not in STORE_KINDS:
        raise ValueError(f"{STORE_ENV}={kind!r}: expected one of {', '.join(STORE_KINDS)}")
    return cast(StoreKind, kind)


@contextmanager
def store_endpoint(kind: StoreKind | None = None) -> Iterator[str]:
    """The endpoint URL of a running store of `kind` (default: from USAGE_TEST_STORE), stopped after the last user."""
    kind = kind or store_kind()
    with _lock:
        store, users = _running.get(kind) or (_start(kind), 0)
        _running[kind] = (store, users + 1)
    try:
        yield store.endpoint
    finally:
        with _lock:
            store, users = _running.pop(kind)
            if users > 1:
                _running[kind] = (store, users - 1)
            else:
                store.stop()


def _start(kind: StoreKind) -> EmbeddedStore | DynamoDBLocal:
    if kind == "moto":
        return start_moto_server()
    return start_dynamodb_local(jar=ensure_installed())


class Clients(NamedTuple):
    dynamodb: Any
    streams: Any


def make_clients(endpoint: str) -> Clients:
    """boto3 DynamoDB and DynamoDB Streams clients for `endpoint`, with dummy credentials, in us-east-1."""
    options: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "config": Config(retries={"max_attempts": 3, "mode": "standard"}),
        **CREDENTIALS,
    }
    return Clients(boto3.client("dynamodb", **options), boto3.client("dynamodbstreams", **options))


def recreate_tables(client: Any, settings: Any) -> None:
    """The application's tables (``infra.tables``) dropped and created again, empty.

    The suite runs this before each test on moto (``tests/conftest.py``): moto's TransactWriteItems deep-copies
    each table it touches once per item of the transaction, so its cost grows with everything the session has
    written; with fresh tables it stays at the size of one test's data. DynamoDB Local needs no such help."""
    from infra.tables import TABLES, ensure_tables

    for table in TABLES:
        with suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=table(settings)["TableName"])
    ensure_tables(client, settings)


def unique_name(prefix: str) -> str:
    """A table name no other test of the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
