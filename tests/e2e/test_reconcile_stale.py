"""Reconciliation reports what was never rated (issue 15 §2): usage records still NEW after the configured age —
the records of a stream batch Lambda gave up on — make the report not clean and the command exit 1, until they
are rated; setting them to NEW again (allowed once they passed that age) has them rated exactly once."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import Flow
from tests.e2e.test_exactly_once import rate_poller

pytestmark = pytest.mark.e2e

SET_STATUS = """mutation($ids: [ID!]!) { setUsageStatus(ids: $ids, status: NEW) {
  records { id status attempt } errors { code message field } } }"""


def test_records_a_given_up_batch_left_new_are_reported_until_they_are_rated(
        flow: Flow, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from functions.summarize import reconcile as command
    from infra.reconciliation import reconcile
    from infra.settings import reset_settings

    # GIVEN a rate function that fails every time (the store it writes to is down), as the stream retries it
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s-1", "acme", "CELL")
    given_up: list[Any] = []

    def down(event: dict[str, Any], context: Any) -> Any:
        raise ConnectionError("the accounts table is unreachable")

    # (a record written and rated first, so that the usage stream has a shard for the poller to start at the end
    # of: DynamoDB Local opens it with the first write)
    flow.record({"accountExternalId": "someone-else", "resourceCode": "TEXTS", "quantity": "1"})
    flow.drain()
    poller = rate_poller(down, max_retry_attempts=1, on_failure=lambda event, exc: given_up.append(event))
    records = flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "10"},
                          {"accountExternalId": "acme", "resourceCode": "DATA", "quantity": "1", "unitCode": "GB"})
    ids = sorted(r["usageRecord"]["id"] for r in records)
    deadline = time.monotonic() + 20  # DynamoDB Local shows stream records a moment after the write
    while not given_up and time.monotonic() < deadline:
        poller.run_once()
        time.sleep(0.05)
    # WHEN the batch has been given up on, its records are still NEW
    assert given_up and all(flow.usage_record(i)["status"] == "NEW" for i in ids)
    # THEN reconciliation with a stale age they passed lists them and is not clean
    report = reconcile(flow.api.tenant, stale_after=timedelta(0), queue_depths=dict)
    assert not report.clean
    assert sorted(record_id_of(r.record_id) for r in report.stale) == sorted(record_id_of(i) for i in ids)
    assert report.summary_drift == [] and report.wallet_drift == []
    # AND the command (age from USAGE_STALE_NEW_AFTER_S) prints them and exits 1
    monkeypatch.setenv("USAGE_STALE_NEW_AFTER_S", "0")
    reset_settings()
    try:
        assert command.main(["--tenant", flow.api.tenant]) == 1
        printed = capsys.readouterr().out
        assert "2 usage records still NEW" in printed
        assert all(r.record_id in printed for r in report.stale)

        # WHEN an operator sets them to NEW again (allowed once they passed the stale age), and the stream —
        # which still holds their first delivery too — is processed by a working function
        requeued = flow.api.ok(SET_STATUS, {"ids": ids})["records"]
        assert [(r["status"], r["attempt"]) for r in requeued] == [("NEW", 1), ("NEW", 1)]
        flow.drain()
    finally:
        monkeypatch.delenv("USAGE_STALE_NEW_AFTER_S")
        reset_settings()
    # THEN each is rated exactly once, at its new attempt, and the report is clean again
    assert [(flow.usage_record(i)["status"]) for i in ids] == ["PROCESSED", "PROCESSED"]
    texts, data = flow.summary("acme", "TEXTS"), flow.summary("acme", "DATA")
    assert (texts["consumedQuantity"], texts["usageCount"], data["consumedQuantity"], data["usageCount"]) == (
        "10", 1, "1", 1)
    report = reconcile(flow.api.tenant, stale_after=timedelta(0), queue_depths=dict)
    assert report.clean, list(report.lines())
    # AND under the default age (15 minutes) nothing this young is ever stale
    assert reconcile(flow.api.tenant, queue_depths=dict).stale == []


def record_id_of(value: str) -> str:
    """A usage record id, from a global id or a storage id."""
    from graphql_api.usage_api import record_id_of as decode

    return decode(value) or value
