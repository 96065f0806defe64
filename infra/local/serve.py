"""`make serve`: the whole service on one machine.

Starts an embedded DynamoDB (moto's server, in process) unless AWS_ENDPOINT_URL_DYNAMODB names one, creates
missing tables, seeds the demo catalog for tenant `dev`, makes sure USAGE_DEV_API_KEY (or a fresh key) is an
ADMIN key of `dev`, runs the stream processing in-process, creates the files bucket with its ingest trigger
(``infra.local.files``), writes where it all is to ``.cache/serve.json`` (``infra.local.state``: the ingest
command finds it there), and serves /graphql and /health on HOST:PORT.
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
    # the functions run in this process: no X-Ray daemon to trace to, no CloudWatch to read their metrics
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "usage-management")
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


def start_files_trigger(stack: ExitStack) -> None:
    """The files bucket in the embedded store's S3 (a moto server of its own beside an external DynamoDB) and the
    trigger that runs the ingest function on each file dropped under INGEST_PREFIX."""
    from infra.local.files import start_files
    from infra.settings import get_settings, reset_settings

    if not os.environ.get("AWS_ENDPOINT_URL_S3"):
        from infra.local.embedded import start_moto_server

        os.environ["AWS_ENDPOINT_URL_S3"] = stack.enter_context(start_moto_server()).endpoint
        reset_settings()
    settings = get_settings()
    trigger = start_files(settings)
    stack.callback(trigger.stop)
    print(f"files: s3://{settings.files_bucket}/{settings.ingest_prefix}{{tenant}}/… at {settings.s3_endpoint}, "
          "ingested as they arrive", flush=True)


def write_state(stack: ExitStack) -> None:
    from infra.local import state
    from infra.settings import get_settings

    s = get_settings()
    base = f"http://{s.host}:{s.port}"
    state.write({"graphql": f"{base}/graphql", "health": f"{base}/health", "tenant": DEV_TENANT,
                 "region": s.region, "dynamodb": s.dynamodb_endpoint, "dynamodbstreams": s.streams_endpoint,
                 "s3": s.s3_endpoint, "bucket": s.files_bucket, "tables": {
                     "CATALOG_TABLE": s.catalog_table, "ACCOUNTS_TABLE": s.accounts_table,
                     "USAGE_TABLE": s.usage_table, "SUMMARIES_TABLE": s.summaries_table}})
    stack.callback(state.remove)


def main() -> int:
    import signal

    import uvicorn

    # SIGTERM ends serve like Ctrl-C does: uvicorn re-raises the signal once it has shut down, and this handler
    # turns it into SystemExit, so the ExitStack below stops the pollers and trigger and removes the state file
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ExitStack() as stack:
        start_store(stack)
        key = prepare()
        start_stream_processing(stack)
        start_files_trigger(stack)
        write_state(stack)
        from graphql_api.app import create_app
        from infra.settings import get_settings

        settings = get_settings()
        print(f"\nUSAGE_DEV_API_KEY={key}\nGraphQL: http://{settings.host}:{settings.port}/graphql "
              f"(GraphiQL in a browser; send 'Authorization: Bearer <key>')\n", flush=True)
        uvicorn.run(create_app(), host=settings.host, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
