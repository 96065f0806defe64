"""The rate handler's partial batch response (functions/rate/handler.py): the records rating could not finish are
reported as batch item failures, every record failing is an error (the mapping bisects), and a batch whose every
record was rated answers what Powertools answers — without Powertools' per-record wrapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

import functions.stream
from functions.rate import handler as rate
from infra.rating_repo import StreamRating
from local.lambda_context import LocalLambdaContext


def event(*sequences: str) -> dict[str, Any]:
    return {"Records": [{"eventID": s, "eventName": "INSERT", "eventSource": "aws:dynamodb",
                         "dynamodb": {"SequenceNumber": s, "Keys": {}}} for s in sequences]}


@pytest.fixture
def unfinished(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """What the (stubbed) rating leaves unfinished, by sequence number."""
    left: set[str] = set()

    def rate_stream(records: Sequence[Mapping[str, Any]], now: Any = None) -> StreamRating:
        return StreamRating(unfinished=set(left))

    monkeypatch.setattr(functions.stream, "ready", lambda: None)
    monkeypatch.setattr(functions.stream, "rate_stream", rate_stream)
    monkeypatch.setattr(functions.stream, "publish", lambda function, metrics: None)
    return left


def invoke(records: dict[str, Any]) -> Any:
    return rate.handler(records, LocalLambdaContext("rate"))


def test_a_batch_rated_in_full_answers_no_failures(unfinished: set[str]) -> None:
    assert invoke(event("1", "2", "3")) == {"batchItemFailures": []}
    assert invoke(event()) == {"batchItemFailures": []}


def test_unfinished_records_are_reported_and_a_batch_of_nothing_but_those_fails(unfinished: set[str]) -> None:
    unfinished |= {"2", "3"}
    assert invoke(event("1", "2", "3")) == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}
    with pytest.raises(BatchProcessingError):
        invoke(event("2", "3"))
