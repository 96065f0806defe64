"""A record whose values break rating fails alone (issue 15 §2): it becomes ERROR with RATING_FAILED through the
real stream path, the rest of its batch is rated, nothing is given up on, and once the data is fixed, setting it
back to NEW rates it exactly once (reconciliation finds no drift)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import Flow

pytestmark = pytest.mark.e2e

SET_STATUS = """mutation($ids: [ID!]!) { setUsageStatus(ids: $ids, status: NEW) {
  records { id status attempt } errors { code message field } } }"""


def texts_entry(tenant: str) -> tuple[Any, Any]:
    from infra.catalog_repo import CatalogRepository

    repo = CatalogRepository(tenant)
    _, entries = repo.rate_cards()
    return repo, next(e for e in entries if e.resource_code == "TEXTS")


def test_a_catalog_value_past_validation_fails_its_record_not_the_batch(flow: Flow) -> None:
    from infra.reconciliation import reconcile

    # GIVEN the Cell Phone Plan, whose text rate was set to 1E+100 straight in the store (as a value stored
    # before the bounds existed would be), and a subscription
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s-1", "acme", "CELL")
    repo, entry = texts_entry(flow.api.tenant)
    repo.replace(entry, replace(entry, rate=Decimal("1E+100")))
    # WHEN a batch holds a huge text record priced at it, a small text record within the grant, and data overage
    bad, small, data = flow.record(
        {"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "900000000000000"},
        {"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "100"},
        {"accountExternalId": "acme", "resourceCode": "DATA", "quantity": "3", "unitCode": "GB"})
    flow.drain()
    # THEN the stream gave nothing up, the huge record is ERROR RATING_FAILED with a message a person can act on
    assert not flow.pollers.failures
    failed = flow.usage_record(bad["usageRecord"]["id"])
    assert (failed["status"], failed["errorCode"]) == ("ERROR", "RATING_FAILED")
    assert "set the record back to NEW" in failed["errorMessage"]
    assert failed["ratedAmount"] is None and failed["summary"] is None
    # AND the others of its batch are rated as if it were not there
    assert flow.usage_record(small["usageRecord"]["id"])["status"] == "PROCESSED"
    assert (flow.usage_record(data["usageRecord"]["id"])["status"],
            flow.usage_record(data["usageRecord"]["id"])["ratedAmount"]) == ("PROCESSED", "1.25")
    texts = flow.summary("acme", "TEXTS")
    assert (texts["consumedQuantity"], texts["overageQuantity"], texts["amount"], texts["usageCount"]) == (
        "100", "0", "0.00", 1)
    assert reconcile(flow.api.tenant).summary_drift == []

    # WHEN the rate is fixed and the record is set back to NEW
    repo, broken = texts_entry(flow.api.tenant)
    repo.replace(broken, replace(broken, rate=Decimal("0.75")))
    flow.api.ok(SET_STATUS, {"ids": [bad["usageRecord"]["id"]]})
    flow.drain()
    # THEN it is rated once: 900,000,000,000,000 + 100 texts, 4,000 granted, the overage at $0.75
    rated = flow.usage_record(bad["usageRecord"]["id"])
    assert (rated["status"], rated["errorCode"], rated["ratedAmount"]) == ("PROCESSED", None, "674999999997075.00")
    texts = flow.summary("acme", "TEXTS")
    assert (texts["overageQuantity"], texts["amount"], texts["usageCount"]) == (
        "899999999996100", "674999999997075.00", 2)
    report = reconcile(flow.api.tenant)
    assert report.clean, list(report.lines())
