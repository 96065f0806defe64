"""The store every benchmark of one `make bench` run shares: an embedded moto server unless one is named."""

from __future__ import annotations

import os
from typing import Any

_store: Any = None


def ensure_store() -> str:
    """USAGE_BENCH_STORE=dynamodb-local runs the benchmarks on Amazon DynamoDB Local instead of moto."""
    global _store
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") and os.environ.get("USAGE_BENCH_STORE") == "dynamodb-local":
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
