"""boto3 clients, built lazily from Settings (never at import time)."""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore
from botocore.config import Config

from infra.dynamo_kit import keep_items_raw, send_as_built
from infra.settings import Settings, get_settings

#: ``user_agent`` given: botocore then sends it as is instead of composing its User-Agent from a dozen sanitized
#: components on every request (~15 % of the CPU of a small PutItem, which ingestion sends one per record).
#: botocore's standard retry mode: this many retries after the first attempt. Read this, not
#: ``CLIENT_CONFIG.retries``: botocore rewrites that dict when it makes a client (``max_attempts`` becomes
#: ``total_max_attempts``), so what it holds depends on whether a client was made already.
MAX_RETRIES = 8
CLIENT_CONFIG = Config(retries={"max_attempts": MAX_RETRIES, "mode": "standard"}, max_pool_connections=32,
                       connect_timeout=5, read_timeout=30,
                       user_agent=f"usage-backend Botocore/{botocore.__version__} Python/{platform.python_version()}")


_CREATING = threading.Lock()
_clients: dict[tuple[str, str, str | None, Config], Any] = {}
#: Called with every client as it is made (``bench.counting`` registers its botocore event handlers here).
CLIENT_HOOKS: list[Callable[[str, Any], None]] = []


def cached_client(service: str, region: str, endpoint: str | None, config: Config = CLIENT_CONFIG) -> Any:
    """One client per service, endpoint and config per process, made under a lock: rating's first batch asks from
    eight threads at once, and a cache alone let each of them build its own (~0.2 s of CPU apiece)."""
    key = (service, region, endpoint, config)
    client = _clients.get(key)
    if client is None:
        with _CREATING:
            client = _clients.get(key)
            if client is None:
                client = boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint,
                                                        config=config)
                if service == "dynamodb":
                    keep_items_raw(client)  # items as the wire has them: no model walk over every value
                    if not config.parameter_validation:
                        send_as_built(client)  # writes as built: no model walk over every value either
                for hook in CLIENT_HOOKS:
                    hook(service, client)
                _clients[key] = client
    return client


def dynamodb_client(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    return cached_client("dynamodb", s.region, s.dynamodb_endpoint)


#: For the bulk writes whose requests the project builds itself (usage inserts, rating's transactions): botocore's
#: client-side parameter validation costs more than anything else in building a 100-item transaction, and
#: DynamoDB validates every request anyway.
BULK_WRITER_CONFIG = CLIENT_CONFIG.merge(Config(parameter_validation=False))


def bulk_writer_client(settings: Settings | None = None) -> Any:
    """The client of the writes the project builds itself, sent as built (``infra.dynamo_kit.send_as_built``)."""
    s = settings or get_settings()
    return cached_client("dynamodb", s.region, s.dynamodb_endpoint, BULK_WRITER_CONFIG)


def streams_client(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    return cached_client("dynamodbstreams", s.region, s.streams_endpoint)


def reset_clients() -> None:
    with _CREATING:
        _clients.clear()
