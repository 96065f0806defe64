"""The handlers of template.yaml run on the events in events/ (what `sam local invoke -e events/...` sends).

The event files have the shapes `sam local generate-event` produces (SAM CLI 1.170.0) — but for the reconcile
function's, which is invoked on demand with the tenant to check; their usage items are encoded as
infra/usage_repo.py writes them. A test moves each file's records into a fresh tenant (ids follow
from tenant and idempotency key), writes the items the stream says were written, and invokes the handler the
template names, with the event Lambda would send.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deploy.template import lambda_functions, load_template
from local.lambda_context import LocalLambdaContext
from local.streams import compile_patterns, matches_any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FUNCTIONS = {fn.logical_id: fn for fn in lambda_functions(load_template())}
EVENT_OF = {
    "ApiFunction": "api-graphql.json",
    "IngestFunction": "ingest-s3-put.json",
    "RateFunction": "rate-usage-stream.json",
    "SummarizeFunction": "summarize-usage-stream.json",
    "ClosePeriodsFunction": "close-scheduled.json",
    "ReconcileFunction": "reconcile-tenant.json",
}

# --------------------------------------------------------------------------------------------------- shapes
# Key sets of `sam local generate-event` output (SAM CLI 1.170.0), per event type.
HTTP_API_KEYS = {"version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers", "queryStringParameters",
                 "requestContext", "body", "pathParameters", "isBase64Encoded", "stageVariables"}
HTTP_API_CONTEXT_KEYS = {"accountId", "apiId", "authentication", "authorizer", "domainName", "domainPrefix", "http",
                         "requestId", "routeKey", "stage", "time", "timeEpoch"}
STREAM_RECORD_KEYS = {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                      "eventSourceARN"}
STREAM_BODY_KEYS = {"Keys", "NewImage", "ApproximateCreationDateTime", "SequenceNumber", "SizeBytes",
                    "StreamViewType"}
S3_RECORD_KEYS = {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
                  "requestParameters", "responseElements", "s3"}
SCHEDULED_KEYS = {"id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def test_there_is_an_event_for_every_function_of_the_template() -> None:
    assert set(EVENT_OF) == set(FUNCTIONS)
    assert sorted(EVENT_OF.values()) == sorted(p.name for p in EVENTS.glob("*.json"))


def test_event_files_have_the_shapes_sam_generates() -> None:
    api = load(EVENT_OF["ApiFunction"])
    assert set(api) == HTTP_API_KEYS and set(api["requestContext"]) == HTTP_API_CONTEXT_KEYS
    assert (api["version"], api["rawPath"], api["requestContext"]["http"]["method"]) == ("2.0", "/graphql", "POST")
    assert json.loads(base64.b64decode(api["body"]))["query"].startswith("query")
    for name in ("RateFunction", "SummarizeFunction"):
        for record in load(EVENT_OF[name])["Records"]:
            assert set(record) == STREAM_RECORD_KEYS
            assert set(record["dynamodb"]) - {"OldImage"} == STREAM_BODY_KEYS
            assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    (s3,) = load(EVENT_OF["IngestFunction"])["Records"]
    assert set(s3) == S3_RECORD_KEYS and s3["eventName"] == "ObjectCreated:Put"
    scheduled = load(EVENT_OF["ClosePeriodsFunction"])
    assert set(scheduled) == SCHEDULED_KEYS and scheduled["detail-type"] == "Scheduled Event"
    assert set(load(EVENT_OF["ReconcileFunction"])) == {"tenant", "accounts"}


@pytest.mark.parametrize("name", ["RateFunction", "SummarizeFunction"])
def test_stream_events_hold_only_records_the_mapping_lets_through(name: str) -> None:
    # GIVEN the FilterCriteria of the function's mapping in the template
    (mapping,) = FUNCTIONS[name].events_of_type("DynamoDB")
    patterns = compile_patterns([f["Pattern"] for f in mapping["FilterCriteria"]["Filters"]])
    # THEN every record of its event file is one Lambda would hand it (and decodes as a usage record)
    from infra.usage_repo import record_from_item

    for record in load(EVENT_OF[name])["Records"]:
        assert matches_any(patterns, record), record["eventID"]
        record_from_item(record["dynamodb"]["NewImage"])


# --------------------------------------------------------------------------------------------------- invoking


def handler_of(name: str) -> Callable[[dict[str, Any], Any], Any]:
    fn = FUNCTIONS[name]
    assert fn.source_path.exists(), f"template.yaml names {fn.handler}, which does not exist"
    return getattr(importlib.import_module(fn.module), fn.attribute)  # type: ignore[no-any-return]


def invoke(name: str, event: dict[str, Any]) -> Any:
    return handler_of(name)(event, LocalLambdaContext(function_name=f"usage-management-{name}"))


def retarget(event: dict[str, Any], tenant: str, at: datetime,
             moved_before: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The stream event with its usage records moved into `tenant`, at time `at`; returns it and the old → new ids.

    Records keep their idempotency keys; their ids (and so keys, and corrections' pointers) follow from the tenant.
    `moved_before` maps the ids of records moved by an earlier call (the originals a correction points at).
    """
    from core.usage import usage_record_id
    from infra.usage_repo import record_from_item, to_item

    moved = copy.deepcopy(event)
    ids: dict[str, str] = dict(moved_before or {})

    def moved_key(key: str) -> str:  # a correction's key is `{original id}/void` or `{original id}/amend`
        original, slash, kind = key.rpartition("/")
        return f"{ids[original]}/{kind}" if slash and original in ids else key

    for record in moved["Records"]:
        image = record_from_item(record["dynamodb"]["NewImage"])
        ids[image.id] = usage_record_id(tenant, moved_key(image.idempotency_key))

    def move(item: Mapping[str, Any]) -> dict[str, Any]:
        record = record_from_item(item)
        offset = record.received_at - record.start_time
        record = dataclasses.replace(
            record, tenant=tenant, id=ids[record.id], idempotency_key=moved_key(record.idempotency_key),
            start_time=at, end_time=at, received_at=at + offset,
            correction_of=ids.get(record.correction_of or "", record.correction_of))
        return to_item(record)

    for record in moved["Records"]:
        body = record["dynamodb"]
        for image in ("NewImage", "OldImage"):
            if image in body:
                body[image] = move(body[image])
        body["Keys"] = {"pk": body["NewImage"]["pk"], "sk": body["NewImage"]["sk"]}
    return moved, ids


def write_new_images(event: dict[str, Any]) -> None:
    """Store what the stream says was written (the items as they are after each change)."""
    from infra.dynamo import dynamodb_client
    from infra.settings import get_settings

    client, table = dynamodb_client(), get_settings().usage_table
    for record in event["Records"]:
        client.put_item(TableName=table, Item=record["dynamodb"]["NewImage"])


def usage_status(tenant: str, record_id: str) -> str:
    from infra.usage_repo import UsageRepository

    record = UsageRepository(tenant).get(record_id)
    assert record is not None
    return str(record.status)


@pytest.fixture
def texts_plan(api: Any) -> Any:
    """The Cell Phone Plan (4,000 texts a month, $0.75 each above) with account `acme` subscribed this month."""
    from tests.builders import configure_cell_phone_plan
    from tests.e2e.flow import Flow

    configure_cell_phone_plan(api)
    flow = Flow(api, pollers=None)
    flow.subscribe("s-acme", "acme", "CELL")
    return flow


def recently() -> datetime:
    from tests.e2e.flow import RECENTLY

    return RECENTLY


def test_api_handler_answers_the_http_api_event(api: Any) -> None:
    from tests.builders import cell_phone_plan

    # GIVEN a product, and the event file with the tenant's key in place of the placeholder
    cell_phone_plan(api)
    event = load(EVENT_OF["ApiFunction"])
    event["headers"]["authorization"] = f"Bearer {api.key}"
    # WHEN Lambda invokes the API function with it
    response = invoke("ApiFunction", event)
    # THEN the GraphQL answer comes back in the HTTP API v2 response shape
    assert response["statusCode"] == 200, response
    body = response["body"]
    data = json.loads(base64.b64decode(body) if response.get("isBase64Encoded") else body)
    assert "errors" not in data
    assert [edge["node"]["code"] for edge in data["data"]["products"]["edges"]] == ["CELL"]


@pytest.fixture(scope="session")
def s3_endpoint(store_endpoint: str) -> Iterator[str]:
    """moto's server for S3: the test store itself on moto; a second one beside DynamoDB Local, which has no S3."""
    from tests.stores import store_endpoint as running_store

    with running_store("moto") as endpoint:
        yield endpoint


def test_ingest_handler_ingests_the_file_of_the_s3_event_once(api: Any, s3_endpoint: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from core.usage import usage_record_id
    from infra.usage_repo import UsageRepository
    from tests.builders import active_usage_catalog
    from tests.e2e.flow import iso

    handler_of("IngestFunction")
    # GIVEN the ingest function in a cold container, with S3 at the local endpoint, and a tenant's ACTIVE catalog
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setattr(importlib.import_module("functions.ingest.handler"), "_state", {})
    active_usage_catalog(api.tenant)
    # AND the event file's object, moved under this tenant's prefix, holding one good and one bad row
    event = load(EVENT_OF["IngestFunction"])
    (record,) = event["Records"]
    bucket = record["s3"]["bucket"]["name"]
    key = record["s3"]["object"]["key"].replace("incoming/demo/", f"incoming/{api.tenant}/")
    at = iso(recently())
    body = (f"idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime\n"
            f"file-1,acme,TEXTS,10,EA,{at}\nfile-2,acme,TEXTS,-1,EA,{at}\n").encode()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    record["s3"]["object"].update(key=key, size=len(body), eTag=put["ETag"].strip('"'))
    # WHEN S3 invokes the function with the ObjectCreated event
    (result,) = invoke("IngestFunction", event)["objects"]
    # THEN the good row is a NEW usage record, the bad one is reported, and the report lies outside incoming/
    assert (result["status"], result["accepted"], result["rejected"]) == ("ingested", 1, 1), result
    assert result["report"] == f"reports/{api.tenant}/{key.rsplit('/', 1)[1]}.report.csv"
    report = s3.get_object(Bucket=bucket, Key=result["report"])["Body"].read().decode().splitlines()
    assert [line.split(",")[2] for line in report[1:]] == ["ACCEPTED", "REJECTED"]
    stored = UsageRepository(api.tenant).get(usage_record_id(api.tenant, "file-1"))
    assert stored is not None and str(stored.status) == "NEW"
    # AND when S3 delivers the same event again, the file is not ingested twice
    (again,) = invoke("IngestFunction", event)["objects"]
    assert again["status"] == "already ingested"


def test_rate_handler_rates_the_stream_event_exactly_once(api: Any, texts_plan: Any) -> None:
    # GIVEN the rate event (a new record of 3,000 texts; one of 1,500 sent back to NEW) moved into this tenant
    event, ids = retarget(load(EVENT_OF["RateFunction"]), api.tenant, recently())
    write_new_images(event)
    # WHEN Lambda invokes the rate function with it
    response = invoke("RateFunction", event)
    # THEN no record is reported failed, both are PROCESSED, and 4,500 texts make 500 over the grant: $375.00
    assert response == {"batchItemFailures": []}
    assert {usage_status(api.tenant, new) for new in ids.values()} == {"PROCESSED"}
    summary = texts_plan.summary("acme", "TEXTS")
    assert (summary["consumedQuantity"], summary["overageQuantity"], summary["amount"]) == ("4500", "500", "375.00")
    # AND when the stream delivers the same batch again, nothing changes
    assert invoke("RateFunction", event) == {"batchItemFailures": []}
    assert texts_plan.summary("acme", "TEXTS") == summary


def test_summarize_handler_applies_the_void_of_the_stream_event(api: Any, texts_plan: Any) -> None:
    from infra.usage_repo import UsageRepository, record_from_item

    # GIVEN the rate event's records rated in this tenant ($375.00 for 4,500 texts)
    rated, ids = retarget(load(EVENT_OF["RateFunction"]), api.tenant, recently())
    write_new_images(rated)
    invoke("RateFunction", rated)
    # AND the void of the 3,000-text record, written as voidUsage writes it (the original marked voided)
    event, _ = retarget(load(EVENT_OF["SummarizeFunction"]), api.tenant, recently(), moved_before=ids)
    (record,) = event["Records"]
    correction = record_from_item(record["dynamodb"]["NewImage"])
    assert correction.correction_of in ids.values()
    repository = UsageRepository(api.tenant)
    original = repository.get(str(correction.correction_of))
    assert original is not None
    repository.write_correction(original, correction)
    before = texts_plan.summary("acme", "TEXTS")
    voided = repository.get(str(correction.correction_of))
    assert voided is not None and voided.rated_amount is not None
    # WHEN Lambda invokes the summarize function with the correction's stream event
    response = invoke("SummarizeFunction", event)
    # THEN the void is applied: the summary no longer counts the 3,000 texts, nor what their record was rated at
    assert response == {"batchItemFailures": []}
    assert usage_status(api.tenant, correction.id) == "PROCESSED"
    after = texts_plan.summary("acme", "TEXTS")
    assert (before["consumedQuantity"], before["usageCount"]) == ("4500", 2)
    assert (after["consumedQuantity"], after["usageCount"]) == ("1500", 1)
    assert Decimal(after["amount"]) == Decimal(before["amount"]) - voided.rated_amount
    # AND when the stream delivers the correction again, nothing changes
    assert invoke("SummarizeFunction", event) == {"batchItemFailures": []}
    assert texts_plan.summary("acme", "TEXTS") == after


def test_close_handler_completes_the_due_summaries_on_the_scheduled_event(api: Any, texts_plan: Any) -> None:
    from infra.dynamo import dynamodb_client
    from infra.summaries_repo import SummariesRepository

    # GIVEN a summary of this tenant whose waiting period for late usage is over
    rated, _ = retarget(load(EVENT_OF["RateFunction"]), api.tenant, recently())
    write_new_images(rated)
    invoke("RateFunction", rated)
    repository = SummariesRepository(api.tenant)
    (summary,) = repository.of_account("acme")
    due = dataclasses.replace(summary, closes_at=datetime.now(UTC) - timedelta(minutes=1), version=summary.version + 1)
    dynamodb_client().put_item(**repository.put_item(due, summary.version)["Put"])
    # WHEN the hourly schedule invokes the close function
    report = invoke("ClosePeriodsFunction", load(EVENT_OF["ClosePeriodsFunction"]))
    # THEN it is COMPLETE, and the report counts it
    closed = repository.get("acme", summary.id)
    assert closed is not None and str(closed.status) == "COMPLETE"
    assert report["closed"] >= 1


def test_reconcile_handler_finds_no_drift_after_the_stream_event_is_rated(api: Any, texts_plan: Any) -> None:
    # GIVEN usage rated from the stream in this tenant
    rated, _ = retarget(load(EVENT_OF["RateFunction"]), api.tenant, recently())
    write_new_images(rated)
    invoke("RateFunction", rated)
    # WHEN the reconcile function is invoked with the event file, naming this tenant
    event = load(EVENT_OF["ReconcileFunction"]) | {"tenant": api.tenant}
    report = invoke("ReconcileFunction", event)
    # THEN it checked the account's two records and its summary, and found no drift
    assert (report["accounts"], report["records"], report["summaries"]) == (1, 2, 1), report
    assert report["clean"] is True, report
