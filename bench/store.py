"""The store every benchmark of one `make bench` run shares: Amazon DynamoDB Local unless one is named.

A store in another process (a JVM) is where our own cost can be measured apart from the store's; the embedded
moto server (``USAGE_BENCH_STORE=moto``) spends most of a run in moto itself.
"""

from __future__ import annotations

import os
from typing import Any

_store: Any = None
STORES = ("dynamodb-local", "moto")


def ensure_store() -> str:
    """AWS_ENDPOINT_URL_DYNAMODB when set; else USAGE_BENCH_STORE: `dynamodb-local` (default) or `moto`."""
    global _store
    kind = os.environ.get("USAGE_BENCH_STORE", "").strip() or STORES[0]
    if kind not in STORES:
        raise SystemExit(f"USAGE_BENCH_STORE={kind!r}: expected one of {', '.join(STORES)}")
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") and kind == "dynamodb-local":
        from local.dynamodb_local import start_dynamodb_local

        _store = start_dynamodb_local()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = _store.endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODBSTREAMS"] = _store.endpoint
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        from local.embedded import start_moto_server

        _store = start_moto_server()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = _store.endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODBSTREAMS"] = _store.endpoint
        os.environ.setdefault("AWS_ENDPOINT_URL_S3", _store.endpoint)
    from bench import counting

    counting.install()
    return os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
