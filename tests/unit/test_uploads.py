"""Usage uploads (core/uploads.py): which file names and media types an upload accepts, and its lifetime."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import DomainError
from core.uploads import ARRIVAL_GRACE, MAX_FILE_NAME, URL_LIFETIME, UploadStatus, new_upload

NOW = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(("name", "content_type"), [
    ("july.csv", "text/csv"), ("July Usage.CSV", "text/csv"), ("u.jsonl", "application/x-ndjson"),
    ("u.ndjson", "application/x-ndjson"), ("u.csv.gz", "application/gzip"), ("  padded.csv ", "text/csv"),
])
def test_a_supported_file_gets_a_pending_upload_with_a_default_media_type(name: str, content_type: str) -> None:
    upload = new_upload("acme", "U1", name, None, NOW)
    assert (upload.status, upload.file_name, upload.content_type) == (UploadStatus.PENDING, name.strip(), content_type)
    assert upload.expires_at == NOW + URL_LIFETIME and not upload.finished


@pytest.mark.parametrize("name", ["", "   ", "usage.xlsx", "usage.csv.zip", "a/b.csv", "..\\b.csv", "bad\n.csv",
                                  "x" * MAX_FILE_NAME + ".csv"])
def test_an_unusable_file_name_is_refused_on_the_file_name_field(name: str) -> None:
    with pytest.raises(DomainError) as refused:
        new_upload("acme", "U1", name, None, NOW)
    assert [d.field for d in refused.value.all_details()] == ["fileName"]


def test_a_media_type_is_kept_when_well_formed_and_refused_otherwise() -> None:
    assert new_upload("acme", "U1", "u.csv", "text/csv; charset=utf-8", NOW).content_type == "text/csv; charset=utf-8"
    with pytest.raises(DomainError) as refused:
        new_upload("acme", "U1", "u.exe", "text csv", NOW)
    assert [d.field for d in refused.value.all_details()] == ["fileName", "contentType"]


def test_a_pending_upload_reads_expired_once_its_url_and_the_grace_for_a_late_file_have_passed() -> None:
    upload = new_upload("acme", "U1", "july.csv", None, NOW)
    # GIVEN a PENDING upload WHEN read before its URL expires, or within the grace for a file sent at the last moment
    assert upload.as_of(NOW).status == UploadStatus.PENDING
    assert upload.as_of(NOW + URL_LIFETIME + ARRIVAL_GRACE - timedelta(seconds=1)).status == UploadStatus.PENDING
    # THEN it is waited for; once both have passed it reads EXPIRED, and nothing else about it changes
    expired = upload.as_of(NOW + URL_LIFETIME + ARRIVAL_GRACE)
    assert expired.status == UploadStatus.EXPIRED and replace(expired, status=UploadStatus.PENDING) == upload
    assert not expired.finished


@pytest.mark.parametrize("status", [UploadStatus.PROCESSING, UploadStatus.COMPLETE, UploadStatus.FAILED])
def test_an_upload_the_ingest_function_moved_on_never_reads_expired(status: UploadStatus) -> None:
    upload = replace(new_upload("acme", "U1", "july.csv", None, NOW), status=status)
    assert upload.as_of(NOW + timedelta(days=30)).status == status
