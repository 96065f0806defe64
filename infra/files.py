"""The files bucket: object keys of bulk usage files and their reports, the S3 client, presigned URLs.

An upload's object is ``{INGEST_PREFIX}{tenant}/{upload id}/{file name}`` (the tenant from the API key, never
from input); its report is ``{INGEST_REPORT_PREFIX}{tenant}/{upload id}/{file name}.report.csv``
(functions/ingest/handler.py writes it). Locally ``AWS_ENDPOINT_URL_S3`` names the embedded store's S3 and
URLs are path-style (``http://127.0.0.1:port/bucket/key``); on AWS they are virtual-hosted and SigV4-signed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.config import Config

from infra.dynamo import cached_client
from infra.settings import Settings, get_settings

_AWS_CONFIG = Config(signature_version="s3v4", retries={"max_attempts": 8, "mode": "standard"})
_LOCAL_CONFIG = _AWS_CONFIG.merge(Config(s3={"addressing_style": "path"}))


def s3_client(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    return cached_client("s3", s.region, s.s3_endpoint, _LOCAL_CONFIG if s.s3_endpoint else _AWS_CONFIG)


def upload_key(settings: Settings, tenant: str, upload_id: str, file_name: str) -> str:
    return f"{settings.ingest_prefix}{tenant}/{upload_id}/{file_name}"


def report_key(settings: Settings, object_key: str) -> str:
    """Where the ingest function writes the report of ``object_key`` (an object under the ingest prefix)."""
    return f"{settings.ingest_report_prefix}{object_key.removeprefix(settings.ingest_prefix)}.report.csv"


def upload_of(settings: Settings, object_key: str) -> tuple[str, str] | None:
    """(tenant, upload id) of an object uploaded through createUsageUpload, or None for any other key."""
    if not object_key.startswith(settings.ingest_prefix):
        return None
    parts = object_key.removeprefix(settings.ingest_prefix).split("/")
    return (parts[0], parts[1]) if len(parts) == 3 and all(parts) else None


def presign_put(key: str, content_type: str, lifetime: timedelta, settings: Settings | None = None) -> str:
    """A URL that accepts one ``PUT`` of ``key`` (with this Content-Type header) until ``lifetime`` has passed."""
    s = settings or get_settings()
    return str(s3_client(s).generate_presigned_url(
        "put_object", Params={"Bucket": s.files_bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=int(lifetime.total_seconds()), HttpMethod="PUT"))


def presign_get(key: str, lifetime: timedelta, settings: Settings | None = None) -> str:
    s = settings or get_settings()
    return str(s3_client(s).generate_presigned_url(
        "get_object", Params={"Bucket": s.files_bucket, "Key": key}, ExpiresIn=int(lifetime.total_seconds())))


#: CORS of the files bucket, for uploads from a browser (template.yaml's FilesBucket says the same)
CORS_RULES = [{"AllowedOrigins": ["*"], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"],
               "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]


def ensure_bucket(settings: Settings | None = None) -> str:
    """Create the files bucket (with its CORS rules) if missing: what `make serve` does; returns its name."""
    s = settings or get_settings()
    client = s3_client(s)
    try:
        client.head_bucket(Bucket=s.files_bucket)
    except client.exceptions.ClientError:
        options = {} if s.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": s.region}}
        client.create_bucket(Bucket=s.files_bucket, **options)
    client.put_bucket_cors(Bucket=s.files_bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    return s.files_bucket
