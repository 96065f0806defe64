"""boto3 clients and PynamoDB connection settings, built lazily from Settings (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from infra.settings import Settings, get_settings

CLIENT_CONFIG = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32,
                       connect_timeout=5, read_timeout=30)


@lru_cache(maxsize=8)
def _client(service: str, region: str, endpoint: str | None) -> Any:
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint, config=CLIENT_CONFIG)


def dynamodb_client(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    return _client("dynamodb", s.region, s.dynamodb_endpoint)


def streams_client(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    return _client("dynamodbstreams", s.region, s.streams_endpoint)


def reset_clients() -> None:
    _client.cache_clear()
