"""Usage files through presigned URLs: open an upload (a new id, its presigned PUT, its PENDING record) and find one
with its report's presigned GET. ``graphql_api.uploads_api`` parses, calls one of these, and maps the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.uploads import URL_LIFETIME, UsageUpload, new_upload
from infra.files import presign_get, presign_put, upload_key
from infra.keys import new_ulid
from infra.settings import get_settings
from infra.uploads_repo import UploadsRepository


@dataclass(frozen=True, slots=True)
class OpenedUpload:
    upload: UsageUpload
    url: str  # the presigned PUT, valid for URL_LIFETIME


@dataclass(frozen=True, slots=True)
class FoundUpload:
    upload: UsageUpload
    report_url: str | None  # a presigned GET of the report once the upload finished with one


def open_upload(tenant: str, file_name: str, content_type: str | None, now: datetime) -> OpenedUpload:
    """A PENDING upload of the tenant under a new id, and where to PUT its file; DomainError on a bad name/type."""
    upload = new_upload(tenant, new_ulid(), file_name, content_type, now)
    settings = get_settings()
    url = presign_put(upload_key(settings, tenant, upload.id, upload.file_name), upload.content_type, URL_LIFETIME,
                      settings)
    UploadsRepository(tenant, settings=settings).create(upload)
    return OpenedUpload(upload, url)


def find_upload(tenant: str, upload_id: str, now: datetime) -> FoundUpload | None:
    """The upload as of ``now`` (EXPIRED when its URL expired with no file: ``UsageUpload.as_of``)."""
    stored = UploadsRepository(tenant).get(upload_id)
    if stored is None:
        return None
    upload = stored.as_of(now)
    report = presign_get(upload.report_key, URL_LIFETIME) if upload.finished and upload.report_key else None
    return FoundUpload(upload, report)
