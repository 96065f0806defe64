"""Issue 15 §2, §3, §6 through the HTTP API: absurd Decimals, date-times and texts get a typed INVALID_VALUE naming
the field — catalog (manual and guided), subscriptions and usage alike — and one bad usage record never sinks a
recordUsage call. Each case answered "Unexpected error." (or was accepted) before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.builders import CARD, CONFIGURE, ENTRY, GRANT, PRODUCT, PUR, RESOURCE, START, active_usage_catalog

RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) {
  accepted rejected errors { code message field }
  results { index idempotencyKey outcome errors { code message field } usageRecord { id quantity } } } }"""
GET = "query($id: ID!) { usageRecord(id: $id) { idempotencyKey quantity status } }"
SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  record { externalId quantity } errors { code message field } } }"""
UNIT = """mutation($input: CreateUnitOfMeasureInput!) { createUnitOfMeasure(input: $input) {
  record { unitCode } errors { code message field } } }"""
HOSTILE = ["1E+100", "1e309", "1" * 45, "1E+999999999"]


def post(api: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST with the JSON escaped as ASCII, so a lone surrogate travels as the JSON escape "\\ud800" it is."""
    response = api.client.post("/graphql", content=json.dumps({"query": query, "variables": variables}),
                               headers={"Authorization": f"Bearer {api.key}", "content-type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def typed_errors(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(code, field) of a refusal: the payload's typed errors, or the operation's errors with extensions.code.
    Fails on a masked error (no code)."""
    found: list[tuple[str, str | None]] = []
    for error in body.get("errors") or []:
        assert error["message"] != "Unexpected error.", body
        assert "code" in (error.get("extensions") or {}), body
        found.append((error["extensions"]["code"], error["extensions"].get("field")))
        assert len(error["message"]) < 300, error["message"]
    for payload in (body.get("data") or {}).values():
        for error in (payload or {}).get("errors") or []:
            found.append((error["code"], error["field"]))
            assert len(error["message"]) < 300, error["message"]
    return found


def rec(key: str, **fields: Any) -> dict[str, Any]:
    record = {"idempotencyKey": key, "accountExternalId": "acme", "resourceCode": "DATA", "quantity": "1.5",
              "startTime": "2026-07-01T10:00:00Z"}
    record.update(fields)
    return record


@pytest.fixture
def catalog(api: Any) -> Any:
    active_usage_catalog(api.tenant)
    return api


# ---------------------------------------------------------------------------------------------- recordUsage (§3)
def test_one_hostile_record_never_sinks_a_record_usage_call(catalog: Any) -> None:
    api = catalog
    # GIVEN good records around records holding 1E+999999999 (decimal.Overflow), a lone surrogate in the
    # idempotency key, 1e309, 45 digits, NaN, and a start time that underflows on conversion to UTC
    batch = [rec("good-1"), rec("overflow", quantity="1E+999999999"), rec("\ud800"), rec("huge", quantity="1e309"),
             rec("digits", quantity="1" * 45), rec("nan", quantity="NaN"),
             rec("early", startTime="0001-01-01T00:00:00+01:00"), rec("surrogate-account", accountExternalId="\udfff"),
             rec("prerated", quantity=None, preratedAmount="1E+100", preratedQuantity="1"), rec("good-2")]
    # WHEN it is sent
    body = post(api, RECORD, {"records": batch})
    # THEN the call answers every record: the hostile ones REJECTED with INVALID_VALUE on their field
    assert "errors" not in body, body
    payload = body["data"]["recordUsage"]
    got = [(r["outcome"], [(e["code"], e["field"]) for e in r["errors"]]) for r in payload["results"]]
    invalid = "REJECTED"
    assert got == [("ACCEPTED", []), (invalid, [("INVALID_VALUE", "quantity")]),
                   (invalid, [("INVALID_VALUE", "idempotencyKey")]), (invalid, [("INVALID_VALUE", "quantity")]),
                   (invalid, [("INVALID_VALUE", "quantity")]), (invalid, [("INVALID_VALUE", "quantity")]),
                   (invalid, [("INVALID_VALUE", "startTime")]), (invalid, [("INVALID_VALUE", "accountExternalId")]),
                   (invalid, [("INVALID_VALUE", "preratedAmount")]), ("ACCEPTED", [])]
    assert (payload["accepted"], payload["rejected"]) == (2, 8)
    assert payload["results"][2]["idempotencyKey"] == "\ufffd"  # echoed as text JSON can carry
    # AND the good records are stored
    for result in (payload["results"][0], payload["results"][9]):
        stored = api(GET, {"id": result["usageRecord"]["id"]})["usageRecord"]
        assert (stored["status"], stored["quantity"]) == ("NEW", "1.5")


def test_a_quantity_beyond_the_bounds_in_the_resources_unit_is_rejected(catalog: Any) -> None:
    # GIVEN DATA rated in GB WHEN 10^12 TB (10^15 GB) is sent THEN that record is REJECTED, the other stored
    payload = post(catalog, RECORD, {"records": [rec("tb", quantity="1000000000000", unitCode="TB"),
                                                 rec("ok", quantity="1000", unitCode="TB")]})["data"]["recordUsage"]
    assert [(r["outcome"], [e["field"] for e in r["errors"]]) for r in payload["results"]] == [
        ("REJECTED", ["quantity"]), ("ACCEPTED", [])]


# ---------------------------------------------------------------------------------------------- subscriptions (§6)
@pytest.mark.parametrize("quantity,field", [("1e21", "input.quantity"), ("2000000", "quantity"),
                                            ("1.0000001", "quantity")])
def test_an_absurd_subscription_quantity_is_a_typed_error(catalog: Any, quantity: str, field: str) -> None:
    # GIVEN the ACTIVE product PLAN WHEN a subscription asks for 1e21 (masked "Unexpected error." before)
    body = post(catalog, SUBSCRIBE, {"input": {"externalId": "s-1", "accountExternalId": "a-1", "productCode": "PLAN",
                                               "startDate": START, "quantity": quantity}})
    # THEN a typed error names the quantity, and nothing was created
    assert [f for _, f in typed_errors(body)] == [field]
    assert typed_errors(body)[0][0] in ("INVALID_VALUE", "TOO_MANY_DECIMALS")


# ---------------------------------------------------------------------------------------------- catalog (§2, §6)
def test_absurd_catalog_values_are_refused_naming_the_field(api: Any) -> None:
    # GIVEN a product with a resource, a PUR and a rate card
    api.ok(UNIT_CLASS_COUNT, {})
    api.ok(RESOURCE, {"input": {"code": "TEXTS", "name": "Texts", "unitOfMeasureClassCode": "COUNT"}})
    api.ok(PRODUCT, {"input": {"code": "P", "name": "Plan", "usageModelType": "ANCHOR"}})
    pur = api.ok(PUR, {"input": {"productCode": "P", "resourceCode": "TEXTS", "effectiveFrom": START}})["record"]
    card = api.ok(CARD, {"input": {"name": "Rates", "type": "BASE", "effectiveFrom": START}})["record"]

    def entry(**fields: Any) -> dict[str, Any]:
        return {"rateCardId": card["id"], "resourceCode": "TEXTS", "rate": "0.75", "rateUnitCode": "USD", **fields}

    tiers = [{"lowerBound": "0", "upperBound": "10", "adjustmentType": "PERCENTAGE", "adjustmentValue": "0"},
             {"lowerBound": "10", "adjustmentType": "PERCENTAGE", "adjustmentValue": "10"}]
    cases: list[tuple[str, dict[str, Any], set[str | None]]] = []
    for value in HOSTILE:
        cases += [
            (ENTRY, {"input": entry(rate=value)}, {"input.rate"}),
            (GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": value, "validityTerm": 1,
                               "validityUnit": "MONTH"}}, {"input.quantity"}),
            (UNIT, {"input": {"classCode": "COUNT", "unitCode": "DOZ", "name": "Dozen", "conversionFactor": value}},
             {"input.conversionFactor"}),
            (ENTRY, {"input": entry(tierMode="TIERED", tiers=[{**tiers[0], "upperBound": value}, tiers[1]])},
             {"input.tiers.0.upperBound"}),
        ]
    # within what any Decimal may be, but beyond the field's kind: refused in the payload, naming the field
    cases += [
        (ENTRY, {"input": entry(rate="2000000000")}, {"rate"}),
        (ENTRY, {"input": entry(rate="0.00000000001")}, {"rate"}),
        (GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": "10000000000000000", "validityTerm": 1,
                           "validityUnit": "MONTH"}}, {"quantity"}),
        (UNIT, {"input": {"classCode": "COUNT", "unitCode": "DOZ", "name": "Dozen",
                          "conversionFactor": "100000000000000"}}, {"conversionFactor"}),
        (ENTRY, {"input": entry(tierMode="TIERED", tiers=[{**tiers[0], "upperBound": "1E+16"},
                                                          {**tiers[1], "lowerBound": "1E+16"}])},
         {"tiers.0.upperBound", "tiers.1.lowerBound"}),
        (ENTRY, {"input": entry(tierMode="TIERED", tiers=[tiers[0], {**tiers[1], "flatFee": "1E+16"}])},
         {"tiers.1.flatFee"}),
        (RESOURCE, {"input": {"code": "BIG", "name": "x" * 500_000, "unitOfMeasureClassCode": "COUNT"}}, {"name"}),
        (PRODUCT, {"input": {"code": "Q", "name": "\ud800", "usageModelType": "ANCHOR"}}, {"name"}),
        (PRODUCT, {"input": {"code": "x" * 500_000, "name": "n", "usageModelType": "ANCHOR"}}, {"code"}),
        (CARD, {"input": {"name": "Later", "type": "BASE", "effectiveFrom": "0001-01-01T00:00:00+01:00"}},
         {"input.effectiveFrom"}),
        (CARD, {"input": {"name": "Later", "type": "BASE", "effectiveFrom": "9999-12-31T23:59:59-01:00"}},
         {"input.effectiveFrom"}),
    ]
    for mutation, variables, fields in cases:
        # WHEN each is sent THEN a typed error names the field (no masked error, no 500 KB message)
        body = post(api, mutation, variables)
        found = typed_errors(body)
        assert found and {f for _, f in found} == fields, (variables, body)
        assert {c for c, _ in found} <= {"INVALID_VALUE", "TOO_MANY_DECIMALS"}, body
    # AND nothing of it was stored
    cards = api("{ rateCards { name entries { id } } }")["rateCards"]
    assert [(c["name"], c["entries"]) for c in cards] == [("Rates", [])]


UNIT_CLASS_COUNT = ("mutation { createUnitOfMeasureClass(input: {code: \"COUNT\", name: \"Count\", type: USAGE, "
                    "baseUnitCode: \"EA\", units: [{unitCode: \"EA\", name: \"Each\", conversionFactor: \"1\"}]}) "
                    "{ errors { code message field } } }")


@pytest.mark.parametrize("resource,field", [
    ({"overageRate": "1E+100"}, "input.resources.0.overageRate"),
    ({"overageRate": "2000000000"}, "resources.0.overageRate"),
    ({"grants": [{"quantity": "1E+16", "validityTerm": 1, "validityUnit": "MONTH"}]}, "resources.0.grants.0.quantity"),
    ({"grants": [{"quantity": "1e309", "validityTerm": 1, "validityUnit": "MONTH"}]},
     "input.resources.0.grants.0.quantity"),
    ({"newResource": {"name": "T" * 257, "unitOfMeasureClassCode": "COUNT"}}, "resources.0.newResource.name"),
    ({"effectiveFrom": "0001-01-01T00:00:00+01:00"}, "input.resources.0.effectiveFrom"),
])
def test_guided_setup_refuses_absurd_values_naming_the_field(api: Any, resource: dict[str, Any], field: str) -> None:
    # GIVEN guided setup of one resource WHEN one of its values is absurd THEN a typed error names it
    api.ok(UNIT_CLASS_COUNT, {})
    item = {"resourceCode": "TEXTS", "effectiveFrom": START, "overageRate": "0.75", "rateUnitCode": "USD",
            "newResource": {"name": "Texts", "unitOfMeasureClassCode": "COUNT"}, **resource}
    body = post(api, CONFIGURE, {"input": {"productCode": "P", "usageModelType": "ANCHOR", "resources": [item]}})
    assert [f for _, f in typed_errors(body)] == [field], body
    assert api('{ product(code: "P") { code } }')["product"] is None


def test_a_key_that_may_not_call_an_operation_hears_forbidden_whatever_value_it_sent(api: Any) -> None:
    # GIVEN a VIEWER key WHEN it sends a catalog mutation with an absurd Decimal (and a PARTNER key the same)
    for role in ("VIEWER", "PARTNER"):
        from core.auth import Role

        caller = api.as_role(Role[role])
        body = post(caller, ENTRY, {"input": {"rateCardId": "x", "rate": "1E+999999999", "rateUnitCode": "USD"}})
        # THEN the answer is FORBIDDEN (the role check comes first), not INVALID_VALUE
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    # AND an ADMIN key hears INVALID_VALUE naming the field
    assert typed_errors(post(api, ENTRY, {"input": {"rateCardId": "x", "rate": "1E+999999999",
                                                    "rateUnitCode": "USD"}})) == [("INVALID_VALUE", "input.rate")]


@pytest.mark.parametrize("selection,field", [
    ('usageSummaries(from: "0001-01-01T00:00:00+01:00") { edges { cursor } }', "from"),
    ('usageSummaries(to: "9999-12-31T23:59:59-01:00") { edges { cursor } }', "to"),
    ('wallets(asOf: "NaN") { balance }', "asOf"),
])
def test_a_bad_date_time_in_a_nested_field_is_a_typed_error(catalog: Any, selection: str, field: str) -> None:
    # GIVEN an account WHEN a nested field gets a date-time out of range (masked "Unexpected error." before)
    catalog.ok(SUBSCRIBE, {"input": {"externalId": "s-1", "accountExternalId": "a-1", "productCode": "PLAN",
                                     "startDate": START}})
    body = post(catalog, '{ account(externalId: "a-1") { ' + selection + " } }", {})
    # THEN INVALID_VALUE names the argument
    assert typed_errors(body) == [("INVALID_VALUE", field)]


@pytest.mark.parametrize("grant,quantity", [("1E+100", "1"), ("100000000000000", "1000")])
def test_a_grant_too_large_to_subscribe_is_a_typed_error(catalog: Any, grant: str, quantity: str) -> None:
    # GIVEN the ACTIVE product PLAN granting texts — 1E+100 a month, stored before bounds existed (past validation),
    # or 10^14, within bounds but too much together with the subscription quantity
    from datetime import UTC, datetime
    from decimal import Decimal

    from core.catalog import ProductUsageGrant, RecordStatus
    from core.grants import ValidityUnit
    from infra.catalog_repo import CatalogRepository
    from infra.keys import grant_id, new_ulid

    repo = CatalogRepository(catalog.tenant)
    [pur] = repo.purs_of_product("PLAN")
    repo.insert(ProductUsageGrant(grant_id(pur.id, new_ulid()), "PLAN", pur.id, "GRANT", Decimal(grant), "EA", 1,
                                  ValidityUnit.MONTH, datetime(2026, 1, 1, tzinfo=UTC), status=RecordStatus.ACTIVE))
    # WHEN an account subscribes (masked "Unexpected error." before)
    body = post(catalog, SUBSCRIBE, {"input": {"externalId": "s-1", "accountExternalId": "a-1", "productCode": "PLAN",
                                               "startDate": START, "quantity": quantity}})
    # THEN a typed INVALID_VALUE says so, and no subscription exists
    assert typed_errors(body) == [("INVALID_VALUE", "quantity")]
    assert catalog('{ account(externalId: "a-1") { externalId } }')["account"] is None


def test_terms_beyond_the_calendar_are_typed_errors(catalog: Any) -> None:
    # GIVEN the ACTIVE product PLAN WHEN a subscription's billing term is 2^31 - 1 months (accepted before; its
    # usage then failed every rating attempt with "year 178958996 is out of range")
    body = post(catalog, SUBSCRIBE, {"input": {"externalId": "s-1", "accountExternalId": "a-1", "productCode": "PLAN",
                                               "startDate": START, "billingTerm": 2147483647}})
    # THEN INVALID_VALUE names it
    assert typed_errors(body) == [("INVALID_VALUE", "billingTerm")]
    # AND guided setup's grant terms alike
    item = {"resourceCode": "TEXTS", "effectiveFrom": START, "overageRate": "0.75", "rateUnitCode": "USD",
            "grants": [{"quantity": "10", "validityTerm": 2147483647, "validityUnit": "MONTH",
                        "refreshEvery": 2147483647, "refreshUnit": "MONTH"}]}
    body = post(catalog, CONFIGURE, {"input": {"productCode": "P2", "usageModelType": "ANCHOR", "resources": [item]}})
    assert {f for _, f in typed_errors(body)} == {"resources.0.grants.0.validityTerm",
                                                  "resources.0.grants.0.refreshEvery"}
