"""Ingest a usage file dropped into S3 (ObjectCreated), and write its per-row report (functions/ingest/bulk.py).

Object keys: ``{INGEST_PREFIX}{tenant}/{name}.csv|.jsonl|.ndjson`` (optionally ``.gz``); the tenant is the first
path segment — the bucket policy lets each partner write under its own prefix only. The report of
``{INGEST_PREFIX}{path}`` is written to ``{INGEST_REPORT_PREFIX}{path}.report.csv`` (outside the notification's
prefix, so a report never triggers the function; keys under the report prefix are ignored anyway) with the
source object's ETag and the totals as metadata.

Idempotent: S3 may deliver an event twice, and Lambda retries a failed invocation. A report carrying the
object's ETag means the object was ingested already: the event is acknowledged without reading the object.
Otherwise the object is (re)read — exactly the version the event names (``IfMatch``) — and rows already
written by an earlier, interrupted run come out ACCEPTED again (their records carry this row as their source),
so the report is the same as an uninterrupted run's.

Environment: CATALOG_TABLE, USAGE_TABLE, INGEST_PREFIX, INGEST_REPORT_PREFIX (and the standard AWS variables,
``AWS_ENDPOINT_URL_S3`` locally).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from core.ingestion import Ingestion
from functions.ingest.bulk import REPORT_HEADER, Totals, byte_lines, ingest_lines
from functions.ingest.rows import FileFormat
from infra.bootstrap import connect
from infra.settings import Settings
from infra.usage_repo import usage_ingestion

logger = Logger(service="usage-ingest")
SPOOL_BYTES = 8 * 1024 * 1024
_state: dict[str, Any] = {}


def ready() -> tuple[Settings, Any]:
    """Settings and the S3 client, once per container (cold start), never at import time."""
    if not _state:
        import boto3

        settings = connect(create_tables=False)
        _state["settings"] = settings
        _state["s3"] = boto3.session.Session().client("s3", region_name=settings.region)
    return _state["settings"], _state["s3"]


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, s3 = ready()
    results = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        result = process_object(s3, record["s3"]["bucket"]["name"], unquote_plus(obj["key"]),
                                str(obj.get("eTag") or "").strip('"') or None, settings)
        logger.info("usage file", extra=result)
        results.append(result)
    return {"objects": results}


def report_key(key: str, settings: Settings) -> str:
    return f"{settings.ingest_report_prefix}{key.removeprefix(settings.ingest_prefix)}.report.csv"


def process_object(s3: Any, bucket: str, key: str, etag: str | None, settings: Settings,
                   ingestion_of: Callable[[str], Ingestion] = usage_ingestion) -> dict[str, Any]:
    """Ingest one object and write its report; what happened, as a dict (status, key, report, totals)."""
    base: dict[str, Any] = {"bucket": bucket, "key": key}
    if key.startswith(settings.ingest_report_prefix):
        return {**base, "status": "skipped", "reason": "a report"}
    if not key.startswith(settings.ingest_prefix):
        return {**base, "status": "skipped", "reason": f"outside {settings.ingest_prefix}"}
    target = report_key(key, settings)
    tenant, _, name = key.removeprefix(settings.ingest_prefix).partition("/")
    file_format = FileFormat.of(name)
    if not tenant or not name or file_format is None:
        problem = ("the object key must be {prefix}{tenant}/{name}" if not tenant or not name else
                   "the file type is not supported: use .csv, .jsonl or .ndjson (optionally .gz)")
        _put_report(s3, bucket, target, _refusal(problem), etag, Totals(rows=0))
        return {**base, "status": "refused", "reason": problem, "report": target}
    done = _existing_report(s3, bucket, target)
    if etag is not None and done is not None and done.get("source-etag") == etag:
        return {**base, "status": "already ingested", "report": target,
                **{k: int(v) for k, v in done.items() if k in ("rows", "accepted", "duplicates", "rejected")}}
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "404", "412"):
            # a newer version replaced it (that version has its own event), or it was deleted meanwhile
            return {**base, "status": "skipped", "reason": f"the object changed meanwhile ({code})"}
        raise
    etag = etag or str(body.get("ETag", "")).strip('"')
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        totals = ingest_lines(byte_lines(body["Body"], compressed=name.lower().endswith(".gz")), file_format,
                              ingestion_of(tenant), f"s3://{bucket}/{key}@{etag}", text)
        text.flush()
        text.detach()  # the spool stays open for the upload
        spool.seek(0)
        _put_report(s3, bucket, target, spool, etag, totals)
    return {**base, "status": "ingested", "tenant": tenant, "report": target, **totals.as_dict()}


def _existing_report(s3: Any, bucket: str, key: str) -> dict[str, str] | None:
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _refusal(problem: str) -> io.BytesIO:
    text = io.StringIO()
    text.write(",".join(REPORT_HEADER) + "\n")
    text.write(f'0,,REJECTED,,INVALID_VALUE,"{problem}"\n')
    return io.BytesIO(text.getvalue().encode())


def _put_report(s3: Any, bucket: str, key: str, body: Any, etag: str | None, totals: Totals) -> None:
    metadata = {k: str(v) for k, v in totals.as_dict().items()}
    if etag:
        metadata["source-etag"] = etag
    s3.upload_fileobj(body, bucket, key, ExtraArgs={"ContentType": "text/csv", "Metadata": metadata})
