"""Subscription changes end to end: usage recorded through GraphQL and rated by the stream handlers after an
amendment (the prorated bucket pays) and after a cancellation (later usage is WARNING_UNRATED)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import MONTH_START, NOW, Flow, iso

pytestmark = pytest.mark.e2e

CHANGE = """mutation($input: {kind}SubscriptionInput!) {{ {name}Subscription(input: $input) {{
  record {{ version }} errors {{ code message field }} }} }}"""


def change(flow: Flow, kind: str, **fields: Any) -> dict[str, Any]:
    return flow.api.ok(CHANGE.format(kind=kind, name=kind.lower()), {"input": fields})


def test_usage_after_an_amendment_draws_from_the_prorated_bucket(flow: Flow) -> None:
    # GIVEN the Cell Phone Plan (4,000 texts a month at $0.75 beyond) since this month's start, periods on the 1st
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=MONTH_START)
    # WHEN it is amended to 2 lines from today 00:00
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    change(flow, "Amend", externalId="s", quantity="2", effectiveDate=iso(today))
    # THEN the added share is floor(4,000 × days left / days in the month), and usage beyond it is overage
    next_month = (MONTH_START + timedelta(days=32)).replace(day=1)
    days, left = (next_month - MONTH_START).days, (next_month - today).days
    granted = 8000 if today == MONTH_START else 4000 + 4000 * left // days
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": str(granted + 10),
                 "at": max(today, NOW - timedelta(seconds=5))})
    flow.drain()
    summary = flow.summary("acme", "TEXTS")
    assert (summary["debitedQuantity"], summary["overageQuantity"], summary["amount"]) == (str(granted), "10", "7.50")


def test_usage_right_after_an_amendment_is_rated_against_the_amended_subscription(flow: Flow) -> None:
    # GIVEN the Cell Phone Plan since this month's start, and usage rated against it (the rating container now
    # remembers the subscription; its warm state is not cleared below)
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=MONTH_START)
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "100",
                 "at": max(today, NOW - timedelta(seconds=10))})
    flow.drain()
    # WHEN it is amended to 2 lines from today 00:00, and usage arrives at once
    change(flow, "Amend", externalId="s", quantity="2", effectiveDate=iso(today))
    next_month = (MONTH_START + timedelta(days=32)).replace(day=1)
    days, left = (next_month - MONTH_START).days, (next_month - today).days
    granted = 8000 if today == MONTH_START else 4000 + 4000 * left // days
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": str(granted - 90),
                 "at": max(today, NOW - timedelta(seconds=5))})
    flow.drain()
    # THEN it draws from the prorated bucket too: only what exceeds both lines' allowance is overage
    summary = flow.summary("acme", "TEXTS")
    assert (summary["debitedQuantity"], summary["overageQuantity"], summary["amount"]) == (str(granted), "10", "7.50")


def test_usage_after_a_cancellation_is_warning_unrated(flow: Flow) -> None:
    # GIVEN a subscription since yesterday, and usage rated against it 3 minutes ago
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=NOW - timedelta(days=1))
    before = flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "100",
                          "at": NOW - timedelta(minutes=3)})
    flow.drain()
    # WHEN it is cancelled as of 2 minutes ago, and usage of 1 minute ago arrives at once (the rating container
    # still remembers the subscription it rated with: its warm state is not cleared)
    change(flow, "Cancel", externalId="s", endDate=iso(NOW - timedelta(minutes=2)))
    after = flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "50",
                         "at": NOW - timedelta(minutes=1)})
    flow.drain()
    # THEN the earlier usage stays PROCESSED (consumption untouched) and the later one is WARNING_UNRATED
    assert flow.usage_record(before[0]["usageRecord"]["id"])["status"] == "PROCESSED"
    late = flow.usage_record(after[0]["usageRecord"]["id"])
    assert (late["status"], late["errorCode"]) == ("WARNING_UNRATED", "NOT_COVERED")
    assert flow.summary("acme", "TEXTS")["consumedQuantity"] == "100"
    # AND a cancellation before that rated usage is refused
    refused = flow.api(CHANGE.format(kind="Cancel", name="cancel"),
                       {"input": {"externalId": "s", "endDate": iso(NOW - timedelta(minutes=4))}})
    assert [e["code"] for e in refused["cancelSubscription"]["errors"]] == ["CONFLICT"]
