"""The ingest function on moto's S3 and the test store: CSV and JSON Lines files, one report line per row,
idempotent redelivery, streaming (the body is read as it is ingested), and the local command.

The 100,000-row file runs when USAGE_INGEST_ROWS=100000 is set (CI does it once); by default 5,000 rows prove
streaming and batching. `make bench` also ingests a 100,000-row file (bench/ingest.py).
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.usage import usage_record_id
from functions.ingest import handler as ingest
from functions.ingest.__main__ import main as ingest_command
from infra import dynamo_direct
from infra.settings import get_settings
from infra.usage_repo import UsageRepository
from local.lambda_context import LocalLambdaContext
from tests.builders import active_usage_catalog
from tests.stores import store_endpoint as running_store

EVENT = Path(__file__).resolve().parents[2] / "events" / "ingest-s3-put.json"
HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime,endTime,dimensions"


@pytest.fixture
def s3(store_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3: the test store itself, or a moto server beside DynamoDB Local."""
    with running_store("moto") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setattr(ingest, "_state", {})
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="usage-files-test")
        yield client


@pytest.fixture
def tenant_catalog(tenant: str) -> str:
    active_usage_catalog(tenant)
    return tenant


def put(s3: Any, key: str, body: bytes) -> str:
    return str(s3.put_object(Bucket="usage-files-test", Key=key, Body=body)["ETag"]).strip('"')


def event_for(key: str, etag: str) -> dict[str, Any]:
    """The `sam local generate-event s3 put` event of events/, pointed at our object."""
    event = copy.deepcopy(json.loads(EVENT.read_text()))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = "usage-files-test"
    record["s3"]["bucket"]["arn"] = "arn:aws:s3:::usage-files-test"
    record["s3"]["object"].update({"key": key.replace(" ", "+"), "eTag": etag})
    return event


def invoke(key: str, etag: str) -> dict[str, Any]:
    [result] = ingest.handler(event_for(key, etag), LocalLambdaContext("ingest"))["objects"]
    return result  # type: ignore[no-any-return]


def report_of(s3: Any, key: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    obj = s3.get_object(Bucket="usage-files-test", Key=key)
    return list(csv.DictReader(io.StringIO(obj["Body"].read().decode()))), obj["Metadata"]


def test_a_csv_file_is_ingested_with_a_report_line_per_row(s3: Any, tenant_catalog: str) -> None:
    tenant = tenant_catalog
    # GIVEN a CSV file with good rows, bad rows, a repeated key and an unreadable dimensions cell
    body = "\n".join([
        HEADER,
        'u-1,acme,DATA,1.5,GB,2026-07-01T00:00:00Z,,"{""region"": ""eu""}"',
        "u-2,acme,DATA,-1,,2026-07-01T00:00:00Z,,",
        "",
        "u-3,acme,TEXTS,4,,2026-07-01T00:00:00Z,2026-06-30T00:00:00Z,",
        "u-1,acme,DATA,9,,2026-07-01T00:00:00Z,,",
        "u-4,acme,DATA,1,,2026-07-01T00:00:00Z,,{not json",
        "u-5,acme,TEXTS,7,,2026-07-02T00:00:00Z,,",
    ]).encode()
    key = f"incoming/{tenant}/july usage.csv"
    etag = put(s3, key, body)
    # WHEN S3 reports it
    result = invoke(key, etag)
    # THEN every row has its line in the report, in file order, with its outcome and errors
    assert (result["status"], result["rows"], result["accepted"], result["duplicates"], result["rejected"]) == (
        "ingested", 6, 2, 1, 3)
    rows, metadata = report_of(s3, f"reports/{tenant}/july usage.csv.report.csv")
    assert [(r["line"], r["idempotencyKey"], r["outcome"], r["errorCodes"]) for r in rows] == [
        ("2", "u-1", "ACCEPTED", ""), ("3", "u-2", "REJECTED", "NEGATIVE_QUANTITY"),
        ("5", "u-3", "REJECTED", "INVALID_RANGE"), ("6", "u-1", "DUPLICATE", ""),
        ("7", "u-4", "REJECTED", "INVALID_VALUE"), ("8", "u-5", "ACCEPTED", "")]
    assert rows[0]["recordId"] == usage_record_id(tenant, "u-1") and rows[3]["recordId"] == rows[0]["recordId"]
    assert rows[1]["errors"].startswith("quantity: ")
    assert metadata == {"source-etag": etag, "rows": "6", "accepted": "2", "duplicates": "1", "rejected": "3"}
    # AND the records are stored like recordUsage's, tagged with their row
    record = UsageRepository(tenant).get(usage_record_id(tenant, "u-1"))
    assert record is not None and str(record.quantity) == "1.5" and record.dimensions == {"region": "eu"}
    assert record.source == f"s3://usage-files-test/{key}@{etag}#L2"


def test_redelivery_and_an_interrupted_run_give_the_same_report(s3: Any, tenant_catalog: str) -> None:
    tenant = tenant_catalog
    lines = [HEADER] + [f"r-{i},acme,TEXTS,{i},,2026-07-01T00:00:00Z,," for i in range(30)] + \
        ["r-0,acme,TEXTS,5,,2026-07-01T00:00:00Z,,"]
    key = f"incoming/{tenant}/again.csv"
    etag = put(s3, key, "\n".join(lines).encode())
    first = invoke(key, etag)
    report_key = f"reports/{tenant}/again.csv.report.csv"
    report = s3.get_object(Bucket="usage-files-test", Key=report_key)["Body"].read()
    # WHEN S3 delivers the event again THEN the object is recognised, nothing is read or written again
    again = invoke(key, etag)
    assert again["status"] == "already ingested" and again["accepted"] == first["accepted"] == 30
    # WHEN a run was cut short before its report (the report is missing) and Lambda retries
    s3.delete_object(Bucket="usage-files-test", Key=report_key)
    retried = invoke(key, etag)
    # THEN the rows written by the first run are ACCEPTED again: the report is the same, byte for byte
    assert retried["status"] == "ingested" and (retried["accepted"], retried["duplicates"]) == (30, 1)
    assert s3.get_object(Bucket="usage-files-test", Key=report_key)["Body"].read() == report


def test_json_lines_compressed(s3: Any, tenant_catalog: str) -> None:
    tenant = tenant_catalog
    lines = [json.dumps({"idempotencyKey": "j-1", "accountExternalId": "acme", "resourceCode": "DATA",
                         "quantity": 0.1, "startTime": "2026-07-01T00:00:00Z", "dimensions": {"cores": 2}}),
             "not json", json.dumps(["a list"]),
             json.dumps({"idempotencyKey": "j-2", "accountExternalId": "acme", "resourceCode": "TEXTS",
                         "quantiy": "1", "startTime": "2026-07-01T00:00:00Z"})]
    key = f"incoming/{tenant}/batch.jsonl.gz"
    etag = put(s3, key, gzip.compress("\n".join(lines).encode()))
    assert invoke(key, etag)["accepted"] == 1
    rows, _ = report_of(s3, f"reports/{tenant}/batch.jsonl.gz.report.csv")
    assert [(r["line"], r["outcome"], r["errorCodes"]) for r in rows] == [
        ("1", "ACCEPTED", ""), ("2", "REJECTED", "INVALID_VALUE"), ("3", "REJECTED", "INVALID_VALUE"),
        ("4", "REJECTED", "INVALID_VALUE")]
    assert "'quantiy' is not a usage record field" in rows[3]["errors"]
    record = UsageRepository(tenant).get(usage_record_id(tenant, "j-1"))
    assert record is not None and str(record.quantity) == "0.1"  # the JSON number, exactly


def test_reports_and_foreign_objects_are_not_ingested(s3: Any, tenant_catalog: str) -> None:
    settings = get_settings()
    assert ingest.process_object(s3, "usage-files-test", "reports/x/a.csv.report.csv", None, settings)["status"] \
        == "skipped"
    assert ingest.process_object(s3, "usage-files-test", "elsewhere/a.csv", None, settings)["status"] == "skipped"
    etag = put(s3, f"incoming/{tenant_catalog}/notes.txt", b"hello")
    refused = invoke(f"incoming/{tenant_catalog}/notes.txt", etag)
    assert refused["status"] == "refused"
    rows, _ = report_of(s3, f"reports/{tenant_catalog}/notes.txt.report.csv")
    assert [(r["outcome"], r["errorCodes"]) for r in rows] == [("REJECTED", "INVALID_VALUE")]


class CountingBody(io.RawIOBase):
    """An S3 body that counts the bytes handed out."""

    def __init__(self, body: Any):
        super().__init__()
        self.body, self.read_bytes = body, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = int(self.body.readinto(buffer))
        self.read_bytes += n
        return n


class WatchedS3:
    """The S3 client, with get_object bodies counted."""

    def __init__(self, client: Any):
        self.client = client
        self.bodies: list[CountingBody] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = dict(self.client.get_object(**kwargs))
        response["Body"] = CountingBody(response["Body"])
        self.bodies.append(response["Body"])
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_large_file_is_streamed_and_written_in_batches(s3: Any, tenant_catalog: str) -> None:
    tenant = tenant_catalog
    rows = int(os.environ.get("USAGE_INGEST_ROWS", "5000"))
    # GIVEN a file of N rows
    body = "\n".join([HEADER] + [f"big-{i},acct-{i % 50},TEXTS,{i % 997},,2026-07-01T00:00:00Z,,"
                                 for i in range(rows)]).encode()
    key = f"incoming/{tenant}/big.csv"
    etag = put(s3, key, body)
    watched = WatchedS3(s3)
    writes: list[tuple[int, int]] = []  # (items in the call, body bytes read when it was made)

    def count(operation: str, params: dict[str, Any], answer: Any, status: int) -> None:
        if operation == "PutItem" and params["Item"]["pk"]["S"].startswith(f"T#{tenant}#"):
            writes.append((1, watched.bodies[0].read_bytes))

    dynamo_direct.AFTER_CALL.append(count)  # usage inserts go through infra.dynamo_direct
    try:
        started = time.perf_counter()
        result = ingest.process_object(watched, "usage-files-test", key, etag, get_settings())
        elapsed = time.perf_counter() - started
    finally:
        dynamo_direct.AFTER_CALL.remove(count)
    # THEN every row is ingested, one conditional PutItem per record
    assert (result["rows"], result["accepted"]) == (rows, rows)
    assert sum(n for n, _ in writes) == rows
    # AND the body was read as the rows went in: the first records were written after reading a small part
    assert writes[0][1] <= 64 * 1024 < len(body)
    print(f"\ningested {rows} rows in {elapsed:.1f}s ({rows / elapsed:.0f} rows/s)")
    report, _ = report_of(s3, f"reports/{tenant}/big.csv.report.csv")
    assert len(report) == rows and report[-1]["idempotencyKey"] == f"big-{rows - 1}"


def test_the_local_command_runs_the_same_code(tenant_catalog: str, tmp_path: Path) -> None:
    tenant = tenant_catalog
    path = tmp_path / "local.csv"
    path.write_text(f"{HEADER}\nl-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\nl-2,acme,DATA,x,,2026-07-01T00:00:00Z,,\n")
    # WHEN the command runs on it (a rejected row makes the exit status 1)
    assert ingest_command([str(path), "--tenant", tenant, "--no-progress"]) == 1
    # THEN the report is next to it and the record is stored
    report = list(csv.DictReader((tmp_path / "local.csv.report.csv").open()))
    assert [(r["idempotencyKey"], r["outcome"]) for r in report] == [("l-1", "ACCEPTED"), ("l-2", "REJECTED")]
    assert UsageRepository(tenant).get(usage_record_id(tenant, "l-1")) is not None
    # AND running it again reports the same
    assert ingest_command([str(path), "--tenant", tenant, "--no-progress"]) == 1
    again = list(csv.DictReader((tmp_path / "local.csv.report.csv").open()))
    assert again == report
