"""Ingest a usage file dropped into S3 (ObjectCreated), and write its per-row report (functions/ingest/bulk.py).

Object keys: ``{INGEST_PREFIX}{tenant}/{name}.csv|.jsonl|.ndjson`` (optionally ``.gz``); the tenant is the first
path segment — the bucket policy lets each partner write under its own prefix only. The report of
``{INGEST_PREFIX}{path}`` is written to ``{INGEST_REPORT_PREFIX}{path}.report.csv`` (outside the notification's
prefix, so a report never triggers the function; keys under the report prefix are ignored anyway) with the
source object's ETag and the totals as metadata.

An object uploaded through ``createUsageUpload`` (``{INGEST_PREFIX}{tenant}/{upload id}/{name}``) also updates
its upload (infra/uploads_repo.py): PROCESSING when the function starts on it, then COMPLETE with the totals and
the report's key, or FAILED when the file cannot be read at all. Other objects have no upload; nothing changes.

Idempotent: S3 may deliver an event twice, and Lambda retries a failed invocation. A report carrying the
object's ETag means the object was ingested already: the event is acknowledged without reading the object.
Otherwise the object is (re)read — exactly the version the event names (``IfMatch``) — and rows already
written by an earlier, interrupted run come out ACCEPTED again (their records carry this row as their source),
so the report is the same as an uninterrupted run's.

Environment: CATALOG_TABLE, USAGE_TABLE, INGEST_PREFIX, INGEST_REPORT_PREFIX (and the standard AWS variables,
``AWS_ENDPOINT_URL_S3`` locally).
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from core.ingestion import Ingestion
from core.uploads import UploadStatus
from functions.ingest.bulk import REPORT_HEADER, Totals, byte_lines, ingest_lines
from functions.ingest.rows import FileFormat
from infra.bootstrap import connect
from infra.files import report_key, s3_client, upload_of
from infra.observability import logger, observed, publish
from infra.settings import Settings
from infra.uploads_repo import UploadsRepository
from infra.usage_repo import usage_ingestion

FUNCTION_NAME = "ingest"
SPOOL_BYTES = 8 * 1024 * 1024
_state: dict[str, Any] = {}


def ready() -> tuple[Settings, Any]:
    """Settings and the S3 client, once per container (cold start), never at import time."""
    if not _state:
        settings = connect(create_tables=False)
        _state["settings"] = settings
        _state["s3"] = s3_client(settings)
    return _state["settings"], _state["s3"]


@observed
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
    publish(FUNCTION_NAME, metrics_of(results))
    return {"objects": results}


def metrics_of(results: list[dict[str, Any]]) -> dict[str, int]:
    """Rows of the files ingested now (a redelivered event counts nothing again), and the files refused."""
    ingested = [r for r in results if r["status"] == "ingested"]
    return {"RecordsAccepted": sum(r["accepted"] for r in ingested),
            "RecordsDuplicated": sum(r["duplicates"] for r in ingested),
            "RecordsRejected": sum(r["rejected"] for r in ingested),
            "FilesIngested": len(ingested), "FilesRefused": sum(r["status"] == "refused" for r in results)}


def process_object(s3: Any, bucket: str, key: str, etag: str | None, settings: Settings,
                   ingestion_of: Callable[[str], Ingestion] = usage_ingestion) -> dict[str, Any]:
    """Ingest one object and write its report; what happened, as a dict (status, key, report, totals)."""
    base: dict[str, Any] = {"bucket": bucket, "key": key}
    if key.startswith(settings.ingest_report_prefix):
        return {**base, "status": "skipped", "reason": "a report"}
    if not key.startswith(settings.ingest_prefix):
        return {**base, "status": "skipped", "reason": f"outside {settings.ingest_prefix}"}
    target = report_key(settings, key)
    tenant, _, name = key.removeprefix(settings.ingest_prefix).partition("/")
    upload = _Upload.of(key, settings)
    file_format = FileFormat.of(name)
    if not tenant or not name or file_format is None:
        problem = ("the object key must be {prefix}{tenant}/{name}" if not tenant or not name else
                   "the file type is not supported: use .csv, .jsonl or .ndjson (optionally .gz)")
        _put_report(s3, bucket, target, _refusal(problem), etag, Totals(rows=0))
        upload.finished(UploadStatus.FAILED, target, Totals(rows=0).as_dict(), problem)
        return {**base, "status": "refused", "reason": problem, "report": target}
    done = _existing_report(s3, bucket, target)
    if etag is not None and done is not None and done.get("source-etag") == etag:
        counts = {k: int(v) for k, v in done.items() if k in ("rows", "accepted", "duplicates", "rejected")}
        upload.finished(UploadStatus.COMPLETE, target, counts)  # a redelivery: what the first run said
        return {**base, "status": "already ingested", "report": target, **counts}
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "404", "412"):
            # a newer version replaced it (that version has its own event), or it was deleted meanwhile
            return {**base, "status": "skipped", "reason": f"the object changed meanwhile ({code})"}
        raise
    etag = etag or str(body.get("ETag", "")).strip('"')
    upload.started()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        try:
            totals = ingest_lines(byte_lines(body["Body"], compressed=name.lower().endswith(".gz")), file_format,
                                  ingestion_of(tenant), f"s3://{bucket}/{key}@{etag}", text)
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            # the same bytes fail the same way on every retry: say so once (rows of batches before stay stored)
            problem = f"the file is not valid gzip: {exc}"
            _put_report(s3, bucket, target, _refusal(problem), etag, Totals(rows=0))
            upload.finished(UploadStatus.FAILED, target, Totals(rows=0).as_dict(), problem)
            return {**base, "status": "refused", "reason": problem, "report": target}
        text.flush()
        text.detach()  # the spool stays open for the upload
        spool.seek(0)
        _put_report(s3, bucket, target, spool, etag, totals)
    upload.finished(UploadStatus.COMPLETE, target, totals.as_dict())
    return {**base, "status": "ingested", "tenant": tenant, "report": target, **totals.as_dict()}


@dataclass
class _Upload:
    """The upload an object belongs to (createUsageUpload), or none: then its updates do nothing."""

    repository: UploadsRepository | None
    upload_id: str = ""

    @classmethod
    def of(cls, key: str, settings: Settings) -> _Upload:
        found = upload_of(settings, key)
        return cls(UploadsRepository(found[0], settings=settings), found[1]) if found else cls(None)

    def started(self) -> None:
        if self.repository is not None:
            self.repository.started(self.upload_id)

    def finished(self, status: UploadStatus, report: str, totals: dict[str, int], error: str | None = None) -> None:
        if self.repository is not None:
            self.repository.finished(self.upload_id, status, report, totals, error)


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
