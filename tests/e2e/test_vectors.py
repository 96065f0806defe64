"""Every DOMAIN §5 vector end to end: products configured and activated through GraphQL, usage recorded
through GraphQL, the usage stream processed by the rate and summarize handlers, the summary read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import NOW, Flow, iso

pytestmark = pytest.mark.e2e


def pct(low: str, high: str | None, value: str) -> dict[str, Any]:
    return {"lowerBound": low, "upperBound": high, "adjustmentType": "PERCENTAGE", "adjustmentValue": value}


def override(low: str, high: str | None, value: str, fee: str | None = None) -> dict[str, Any]:
    return {"lowerBound": low, "upperBound": high, "adjustmentType": "OVERRIDE", "adjustmentValue": value,
            "flatFee": fee}


def test_vector_1_overage_of_texts_and_data_in_gb_or_mb(flow: Flow) -> None:
    # GIVEN the Cell Phone Plan (4,000 texts at $0.75, 2 GB at $1.25/GB), one account in GB, one in MB
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s-gb", "acme", "CELL")
    flow.subscribe("s-mb", "mega", "CELL")
    # WHEN 4,500 texts (two records) and 102 GB are recorded, and 104,448 MB for the other account
    results = flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "3000"},
                          {"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "1500"},
                          {"accountExternalId": "acme", "resourceCode": "DATA", "quantity": "102", "unitCode": "GB"},
                          {"accountExternalId": "mega", "resourceCode": "DATA", "quantity": "104448",
                           "unitCode": "MB"})
    flow.drain()
    # THEN texts: overage 500 → $375.00; data: overage 100 GB → $125.00, whichever unit it came in
    texts = flow.summary("acme", "TEXTS")
    assert (texts["status"], texts["consumedQuantity"], texts["overageQuantity"], texts["amount"]) == (
        "OPEN", "4500", "500", "375.00")
    assert (texts["usageCount"], texts["currency"], texts["unit"]["unitCode"]) == (2, "USD", "EA")
    for account in ("acme", "mega"):
        data = flow.summary(account, "DATA")
        assert (data["consumedQuantity"], data["debitedQuantity"], data["overageQuantity"], data["amount"]) == (
            "102", "2", "100", "125.00")
    # AND each record is PROCESSED, points at its summary, and the records' amounts add up to it
    records = [flow.usage_record(r["usageRecord"]["id"]) for r in results[:2]]
    assert [r["status"] for r in records] == ["PROCESSED", "PROCESSED"]
    assert {r["summary"]["id"] for r in records} == {texts["id"]}
    assert sum(float(r["ratedAmount"]) for r in records) == 375.0


def test_vector_2_graduated_tiers(flow: Flow) -> None:
    # GIVEN data at $0.50/GB with tiers 0–10 0 %, 10–60 10 %, 60+ 20 % (TIERED) and no grant
    flow.product("TIERED-DATA", [{"resourceCode": "DATA", "overageRate": "0.50", "tierMode": "TIERED",
                                  "tiers": [pct("0", "10", "0"), pct("10", "60", "10"), pct("60", None, "20")]}])
    flow.subscribe("s", "acme", "TIERED-DATA")
    # WHEN 100 GB are recorded in three records
    flow.record(*({"accountExternalId": "acme", "resourceCode": "DATA", "quantity": q} for q in ("5", "70", "25")))
    flow.drain()
    # THEN 10×0.50 + 50×0.45 + 40×0.40 = $43.50
    assert flow.summary("acme", "DATA")["amount"] == "43.50"


@pytest.mark.parametrize("mode,expected", [("TIERED", "30.00"), ("VOLUME", "50.00")])
def test_vector_3_slab_and_range(flow: Flow, mode: str, expected: str) -> None:
    # GIVEN minutes at $0.10 for the first 200 and $0.20 above (OVERRIDE tiers), no grant
    flow.product("MIN", [{"resourceCode": "MINUTES", "overageRate": "0.10", "tierMode": mode,
                          "tiers": [override("0", "200", "0.10"), override("200", None, "0.20")]}])
    flow.subscribe("s", "acme", "MIN")
    # WHEN 250 minutes are recorded THEN TIERED $30.00, VOLUME $50.00
    flow.record({"accountExternalId": "acme", "resourceCode": "MINUTES", "quantity": "180"},
                {"accountExternalId": "acme", "resourceCode": "MINUTES", "quantity": "70"})
    flow.drain()
    assert flow.summary("acme", "MINUTES")["amount"] == expected


def test_vector_4_volume_tiers_with_flat_fees(flow: Flow) -> None:
    # GIVEN API calls priced by VOLUME, each band with a $10 flat fee
    flow.product("API", [{"resourceCode": "CALLS", "overageRate": "0.0010", "tierMode": "VOLUME", "tiers": [
        override("0", "10000", "0.0010", "10"), override("10000", "50000", "0.0008", "10"),
        override("50000", "100000", "0.0006", "10"), override("100000", None, "0.0004", "10")]}])
    flow.subscribe("s", "acme", "API")
    # WHEN 65,000 calls are recorded THEN 65,000 × 0.0006 + 10 = $49.00
    flow.record({"accountExternalId": "acme", "resourceCode": "CALLS", "quantity": "40000"},
                {"accountExternalId": "acme", "resourceCode": "CALLS", "quantity": "25000"})
    flow.drain()
    assert flow.summary("acme", "CALLS")["amount"] == "49.00"


def test_vector_5_expiring_first_empties_the_pack_before_the_anchor(flow: Flow) -> None:
    # GIVEN the anchor's 4,000 texts (to month end) and a pack of 2,000 texts ending within the week, one wallet
    configure_cell_phone_plan(flow.api)
    week_end = NOW + timedelta(days=2)
    flow.product("PACK", [{"resourceCode": "TEXTS", "effectiveTo": iso(week_end),
                           "grants": [{"quantity": "2000", "validityTerm": 1, "validityUnit": "MONTH"}]}],
                 model="PACK")  # a pack only grants: the anchor prices its overage, and validation knows it
    flow.subscribe("anchor", "acme", "CELL", binding="ACCOUNT")
    flow.subscribe("pack", "acme", "PACK", binding="ACCOUNT")
    # WHEN 2,500 texts are used inside the week
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "2500"})
    flow.drain()
    # THEN the pack is empty, the anchor holds 3,500, and there is no overage
    wallet = next(w for w in flow.wallets("acme") if w["resource"]["code"] == "TEXTS")
    assert wallet["balance"] == "3500"
    by_source = {b["source"]: b["balance"] for b in wallet["buckets"]}
    assert by_source["GRANT"] == "3500" and by_source.get("PACK", "0") == "0"
    summary = flow.summary("acme", "TEXTS")
    assert (summary["debitedQuantity"], summary["overageQuantity"], summary["amount"]) == ("2500", "0", "0.00")


def test_vector_6_prerated_records(flow: Flow) -> None:
    # GIVEN per-unit pricing of minutes WHEN two prerated records arrive: 10 units for $7.00, 5 for $3.50
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL")
    flow.record({"accountExternalId": "acme", "resourceCode": "MINUTES", "preratedQuantity": "10",
                 "preratedAmount": "7.00"},
                {"accountExternalId": "acme", "resourceCode": "MINUTES", "preratedQuantity": "5",
                 "preratedAmount": "3.50"})
    flow.drain()
    # THEN the summary's amount includes $10.50 and its prerated quantity is 15
    summary = flow.summary("acme", "MINUTES")
    assert (summary["preratedAmount"], summary["preratedQuantity"], summary["amount"]) == ("10.50", "15", "10.50")
