"""GraphQL types of usage uploads (createUsageUpload / usageUpload), built ``from_domain``."""

from datetime import UTC, datetime

import strawberry

from core import uploads as up
from graphql_api.errors import UserError
from graphql_api.ids import from_global_id, to_global_id
from graphql_api.scalars import DateTime
from graphql_api.types.enums import UsageUploadStatus

KIND = "UsageUpload"


def upload_global_id(upload_id: str) -> strawberry.ID:
    return to_global_id(KIND, upload_id)


def upload_id_of(value: str) -> str | None:
    decoded = from_global_id(value, KIND)
    return decoded[1] if decoded else None


@strawberry.type(description="A bulk usage file sent through createUsageUpload, and how its ingestion went.")
class UsageUpload:
    id: strawberry.ID
    file_name: str
    content_type: str
    status: UsageUploadStatus
    created_at: DateTime
    expires_at: DateTime = strawberry.field(
        description="Until when the upload URL accepts the file.")
    finished_at: DateTime | None
    rows: int | None = strawberry.field(description="Rows read from the file (once COMPLETE or FAILED).")
    accepted: int | None
    duplicates: int | None
    rejected: int | None
    error: str | None = strawberry.field(description="Why a FAILED file could not be read.")
    report_url: str | None = strawberry.field(
        description="Once COMPLETE or FAILED: a link (valid 15 minutes) to the CSV report, one line per row: "
                    "line, idempotencyKey, outcome, recordId, errorCodes, errors.")

    @classmethod
    def from_domain(cls, upload: up.UsageUpload, report_url: str | None = None) -> "UsageUpload":
        return cls(id=upload_global_id(upload.id), file_name=upload.file_name, content_type=upload.content_type,
                   status=upload.status, created_at=upload.created_at, expires_at=upload.expires_at,
                   finished_at=upload.finished_at, rows=upload.rows, accepted=upload.accepted,
                   duplicates=upload.duplicates, rejected=upload.rejected, error=upload.error,
                   report_url=report_url)


@strawberry.type(description="An HTTP header the upload request must carry, exactly as given.")
class HttpHeader:
    name: str
    value: str


@strawberry.type(description="createUsageUpload: send the file with one HTTP request — `method` to `url` with "
                             "`headers` — before `expiresAt`; then follow `usageUpload(id)`.")
class CreateUsageUploadPayload:
    upload: UsageUpload | None = None
    url: str | None = None
    method: str | None = None
    headers: list[HttpHeader] = strawberry.field(default_factory=list)
    expires_at: DateTime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def now() -> datetime:
    return datetime.now(UTC)
