"""Bulk usage files through presigned URLs: createUsageUpload → PUT the file (httpx, like a partner's script or a
browser) → the files bucket's trigger runs the ingest function → usageUpload shows the counts and a report link.

S3 is moto's (the test store itself, or a moto server beside DynamoDB Local); the trigger is the one `make serve`
runs (local/files.py), polled here with ``poll_once`` instead of its thread.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from core.auth import Role
from core.uploads import ARRIVAL_GRACE
from functions.ingest import handler as ingest
from graphql_api import uploads_api
from infra.files import s3_client
from infra.settings import get_settings, reset_settings
from local.files import FilesTrigger, start_files
from tests.builders import active_usage_catalog
from tests.conftest import Api
from tests.stores import store_endpoint as running_store

HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime,endTime,dimensions"
CREATE = """mutation($input: CreateUsageUploadInput!) { createUsageUpload(input: $input) {
  upload { id status fileName } url method headers { name value } expiresAt errors { code message field } } }"""
STATUS = """query($id: ID!) { usageUpload(id: $id) { id status fileName rows accepted duplicates rejected error
  reportUrl finishedAt } }"""


@pytest.fixture
def files(store_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FilesTrigger]:
    """A files bucket of this test in moto's S3, and its trigger (not threaded)."""
    with running_store("moto") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setenv("FILES_BUCKET", f"files-{uuid.uuid4().hex[:12]}")
        monkeypatch.setattr(ingest, "_state", {})
        reset_settings()
        try:
            yield FilesTrigger(get_settings())
        finally:
            monkeypatch.undo()
            reset_settings()


def create_upload(api: Api, file_name: str, **extra: Any) -> dict[str, Any]:
    return api(CREATE, {"input": {"fileName": file_name, **extra}})["createUsageUpload"]  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_a_file_put_to_the_presigned_url_is_ingested_and_reported(api: Api, files: FilesTrigger,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # GIVEN a tenant with resources to record usage against, and the files bucket `make serve` creates
    active_usage_catalog(api.tenant)
    start_files(files.settings).stop()  # creates the bucket (with its CORS rules) as serve does
    cors = s3_client(files.settings).get_bucket_cors(Bucket=files.settings.files_bucket)["CORSRules"]
    assert {"PUT", "GET"} <= set(cors[0]["AllowedMethods"])
    partner = api.as_role(Role.PARTNER)
    # WHEN a partner asks for an upload
    created = create_upload(partner, "july usage.csv")
    assert created["errors"] == []
    upload = created["upload"]
    assert upload["status"] == "PENDING" and upload["fileName"] == "july usage.csv"
    assert created["method"] == "PUT" and f"/incoming/{api.tenant}/" in created["url"]
    assert partner(STATUS, {"id": upload["id"]})["usageUpload"]["reportUrl"] is None
    # AND PUTs a file with two good rows, a repeat and a bad quantity to the URL, with the headers given
    body = (f"{HEADER}\nu-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\nu-2,acme,TEXTS,5,,2026-07-02T00:00:00Z,,\n"
            f"u-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\nu-3,acme,DATA,-1,,2026-07-03T00:00:00Z,,\n")
    headers = {h["name"]: h["value"] for h in created["headers"]}
    assert headers == {"Content-Type": "text/csv"}
    put = httpx.put(created["url"], content=body.encode(), headers=headers, timeout=30)
    assert put.status_code == 200, put.text
    # AND the bucket's trigger delivers the ObjectCreated event to the ingest function
    capsys.readouterr()
    [answer] = files.poll_once()
    assert answer["objects"][0]["status"] == "ingested"
    # (and publishes the rows' outcomes as EMF metrics)
    [metrics] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [sum(metrics[name]) for name in ("RecordsAccepted", "RecordsDuplicated", "RecordsRejected",
                                            "FilesIngested")] == [2, 1, 1, 1]
    # THEN usageUpload shows the counts and a link to the report
    status = partner(STATUS, {"id": upload["id"]})["usageUpload"]
    assert (status["status"], status["rows"], status["accepted"], status["duplicates"], status["rejected"]) == (
        "COMPLETE", 4, 2, 1, 1)
    assert status["error"] is None and status["finishedAt"] is not None
    report = httpx.get(status["reportUrl"], timeout=30)
    assert report.status_code == 200
    lines = list(csv.DictReader(io.StringIO(report.text)))
    assert [(r["idempotencyKey"], r["outcome"]) for r in lines] == [
        ("u-1", "ACCEPTED"), ("u-2", "ACCEPTED"), ("u-1", "DUPLICATE"), ("u-3", "REJECTED")]
    assert lines[3]["errorCodes"] == "NEGATIVE_QUANTITY"
    # AND a second look at the bucket delivers nothing again; another tenant cannot see the upload
    assert files.poll_once() == []
    other = Api(api.client, f"t-{uuid.uuid4().hex[:12]}")
    assert other(STATUS, {"id": upload["id"]})["usageUpload"] is None


@pytest.mark.e2e
def test_a_file_that_cannot_be_read_fails_the_upload_with_a_reason(api: Api, files: FilesTrigger) -> None:
    # GIVEN an upload whose file turns out not to be gzip at all
    start_files(files.settings).stop()
    created = create_upload(api, "broken.csv.gz")
    put = httpx.put(created["url"], content=b"not gzip", timeout=30,
                    headers={h["name"]: h["value"] for h in created["headers"]})
    assert put.status_code == 200
    # WHEN the trigger runs the ingest function on it
    [answer] = files.poll_once()
    # THEN the upload is FAILED, says why, and links a report saying the same; nothing was retried
    assert answer["objects"][0]["status"] == "refused"
    status = api(STATUS, {"id": created["upload"]["id"]})["usageUpload"]
    assert status["status"] == "FAILED" and "gzip" in status["error"] and status["rows"] == 0
    assert "gzip" in httpx.get(status["reportUrl"], timeout=30).text
    assert files.failures == []


@pytest.mark.e2e
def test_an_upload_whose_url_expired_with_no_file_reads_expired(api: Api, files: FilesTrigger,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an upload whose file never came
    start_files(files.settings).stop()
    created = create_upload(api, "never sent.csv")
    expires = datetime.fromisoformat(created["expiresAt"].replace("Z", "+00:00"))
    assert api(STATUS, {"id": created["upload"]["id"]})["usageUpload"]["status"] == "PENDING"
    # WHEN it is read once its URL has expired and the grace for a last-moment file has passed
    monkeypatch.setattr(uploads_api, "now", lambda: expires + ARRIVAL_GRACE)
    status = api(STATUS, {"id": created["upload"]["id"]})["usageUpload"]
    # THEN it reads EXPIRED (ask for a new URL), with no counts and no report
    assert (status["status"], status["rows"], status["reportUrl"]) == ("EXPIRED", None, None)


@pytest.mark.e2e
@pytest.mark.parametrize(("file_name", "content_type", "field"), [
    ("usage.xlsx", None, "fileName"),
    ("../usage.csv", None, "fileName"),
    ("", None, "fileName"),
    ("usage.csv", "not a type", "contentType"),
])
def test_a_bad_file_name_or_type_is_a_typed_error(api: Api, files: FilesTrigger, file_name: str,
                                                  content_type: str | None, field: str) -> None:
    extra = {"contentType": content_type} if content_type else {}
    created = create_upload(api, file_name, **extra)
    assert created["upload"] is None and created["url"] is None
    assert [(e["field"], e["code"] in ("INVALID_VALUE", "REQUIRED")) for e in created["errors"]] == [(field, True)]


@pytest.mark.e2e
def test_a_viewer_cannot_create_an_upload(api: Api, files: FilesTrigger) -> None:
    answer = api.as_role(Role.VIEWER).raw(CREATE, {"input": {"fileName": "usage.csv"}}).json()
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
