"""Powertools as its users expect (infra/observability.py): the service name from POWERTOOLS_SERVICE_NAME, EMF
metrics of what a batch came to, a Tracer only when tracing is on, and expected errors logged on one line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import strawberry

from core.errors import DomainError, ErrorCode
from core.usage import UsageStatus
from functions.stream import StreamBatch
from graphql_api.errors import LoggedSchema
from infra.rating_repo import StreamRating
from tests.integration.test_events import EVENT_OF, invoke, load, recently, retarget, texts_plan, write_new_images

__all__ = ["texts_plan"]  # the fixture, shared with test_events
ROOT = Path(__file__).resolve().parents[2]


def emf_documents(out: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines printed (each a JSON object with an ``_aws`` key)."""
    documents = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def values(document: dict[str, Any], *names: str) -> list[float]:
    """The metrics' values (Powertools writes each as a list of the values added)."""
    return [sum(document[name]) if isinstance(document[name], list) else document[name] for name in names]


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "UsageTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "usage-test")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def test_a_rating_batch_publishes_rated_unfinished_and_redelivered_records_as_emf(
        api: Any, texts_plan: Any, metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the rate event (two NEW records of a subscribed account) moved into this tenant
    event, _ = retarget(load(EVENT_OF["RateFunction"]), api.tenant, recently())
    write_new_images(event)
    capsys.readouterr()
    # WHEN Lambda invokes the rate function with it
    assert invoke("RateFunction", event) == {"batchItemFailures": []}
    # THEN one EMF document in the namespace of POWERTOOLS_METRICS_NAMESPACE says two records were rated
    [document] = emf_documents(capsys.readouterr().out)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "UsageTest"
    assert set(directive["Dimensions"][0]) == {"function", "service"}
    assert (document["function"], document["service"]) == ("rate", "usage-test")
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "RecordsRated": "Count", "RecordsUnfinished": "Count", "RecordsRedelivered": "Count",
        "BatchItemFailures": "Count"}
    assert values(document, "RecordsRated", "RecordsUnfinished", "RecordsRedelivered", "BatchItemFailures") == [
        2, 0, 0, 0]
    # AND when the stream delivers the same batch again, the records count as redelivered, not rated
    invoke("RateFunction", event)
    [again] = emf_documents(capsys.readouterr().out)
    assert values(again, "RecordsRated", "RecordsRedelivered") == [0, 2]


def test_unfinished_records_and_batch_item_failures_are_counted(metrics_on: None,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a batch of five: two rated, one ERROR, one WARNING_UNRATED, one not rated yet (its group kept changing)
    rating = StreamRating(unfinished={"5"}, statuses=Counter(
        {UsageStatus.PROCESSED: 2, UsageStatus.ERROR: 1, UsageStatus.WARNING_UNRATED: 1}))
    # WHEN its metrics are published with the partial batch response that hands the fifth back
    StreamBatch(5, rating).publish("summarize", {"batchItemFailures": [{"itemIdentifier": "5"}]})
    # THEN
    [document] = emf_documents(capsys.readouterr().out)
    assert document["function"] == "summarize"
    assert values(document, "RecordsRated", "RecordsUnfinished", "BatchItemFailures") == [2, 2, 1]


def test_metrics_disabled_print_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    StreamBatch(1, StreamRating(statuses=Counter({UsageStatus.PROCESSED: 1}))).publish("rate", {})
    assert emf_documents(capsys.readouterr().out) == []


PROBE = """
import json, sys
from infra.observability import logger, observed
import functions.rate.handler, functions.summarize.handler, functions.ingest.handler, functions.summarize.close
import functions.summarize.reconcile, graphql_api.handler

class Context:
    function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "probe", 128, "arn:probe", "req-1"

@observed
def handler(event, context):
    logger.info("hello")
    return "ok"

at_import = "aws_xray_sdk" in sys.modules
print(json.dumps({"answer": handler({}, Context()), "xray": "aws_xray_sdk" in sys.modules, "at_import": at_import}))
"""


def probe(**env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Import every handler and run an observed handler in a fresh interpreter; (its report, its log lines)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA", "AWS_XRAY"))}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return lines[-1], lines[:-1]


def test_the_service_name_comes_from_powertools_service_name_and_tracing_stays_off_outside_lambda() -> None:
    # GIVEN POWERTOOLS_SERVICE_NAME, outside Lambda
    report, logs = probe(POWERTOOLS_SERVICE_NAME="billing-east")
    # THEN log lines carry that service and the Lambda context, and the X-Ray SDK was never imported
    [line] = [entry for entry in logs if entry.get("message") == "hello"]
    assert line["service"] == "billing-east" and line["function_name"] == "probe"
    assert report == {"answer": "ok", "xray": False, "at_import": False}


def test_in_lambda_the_tracer_wraps_the_handler_at_its_first_call_unless_tracing_is_disabled() -> None:
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "probe", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    # built at the first call (not at import) ...
    assert probe(**lambda_env)[0] == {"answer": "ok", "xray": True, "at_import": False}
    # ... but at import under SnapStart, whose snapshot is taken after init
    assert probe(**lambda_env, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")[0] == {
        "answer": "ok", "xray": True, "at_import": True}
    assert probe(**lambda_env, POWERTOOLS_TRACE_DISABLED="true")[0] == {"answer": "ok", "xray": False,
                                                                        "at_import": False}


# --------------------------------------------------------------------------------------------------- API errors


@strawberry.type
class Query:
    @strawberry.field
    def refused(self) -> int:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, "first may be at most\n100", "first")

    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("a bug")


def test_expected_graphql_errors_are_one_line_without_traceback_and_bugs_keep_theirs(
        caplog: pytest.LogCaptureFixture) -> None:
    schema = LoggedSchema(query=Query)
    with caplog.at_level(logging.INFO):
        schema.execute_sync("{ refused }")
        schema.execute_sync("{ nope }")
        schema.execute_sync("{ broken }")
    expected, invalid, bug = [r for r in caplog.records if r.name in ("graphql_api", "strawberry.execution")]
    assert (expected.levelno, expected.exc_info, expected.getMessage()) == (
        logging.INFO, None, "expected error: MAX_LIMIT_EXCEEDED at refused: first may be at most 100")
    assert invalid.levelno == logging.INFO and invalid.exc_info is None
    assert invalid.getMessage().startswith("expected error: GRAPHQL_VALIDATION_FAILED at the request: ")
    assert "\n" not in invalid.getMessage()
    assert bug.levelno == logging.ERROR and bug.exc_info is not None


def test_record_usage_publishes_accepted_duplicated_and_rejected_records_as_emf(
        api: Any, texts_plan: Any, metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a partner's call of three records: a new one, a repeat of it, and one naming no known resource
    record = {"idempotencyKey": "m1", "accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "1",
              "startTime": recently().isoformat()}
    capsys.readouterr()
    # WHEN the API answers it
    payload = api("""mutation($r: [UsageRecordInput!]!) { recordUsage(records: $r) {
        accepted duplicates rejected } }""", {"r": [record, record, {**record, "idempotencyKey": "m2",
                                                                   "resourceCode": "NOPE"}]})["recordUsage"]
    assert (payload["accepted"], payload["duplicates"], payload["rejected"]) == (1, 1, 1)
    # THEN one EMF document of the API function counts them
    [document] = [d for d in emf_documents(capsys.readouterr().out) if d.get("function") == "api"]
    assert values(document, "RecordsAccepted", "RecordsDuplicated", "RecordsRejected") == [1, 1, 1]
