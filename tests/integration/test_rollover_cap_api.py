"""A rollover capped by quantity through the HTTP API: the policy field, and the capped rollover as
``Account.wallets(asOf)`` shows it (the rest expires with its ledger entry)."""

from __future__ import annotations

from typing import Any

from tests.builders import GRANT, POLICY, PRODUCT, PUR, RESOURCE, START, UNIT_CLASS, activate_everything
from tests.integration.test_subscriptions_api import balances, debit, subscribe, utc, wallet

POLICY_FIELDS = """query($code: String!) { product(code: $code) { usageResources { grants {
  rolloverPolicy { rolloverAllowed rolloverCanExpire maximumRolloverCount maximumRolloverQuantity } } } } }"""


def test_a_capped_rollover_carries_at_most_the_cap_and_the_rest_expires(api: Any) -> None:
    # GIVEN 4,000 texts a month, refreshed monthly, rolling over at most 1,000 (and at most twice)
    api.ok(UNIT_CLASS, {"input": {"code": "COUNT", "name": "Count", "type": "USAGE", "baseUnitCode": "EA",
                                  "units": [{"unitCode": "EA", "name": "Each", "conversionFactor": "1"}]}})
    api.ok(RESOURCE, {"input": {"code": "TEXTS", "name": "Texts", "unitOfMeasureClassCode": "COUNT"}})
    refresh = api.ok(POLICY, {"input": {"kind": "GRANT_REFRESH", "name": "Monthly", "refreshAllowed": True,
                                        "refreshFrequency": 1, "refreshUnit": "MONTH"}})["record"]["id"]
    rollover = api.ok(POLICY, {"input": {"kind": "GRANT_ROLLOVER", "name": "Carry up to 1,000",
                                         "rolloverAllowed": True, "rolloverCanExpire": True,
                                         "maximumRolloverCount": 2, "maximumRolloverQuantity": "1000"}})
    api.ok(PRODUCT, {"input": {"code": "PLAN", "name": "Plan", "usageModelType": "ANCHOR"}})
    pur = api.ok(PUR, {"input": {"productCode": "PLAN", "resourceCode": "TEXTS", "effectiveFrom": START}})
    api.ok(GRANT, {"input": {"productUsageResourceId": pur["record"]["id"], "quantity": "4000", "validityTerm": 1,
                             "validityUnit": "MONTH", "refreshPolicyId": refresh,
                             "rolloverPolicyId": rollover["record"]["id"]}})
    activate_everything(api, "PLAN")
    product = api(POLICY_FIELDS, {"code": "PLAN"})["product"]
    assert product["usageResources"][0]["grants"][0]["rolloverPolicy"] == {
        "rolloverAllowed": True, "rolloverCanExpire": True, "maximumRolloverCount": 2,
        "maximumRolloverQuantity": "1000"}
    assert subscribe(api, externalId="sub-1", accountExternalId="acme", productCode="PLAN", startDate=START,
                     billingDayOfMonth=1)["errors"] == []
    # WHEN 1,500 texts are used in January
    debit(api.tenant, "acme", utc(2026, 1, 10), "1500", "usage-1")
    # THEN in February the 2,500 left roll over only up to 1,000 beside February's 4,000
    feb = wallet(api, "acme", utc(2026, 2, 10), ended=True)
    assert feb["balance"] == "5000"
    assert balances(feb) == {"GRANT:0:2026-01": ("4000", "0"), "REFRESH:0:2026-02": ("4000", "4000"),
                             "ROLLOVER:1:2026-02": ("1000", "1000")}
    january = next(b for b in feb["buckets"] if b["source"] == "GRANT")
    assert (january["debitedQuantity"], january["rolledOverQuantity"], january["expiredQuantity"]) == (
        "1500", "1000", "1500")
    # ... and the ledger says so: on Feb 1 a ROLLOVER of 1,000 out and an EXPIRY of the other 1,500
    feb_first = [(e["node"]["type"], e["node"]["quantity"], e["node"]["openingBalance"], e["node"]["closingBalance"])
                 for e in feb["entries"]["edges"] if e["node"]["effectiveAt"].startswith("2026-02-01")]
    assert ("ROLLOVER", "-1000", "2500", "1500") in feb_first and ("EXPIRY", "-1500", "1500", "0") in feb_first


def test_a_negative_or_too_precise_cap_is_a_typed_error(api: Any) -> None:
    for cap, code in (("-1", "NEGATIVE_QUANTITY"), ("0.0000001", "TOO_MANY_DECIMALS")):
        answer = api(POLICY, {"input": {"kind": "GRANT_ROLLOVER", "name": f"cap {cap}", "rolloverAllowed": True,
                                        "maximumRolloverQuantity": cap}})
        payload = next(iter(answer.values()))
        assert payload["record"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "maximumRolloverQuantity")]


def test_guided_setup_takes_the_cap_and_reuses_an_identical_policy(api: Any) -> None:
    from tests.builders import CONFIGURE, unit_classes

    unit_classes(api)
    grant = {"quantity": "100", "validityTerm": 1, "validityUnit": "MONTH", "maximumRolloverQuantity": "25"}
    for code in ("ONE", "TWO"):
        api.ok(CONFIGURE, {"input": {"productCode": code, "usageModelType": "ANCHOR", "productName": code,
                                     "resources": [{"resourceCode": "TEXTS", "effectiveFrom": START,
                                                    "overageRate": "0.10", "rateUnitCode": "USD",
                                                    "newResource": None if code == "TWO" else {
                                                        "name": "Texts", "unitOfMeasureClassCode": "COUNT"},
                                                    "grants": [grant]}]}})
    query = POLICY_FIELDS.replace("maximumRolloverQuantity }", "maximumRolloverQuantity id }")
    policies = [api(query, {"code": c}) for c in ("ONE", "TWO")]
    ids = {p["product"]["usageResources"][0]["grants"][0]["rolloverPolicy"]["id"] for p in policies}
    assert len(ids) == 1  # the second product reuses the first one's capped policy
    assert policies[0]["product"]["usageResources"][0]["grants"][0]["rolloverPolicy"]["maximumRolloverQuantity"] \
        == "25"
    bad = api(CONFIGURE, {"input": {"productCode": "BAD", "usageModelType": "ANCHOR", "productName": "Bad",
                                    "resources": [{"resourceCode": "TEXTS", "effectiveFrom": START,
                                                   "grants": [{**grant, "maximumRolloverQuantity": "-5"}]}]}})
    assert [(e["code"], e["field"]) for e in bad["configureUsageProduct"]["errors"]] == [
        ("NEGATIVE_QUANTITY", "resources.0.grants.0.maximumRolloverQuantity")]


def test_the_cap_can_be_updated_on_a_draft_policy(api: Any) -> None:
    created = api.ok(POLICY, {"input": {"kind": "GRANT_ROLLOVER", "name": "Cap", "rolloverAllowed": True,
                                        "maximumRolloverQuantity": "10"}})["record"]["id"]
    update = """mutation($input: UpdatePolicyInput!) { updatePolicy(input: $input) {
      record { ... on GrantRolloverPolicy { maximumRolloverQuantity } } errors { code field } } }"""
    assert api(update, {"input": {"id": created, "maximumRolloverQuantity": "12.5"}})["updatePolicy"] == {
        "record": {"maximumRolloverQuantity": "12.5"}, "errors": []}
    refused = api(update, {"input": {"id": created, "maximumRolloverQuantity": "-1"}})["updatePolicy"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NEGATIVE_QUANTITY", "maximumRolloverQuantity")]
