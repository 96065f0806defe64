"""Typed settings, read lazily from the environment (never at import time). Every variable is in the README."""

from __future__ import annotations

import os
from functools import lru_cache

from core.values import immutable


@immutable
class Settings:
    region: str
    catalog_table: str
    accounts_table: str
    usage_table: str
    dynamodb_endpoint: str | None
    streams_endpoint: str | None
    host: str
    port: int
    dev_api_key: str | None
    max_query_depth: int
    max_aliases: int
    max_body_bytes: int
    #: usage summaries (rating and period close); see infra/README.md "Rating and summaries"
    summaries_table: str = "usage-summaries"
    #: bulk usage files (functions/ingest): objects under this prefix are ingested, as {prefix}{tenant}/{name}
    ingest_prefix: str = "incoming/"
    #: where the per-row report of {ingest_prefix}{path} is written: {report prefix}{path}.report.csv
    ingest_report_prefix: str = "reports/"
    #: the bucket of bulk usage files: createUsageUpload presigns uploads into it (make serve creates it locally)
    files_bucket: str = "usage-files"
    #: S3 endpoint (AWS_ENDPOINT_URL_S3: the embedded store locally); None: AWS
    s3_endpoint: str | None = None
    #: fields a document may select once its fragments are expanded (graphql_api/limits.py)
    max_selections: int = 1000
    #: introspection and "did you mean" suggestions for non-ADMIN keys (ADMIN keys always have them)
    introspection: bool = True
    #: how long a process trusts an API key lookup: a revoked key stops working within this time
    key_cache_seconds: float = 5.0
    #: a request body not fully received within this many seconds is refused (HTTP 408)
    body_read_timeout_seconds: float = 10.0
    #: reconciliation reports usage records still NEW this long after they were received (or last rated)
    stale_new_after_s: int = 900
    #: the stream functions' on-failure queues, whose depth reconciliation reports (empty: not checked)
    stream_failure_queue_urls: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        endpoint = e.get("AWS_ENDPOINT_URL_DYNAMODB") or None
        return cls(
            region=e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or "us-east-1",
            catalog_table=e.get("CATALOG_TABLE", "usage-catalog"),
            accounts_table=e.get("ACCOUNTS_TABLE", "usage-accounts"),
            usage_table=e.get("USAGE_TABLE", "usage-records"),
            dynamodb_endpoint=endpoint,
            streams_endpoint=e.get("AWS_ENDPOINT_URL_DYNAMODBSTREAMS") or endpoint,
            host=e.get("HOST", "127.0.0.1"),
            port=int(e.get("PORT", "8000")),
            dev_api_key=e.get("USAGE_DEV_API_KEY") or None,
            max_query_depth=int(e.get("GRAPHQL_MAX_DEPTH", "12")),
            max_aliases=int(e.get("GRAPHQL_MAX_ALIASES", "30")),
            max_body_bytes=int(e.get("GRAPHQL_MAX_BODY_BYTES", str(2 * 1024 * 1024))),
            summaries_table=e.get("SUMMARIES_TABLE", "usage-summaries"),
            ingest_prefix=e.get("INGEST_PREFIX", "incoming/"),
            ingest_report_prefix=e.get("INGEST_REPORT_PREFIX", "reports/"),
            files_bucket=e.get("FILES_BUCKET") or "usage-files",
            s3_endpoint=e.get("AWS_ENDPOINT_URL_S3") or None,
            max_selections=int(e.get("GRAPHQL_MAX_SELECTIONS", "1000")),
            introspection=e.get("GRAPHQL_INTROSPECTION", "on").strip().lower() not in ("off", "false", "0", "no"),
            key_cache_seconds=float(e.get("API_KEY_CACHE_SECONDS", "5")),
            body_read_timeout_seconds=float(e.get("GRAPHQL_BODY_READ_TIMEOUT_SECONDS", "10")),
            stale_new_after_s=int(e.get("USAGE_STALE_NEW_AFTER_S", "900")),
            stream_failure_queue_urls=tuple(u.strip() for u in e.get("STREAM_FAILURE_QUEUE_URLS", "").split(",")
                                            if u.strip()),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    get_settings.cache_clear()
