"""Products whose overage is priced elsewhere activate with validation on and rate end to end (issue 13 §1): an
anchor + pack (the pack's overage priced by the anchor whose wallet it tops up) and a token plan (usage converted
to tokens, priced by the token resource's rate) — each configured by guided setup AND by manual configuration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.builders import (
    CONFIGURE,
    ENTRY,
    GRANT,
    PRODUCT,
    PUR,
    RESOURCE,
    START,
    UNIT_CLASS,
    activate_product,
    cell_phone_plan,
    configure_cell_phone_plan,
)
from tests.e2e.flow import NOW, Flow, iso

pytestmark = pytest.mark.e2e

VALIDATE = """query($codes: [String!]!) { validateUsageProducts(productCodes: $codes) { productCode valid
  errors { rule code records { objectType name } } warnings { rule code records { objectType name } } } }"""


def validation(flow: Flow, code: str) -> dict[str, Any]:
    return flow.api(VALIDATE, {"codes": [code]})["validateUsageProducts"][0]  # type: ignore[no-any-return]


def texts_wallet(flow: Flow) -> dict[str, Any]:
    return next(w for w in flow.wallets("acme") if w["resource"]["code"] == "TEXTS")


def assert_vector_5_then_anchor_priced_overage(flow: Flow) -> None:
    """Subscribe both to the account, use 2,500 texts inside the week (DOMAIN §5.5), then 4,000 more."""
    flow.subscribe("anchor", "acme", "CELL", binding="ACCOUNT")
    flow.subscribe("pack", "acme", "PACK", binding="ACCOUNT")
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "2500"})
    flow.drain()
    # THEN (vector 5) the pack is empty, the anchor holds 3,500, no overage
    wallet = texts_wallet(flow)
    assert wallet["balance"] == "3500"
    by_source = {b["source"]: b["balance"] for b in wallet["buckets"]}
    assert by_source["GRANT"] == "3500" and by_source.get("PACK", "0") == "0"
    summary = flow.summary("acme", "TEXTS")
    assert (summary["debitedQuantity"], summary["overageQuantity"], summary["amount"]) == ("2500", "0", "0.00")
    # WHEN 4,000 more texts are used THEN 3,500 come from the anchor and 500 are overage at the anchor's $0.75
    flow.record({"accountExternalId": "acme", "resourceCode": "TEXTS", "quantity": "4000"})
    flow.drain()
    summary = flow.summary("acme", "TEXTS")
    assert (summary["debitedQuantity"], summary["overageQuantity"], summary["amount"]) == ("6000", "500", "375.00")


def test_a_guided_pack_activates_with_validation_and_the_anchor_prices_its_overage(flow: Flow) -> None:
    # GIVEN a pack configured by guided setup with grants and no rate, before any anchor uses TEXTS
    configure_cell_phone_plan(flow.api, activate=False)  # the anchor exists but is DRAFT
    week_end = NOW + timedelta(days=2)
    flow.product("PACK", [{"resourceCode": "TEXTS", "effectiveTo": iso(week_end),
                           "grants": [{"quantity": "2000", "validityTerm": 1, "validityUnit": "MONTH"}]}],
                 model="PACK", activate=False)
    # THEN while the only anchor with TEXTS is DRAFT, the pack is refused, naming the pack's PUR and the anchor
    before = validation(flow, "PACK")
    assert not before["valid"]
    [error] = before["errors"]
    assert (error["rule"], error["code"]) == ("CHARGEABLE_OVERAGE_WITHOUT_RATE", "NO_ACTIVE_ANCHOR_RATE")
    assert [r["objectType"] for r in error["records"]] == ["ProductUsageResource", "Product"]
    # WHEN the anchor is activated THEN the pack activates with validation on (the default)
    activate_product(flow.api, "CELL")
    activated = activate_product(flow.api, "PACK")
    assert activated["record"]["status"] == "ACTIVE" and activated["validation"]["valid"]
    assert_vector_5_then_anchor_priced_overage(flow)


def test_a_manually_configured_pack_activates_with_validation_and_the_anchor_prices_its_overage(flow: Flow) -> None:
    # GIVEN the Cell Phone Plan and a pack built record by record (product, PUR, grant; no rate card entry)
    cell_phone_plan(flow.api)
    activate_product(flow.api, "CELL")
    flow.api.ok(PRODUCT, {"input": {"code": "PACK", "name": "Text pack", "usageModelType": "PACK"}})
    pur = flow.api.ok(PUR, {"input": {"productCode": "PACK", "resourceCode": "TEXTS", "effectiveFrom": START,
                                      "effectiveTo": iso(NOW + timedelta(days=2))}})["record"]
    flow.api.ok(GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": "2000", "validityTerm": 1,
                                  "validityUnit": "MONTH"}})
    # WHEN activated with validation on THEN it is ACTIVE, and rates like vector 5
    assert activate_product(flow.api, "PACK")["record"]["status"] == "ACTIVE"
    assert_vector_5_then_anchor_priced_overage(flow)


def test_a_pack_with_no_anchor_for_its_resource_yet_is_only_warned_about(flow: Flow) -> None:
    # GIVEN a pack of a resource no anchor uses
    flow.product("LONELY", [{"resourceCode": "SEATS",
                             "grants": [{"quantity": "5", "validityTerm": 1, "validityUnit": "MONTH"}]}],
                 model="PACK", activate=False)
    # THEN it is valid with a warning naming its PUR, and activates
    found = validation(flow, "LONELY")
    assert found["valid"] and found["errors"] == []
    assert [(w["code"], [r["objectType"] for r in w["records"]]) for w in found["warnings"]] == [
        ("NO_ANCHOR_FOR_PACK", ["ProductUsageResource"])]
    assert activate_product(flow.api, "LONELY")["record"]["status"] == "ACTIVE"


def credits_class(flow: Flow) -> None:
    flow.api.ok(UNIT_CLASS, {"input": {"code": "CREDITS", "name": "Credits", "type": "TOKEN", "baseUnitCode": "CR",
                                       "units": [{"unitCode": "CR", "name": "Credit", "conversionFactor": "1"}]}})


def assert_tokens_rate(flow: Flow) -> None:
    """1,000 credits a month at $0.01 a credit beyond; DATA converts at 10 credits a GB."""
    flow.subscribe("s", "acme", "AI")
    # WHEN 150 GB of data are used (two records) THEN 1,500 credits: 1,000 granted, 500 overage at $0.01 = $5.00
    flow.record({"accountExternalId": "acme", "resourceCode": "DATA", "quantity": "100"},
                {"accountExternalId": "acme", "resourceCode": "DATA", "quantity": "50"})
    flow.drain()
    summary = flow.summary("acme", "CREDITS")
    assert (summary["consumedQuantity"], summary["debitedQuantity"], summary["overageQuantity"],
            summary["amount"], summary["currency"]) == ("1500", "1000", "500", "5.00", "USD")
    assert summary["usageCount"] == 2


def test_a_guided_token_plan_activates_with_validation_and_prices_with_the_token_rate(flow: Flow) -> None:
    # GIVEN a token plan by guided setup: CREDITS (a TOKEN resource) granted 1,000 a month at $0.01 beyond, and
    # DATA converting to 10 credits a GB, with no grant and no rate of its own
    flow.product("CELL-UNITS", [{"resourceCode": "TEXTS", "overageRate": "0.75"}], activate=False)  # unit classes
    credits_class(flow)
    flow.api.ok(CONFIGURE, {"input": {"productCode": "AI", "productName": "AI plan", "usageModelType": "ANCHOR",
                                      "resources": [
        {"resourceCode": "CREDITS", "effectiveFrom": START, "overageRate": "0.01", "rateUnitCode": "USD",
         "newResource": {"name": "Credits", "category": "TOKEN", "unitOfMeasureClassCode": "CREDITS"},
         "grants": [{"quantity": "1000", "validityTerm": 1, "validityUnit": "MONTH"}]},
        {"resourceCode": "DATA", "effectiveFrom": START,
         "newResource": {"name": "Data", "unitOfMeasureClassCode": "DATA", "tokenResourceCode": "CREDITS",
                         "tokensPerUnit": "10"}}]}})
    # WHEN activated with validation on THEN it is ACTIVE and rates with the token rate
    activated = activate_product(flow.api, "AI")
    assert activated["record"]["status"] == "ACTIVE" and activated["validation"]["errors"] == []
    assert_tokens_rate(flow)


def test_a_manually_configured_token_plan_activates_with_validation(flow: Flow) -> None:
    # GIVEN the same token plan built record by record
    flow.product("CELL-UNITS", [{"resourceCode": "TEXTS", "overageRate": "0.75"}], activate=False)  # unit classes
    credits_class(flow)
    flow.api.ok(RESOURCE, {"input": {"code": "CREDITS", "name": "Credits", "category": "TOKEN",
                                     "unitOfMeasureClassCode": "CREDITS"}})
    flow.api.ok(RESOURCE, {"input": {"code": "DATA", "name": "Data", "unitOfMeasureClassCode": "DATA",
                                     "tokenResourceCode": "CREDITS", "tokensPerUnit": "10"}})
    flow.api.ok(PRODUCT, {"input": {"code": "AI", "name": "AI plan", "usageModelType": "ANCHOR"}})
    card = flow.api.ok("""mutation($input: CreateRateCardInput!) { createRateCard(input: $input) {
      record { id } errors { code message field } } }""",
                       {"input": {"name": "AI rates", "type": "BASE", "effectiveFrom": START}})["record"]
    for resource in ("CREDITS", "DATA"):
        pur = flow.api.ok(PUR, {"input": {"productCode": "AI", "resourceCode": resource,
                                          "effectiveFrom": START}})["record"]
        if resource == "CREDITS":
            flow.api.ok(GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": "1000",
                                          "validityTerm": 1, "validityUnit": "MONTH"}})
    # THEN before the token rate exists, DATA is refused naming the token resource to price
    errors = validation(flow, "AI")["errors"]
    assert sorted(e["code"] for e in errors) == ["MISSING_RATE", "MISSING_TOKEN_RATE"]
    token_error = next(e for e in errors if e["code"] == "MISSING_TOKEN_RATE")
    assert [r["objectType"] for r in token_error["records"]] == ["ProductUsageResource", "UsageResource"]
    # WHEN the token rate is added THEN it activates with validation on and rates with it
    flow.api.ok(ENTRY, {"input": {"rateCardId": card["id"], "resourceCode": "CREDITS", "productCode": "AI",
                                  "rate": "0.01", "rateUnitCode": "USD"}})
    assert activate_product(flow.api, "AI")["record"]["status"] == "ACTIVE"
    assert_tokens_rate(flow)
