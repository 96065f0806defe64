"""`make serve`: the whole service on one machine.

Starts an embedded DynamoDB (moto's server, in process) unless AWS_ENDPOINT_URL_DYNAMODB names one, creates
missing tables, seeds the demo catalog for tenant `dev`, makes sure USAGE_DEV_API_KEY (or a fresh key) is an
ADMIN key of `dev`, runs the stream processing in-process, and serves /graphql and /health on HOST:PORT.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any

DEV_TENANT = "dev"


def start_store(stack: ExitStack) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        print(f"store: {os.environ['AWS_ENDPOINT_URL_DYNAMODB']}", flush=True)
        return
    from infra.local.embedded import start_moto_server

    store = stack.enter_context(start_moto_server())
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = store.endpoint
    os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODBSTREAMS", store.endpoint)
    os.environ.setdefault("AWS_ENDPOINT_URL_S3", store.endpoint)
    print(f"store: embedded DynamoDB (moto) at {store.endpoint}", flush=True)


def prepare() -> str:
    """Tables, the dev tenant, its demo catalog and its key; returns the dev key."""
    from core.auth import Role
    from infra.apikeys import authenticate, create_key
    from infra.bootstrap import bootstrap_tenant, connect
    from infra.seed import seed_demo_catalog

    connect()
    bootstrap_tenant(DEV_TENANT)
    if seed_demo_catalog(DEV_TENANT):
        print("seeded the demo catalog (CELL-PLAN, TEXT-PACK) for tenant 'dev'", flush=True)
    key = os.environ.get("USAGE_DEV_API_KEY")
    if not key or authenticate(key) is None:
        key = create_key(DEV_TENANT, {Role.ADMIN}, "dev", key or None)
        os.environ["USAGE_DEV_API_KEY"] = key
    return key


def start_stream_processing(stack: ExitStack) -> None:
    try:
        from infra.local.pollers import start_pollers
    except ImportError:
        print("stream processing: not available in this build", flush=True)
        return
    from infra.settings import get_settings

    pollers: Any = start_pollers(get_settings())
    stack.callback(pollers.stop)
    print("stream processing: rate and summarize pollers running", flush=True)


def main() -> int:
    import uvicorn

    with ExitStack() as stack:
        start_store(stack)
        key = prepare()
        start_stream_processing(stack)
        from graphql_api.app import create_app
        from infra.settings import get_settings

        settings = get_settings()
        print(f"\nUSAGE_DEV_API_KEY={key}\nGraphQL: http://{settings.host}:{settings.port}/graphql "
              f"(GraphiQL in a browser; send 'Authorization: Bearer <key>')\n", flush=True)
        uvicorn.run(create_app(), host=settings.host, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
