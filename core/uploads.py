"""Usage uploads: a bulk usage file sent through a presigned URL (``createUsageUpload``), then ingested by the
same code as a file dropped in the bucket; the upload records how that went (``usageUpload``).

PENDING (URL handed out) → PROCESSING (the ingest function started on the object) → COMPLETE (every row has a
report line: accepted, duplicates, rejected) or FAILED (the file could not be read at all: wrong type, bad key).
A file uploaded again to the same URL (a new object version) is ingested again: PROCESSING, then COMPLETE.
An upload still PENDING once its URL has expired (and ``ARRIVAL_GRACE`` more has passed for the bucket's
notification of a file sent at the last moment) is shown EXPIRED (``as_of``): no file came and none can come
through that URL; ask for a new one. EXPIRED is how a read shows it, not something stored: should a notification
still arrive, the ingest function moves the upload on as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import Collector, ErrorCode

#: the file types the ingest function reads (functions/ingest/rows.py: FileFormat), optionally gzip-compressed
SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".ndjson")
MAX_FILE_NAME = 200
#: how long a presigned upload URL (and a report link) stays valid
URL_LIFETIME = timedelta(minutes=15)
#: how long after its URL expired a PENDING upload is still waited for (a PUT sent at the last moment, then the
#: bucket's notification and the ingest function starting)
ARRIVAL_GRACE = timedelta(minutes=5)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+\"-]+)*$")


class UploadStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    #: never stored: a PENDING upload whose URL expired with no file (``as_of``)
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class UsageUpload:
    tenant: str
    id: str
    file_name: str
    content_type: str
    status: UploadStatus
    created_at: datetime
    expires_at: datetime
    rows: int | None = None
    accepted: int | None = None
    duplicates: int | None = None
    rejected: int | None = None
    report_key: str | None = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in (UploadStatus.COMPLETE, UploadStatus.FAILED)

    def as_of(self, now: datetime) -> UsageUpload:
        """The upload as a reader sees it at ``now``: EXPIRED when it is still PENDING past its URL's expiry and
        ``ARRIVAL_GRACE``; otherwise as stored."""
        if self.status == UploadStatus.PENDING and now >= self.expires_at + ARRIVAL_GRACE:
            return replace(self, status=UploadStatus.EXPIRED)
        return self


def default_content_type(file_name: str) -> str:
    lower = file_name.lower()
    if lower.endswith(".gz"):
        return "application/gzip"
    return "text/csv" if lower.endswith(".csv") else "application/x-ndjson"


def new_upload(tenant: str, upload_id: str, file_name: str, content_type: str | None, now: datetime) -> UsageUpload:
    """A PENDING upload of ``file_name``; raises DomainError (fields ``fileName``, ``contentType``) on bad input."""
    problems = Collector()
    name = file_name.strip()
    if not name:
        problems.add(ErrorCode.REQUIRED, "a file name is required", "fileName")
    elif len(name) > MAX_FILE_NAME:
        problems.add(ErrorCode.INVALID_VALUE, f"the file name is longer than {MAX_FILE_NAME} characters", "fileName")
    elif _UNSAFE.search(name) or name in (".", ".."):
        problems.add(ErrorCode.INVALID_VALUE, "the file name must not contain '/', '\\' or control characters",
                     "fileName")
    elif not name.lower().removesuffix(".gz").endswith(SUPPORTED_SUFFIXES):
        problems.add(ErrorCode.INVALID_VALUE, "the file type is not supported: use .csv, .jsonl or .ndjson "
                     "(optionally .gz)", "fileName")
    kind = (content_type or "").strip() or default_content_type(name)
    if len(kind) > 100 or not _CONTENT_TYPE.match(kind):
        problems.add(ErrorCode.INVALID_VALUE, f"'{kind[:100]}' is not a media type (e.g. text/csv)", "contentType")
    problems.raise_if_any()
    return UsageUpload(tenant, upload_id, name, kind, UploadStatus.PENDING, now, now + URL_LIFETIME)
