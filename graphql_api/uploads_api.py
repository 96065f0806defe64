"""Bulk usage files through presigned URLs: createUsageUpload (PARTNER, ADMIN) and usageUpload(id) (any key).

The file goes straight to S3 with a presigned PUT to ``{INGEST_PREFIX}{tenant}/{upload id}/{file name}`` — the
tenant is the key's — and the bucket's notification runs the ingest function on it (``make serve``: its local
trigger), which updates the upload. Parse, call, map; opening and finding an upload is infra/usage_uploads.py.
"""

import asyncio

import strawberry

from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanRead, CanRecordUsage
from graphql_api.types.uploads import CreateUsageUploadPayload, HttpHeader, UsageUpload, now, upload_id_of


@strawberry.input(description="The file to upload: a .csv, .jsonl or .ndjson name (optionally .gz).")
class CreateUsageUploadInput:
    file_name: str
    content_type: str | None = strawberry.field(
        default=None, description="The Content-Type the upload will send (default: from the file name).")


def _create(info: Info, data: CreateUsageUploadInput) -> CreateUsageUploadPayload:
    from infra.usage_uploads import open_upload  # storage and S3 clients: on first use

    opened = open_upload(info.context.tenant, data.file_name, data.content_type, now())
    upload = opened.upload
    return CreateUsageUploadPayload(upload=UsageUpload.from_domain(upload), url=opened.url, method="PUT",
                                    headers=[HttpHeader(name="Content-Type", value=upload.content_type)],
                                    expires_at=upload.expires_at)


def _get(info: Info, upload_id: str) -> UsageUpload | None:
    from infra.usage_uploads import find_upload

    found = find_upload(info.context.tenant, upload_id, now())
    return UsageUpload.from_domain(found.upload, found.report_url) if found else None


@strawberry.type
class UploadsQuery:
    @strawberry.field(permission_classes=[CanRead], description="An upload of the caller's tenant, or null.")
    async def usage_upload(self, info: Info, id: strawberry.ID) -> UsageUpload | None:
        upload_id = upload_id_of(id)
        return await asyncio.to_thread(_get, info, upload_id) if upload_id else None


@strawberry.type
class UploadsMutation:
    @mutation(permission_classes=[CanRecordUsage],
                         description="A presigned URL for one usage file (CSV or JSON Lines, the fields of "
                                     "recordUsage): PUT the file there, then follow usageUpload(id) to its report.")
    async def create_usage_upload(self, info: Info, input: CreateUsageUploadInput) -> CreateUsageUploadPayload:
        return await asyncio.to_thread(_create, info, input)
