"""The catalog through the HTTP API: nested reads, manual configuration, status rules, typed errors, auth."""

from __future__ import annotations

from typing import Any

from tests.builders import CARD, ENTRY, GRANT, POLICY, PRODUCT, PUR, RESOURCE, START, cell_phone_plan, unit_classes

NESTED = """query($code: String!) { product(code: $code) { code name usageModelType status
  usageResources { id effectiveFrom effectiveTo status
    resource { code category unitOfMeasureClass { code baseUnit { unitCode } units { unitCode conversionFactor } }
               defaultUnit { unitCode } }
    grants { type quantity unit { unitCode } validityTerm validityUnit drawdownOrder status }
    rates { rate rateUnit { unitCode } tierMode tiers { lowerBound upperBound adjustmentType adjustmentValue } }
    effectivePolicy { aggregationMethod aggregationPeriod overageChargeable ratingDelayDays commitmentRate } } } }"""


def errors_of(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_nested_product_configuration_reads_back_in_one_query(api: Any) -> None:
    # GIVEN the Cell Phone Plan configured by hand
    cell_phone_plan(api)
    # WHEN a front end reads it nested
    product = api(NESTED, {"code": "CELL"})["product"]
    # THEN every level is there
    assert product["name"] == "Cell Phone Plan" and product["status"] == "DRAFT"
    by_resource = {p["resource"]["code"]: p for p in product["usageResources"]}
    assert set(by_resource) == {"TEXTS", "DATA", "MINUTES"}
    data = by_resource["DATA"]
    assert data["resource"]["defaultUnit"]["unitCode"] == "GB"
    assert data["resource"]["unitOfMeasureClass"]["baseUnit"]["unitCode"] == "MB"
    assert {u["unitCode"]: u["conversionFactor"] for u in data["resource"]["unitOfMeasureClass"]["units"]}["GB"] \
        == "1024"
    assert data["grants"] == [{"type": "GRANT", "quantity": "2", "unit": {"unitCode": "GB"}, "validityTerm": 1,
                               "validityUnit": "MONTH", "drawdownOrder": "EXPIRING_FIRST", "status": "DRAFT"}]
    assert data["rates"][0]["rate"] == "1.25" and data["rates"][0]["rateUnit"]["unitCode"] == "USD"
    assert data["effectivePolicy"] == {"aggregationMethod": "SUM", "aggregationPeriod": "MONTHLY",
                                       "overageChargeable": True, "ratingDelayDays": 3,
                                       "commitmentRate": "LOWEST_COMMITMENT_RATE"}


def test_every_tenant_starts_with_the_currency_class(api: Any) -> None:
    classes = api("{ unitOfMeasureClasses { code type units { unitCode status } } }")["unitOfMeasureClasses"]
    currency = next(c for c in classes if c["code"] == "CURRENCY")
    assert currency["type"] == "CURRENCY"
    assert {"USD", "EUR", "GBP", "JPY", "INR"} <= {u["unitCode"] for u in currency["units"]}


def test_duplicate_code_is_a_typed_error(api: Any) -> None:
    api.ok(PRODUCT, {"input": {"code": "P1", "name": "One", "usageModelType": "ANCHOR"}})
    again = api(PRODUCT, {"input": {"code": "P1", "name": "Other", "usageModelType": "PACK"}})["createProduct"]
    assert again["record"] is None and errors_of(again) == ["DUPLICATE_CODE"]


def test_unknown_references_and_invalid_values_are_reported_per_field(api: Any) -> None:
    unit_classes(api)
    bad = api(RESOURCE, {"input": {"code": "X", "name": "X", "unitOfMeasureClassCode": "NOPE"}})
    assert errors_of(bad["createUsageResource"]) == ["UNKNOWN_REFERENCE"]
    wrong_unit = api(RESOURCE, {"input": {"code": "X", "name": "X", "unitOfMeasureClassCode": "DATA",
                                          "defaultUnitCode": "MIN"}})["createUsageResource"]
    assert errors_of(wrong_unit) == ["UNIT_NOT_IN_CLASS"] and wrong_unit["errors"][0]["field"] == "defaultUnitCode"
    api.ok(RESOURCE, {"input": {"code": "DATA", "name": "Data", "unitOfMeasureClassCode": "DATA"}})
    api.ok(PRODUCT, {"input": {"code": "P", "name": "P", "usageModelType": "ANCHOR"}})
    backwards = api(PUR, {"input": {"productCode": "P", "resourceCode": "DATA", "effectiveFrom": START,
                                    "effectiveTo": "2025-01-01T00:00:00Z"}})["createProductUsageResource"]
    assert errors_of(backwards) == ["INVALID_RANGE"]
    pur = api.ok(PUR, {"input": {"productCode": "P", "resourceCode": "DATA", "effectiveFrom": START}})["record"]
    negative = api(GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": "-1", "validityTerm": 1,
                                     "validityUnit": "MONTH", "unitCode": "MIN"}})["createProductUsageGrant"]
    assert sorted(errors_of(negative)) == ["NEGATIVE_QUANTITY", "UNIT_NOT_IN_CLASS"]
    card = api.ok(CARD, {"input": {"name": "c", "effectiveFrom": START}})["record"]
    tiers = [{"lowerBound": "0", "upperBound": "10", "adjustmentType": "PERCENTAGE", "adjustmentValue": "0"},
             {"lowerBound": "10", "upperBound": "5", "adjustmentType": "PERCENTAGE", "adjustmentValue": "10"}]
    inverted = api(ENTRY, {"input": {"rateCardId": card["id"], "resourceCode": "DATA", "rate": "1",
                                     "rateUnitCode": "USD", "tierMode": "TIERED", "tiers": tiers}})
    assert "INVALID_RANGE" in errors_of(inverted["createRateCardEntry"])
    not_money = api(ENTRY, {"input": {"rateCardId": card["id"], "resourceCode": "DATA", "rate": "1",
                                      "rateUnitCode": "GB"}})["createRateCardEntry"]
    assert errors_of(not_money) == ["UNIT_NOT_IN_CLASS"]


ACTIVATE_PRODUCT = """mutation($code: String!, $status: RecordStatus) { updateProduct(input: {code: $code,
  status: $status}) { record { status } errors { code message field } } }"""
DELETE_PRODUCT = "mutation($code: String!) { deleteProduct(code: $code) { deletedId errors { code } } }"
UPDATE_PUR = """mutation($input: UpdateProductUsageResourceInput!) { updateProductUsageResource(input: $input) {
  record { effectiveTo status } errors { code field } } }"""
UPDATE_ENTRY = """mutation($input: UpdateRateCardEntryInput!) { updateRateCardEntry(input: $input) {
  record { rate status } errors { code } } }"""


def test_status_rules_guard_active_records(api: Any) -> None:
    ids = cell_phone_plan(api)
    # a record cannot become ACTIVE while what it points at is DRAFT
    pur_id = ids["purs"]["DATA"]
    early = api(UPDATE_PUR, {"input": {"id": pur_id, "status": "ACTIVE"}})["updateProductUsageResource"]
    assert errors_of(early) == ["INACTIVE_REFERENCE"]
    api.ok(ACTIVATE_PRODUCT, {"code": "CELL", "status": "ACTIVE"})
    api.ok("""mutation { updateUnitOfMeasureClass(input: {code: "DATA", status: ACTIVE}) { errors { code } } }""")
    for unit in ("MB", "GB", "TB"):
        api.ok("mutation($u: String!) { updateUnitOfMeasure(input: {unitCode: $u, status: ACTIVE}) { errors { code } } }",  # noqa: E501
               {"u": unit})
    api.ok("""mutation { updateUsageResource(input: {code: "DATA", status: ACTIVE}) { errors { code } } }""")
    api.ok(UPDATE_PUR, {"input": {"id": pur_id, "effectiveTo": "2027-01-01T00:00:00Z"}})
    api.ok(UPDATE_PUR, {"input": {"id": pur_id, "status": "ACTIVE"}})
    # ACTIVE: delete refused, end date may only be extended
    assert errors_of(api(DELETE_PRODUCT, {"code": "CELL"})["deleteProduct"]) == ["STATUS_FORBIDS"]
    shorter = api(UPDATE_PUR, {"input": {"id": pur_id, "effectiveTo": "2026-06-01T00:00:00Z"}})
    assert errors_of(shorter["updateProductUsageResource"]) == ["STATUS_FORBIDS"]
    moved = api(UPDATE_PUR, {"input": {"id": pur_id, "effectiveFrom": "2026-02-01T00:00:00Z"}})
    assert errors_of(moved["updateProductUsageResource"]) == ["STATUS_FORBIDS"]
    longer = api.ok(UPDATE_PUR, {"input": {"id": pur_id, "effectiveTo": "2028-01-01T00:00:00Z"}})
    assert longer["record"]["effectiveTo"] == "2028-01-01T00:00:00Z"
    # an ACTIVE rate card entry is immutable; INACTIVE -> ACTIVE is allowed
    purs = api("""{ product(code: "CELL") { usageResources { resource { code } rates { id } } } }""")["product"]
    entry = next(p for p in purs["usageResources"] if p["resource"]["code"] == "DATA")["rates"][0]["id"]
    api.ok(f'mutation {{ updateRateCard(input: {{id: "{ids["card"]}", status: ACTIVE}}) {{ errors {{ code }} }} }}')
    api.ok(UPDATE_ENTRY, {"input": {"id": entry, "status": "ACTIVE"}})
    frozen = api(UPDATE_ENTRY, {"input": {"id": entry, "rate": "9.99"}})["updateRateCardEntry"]
    assert errors_of(frozen) == ["STATUS_FORBIDS"]
    api.ok(UPDATE_ENTRY, {"input": {"id": entry, "status": "INACTIVE"}})
    assert api.ok(UPDATE_ENTRY, {"input": {"id": entry, "status": "ACTIVE"}})["record"]["status"] == "ACTIVE"


def test_draft_records_are_deleted_children_first(api: Any) -> None:
    ids = cell_phone_plan(api)
    refused = api(DELETE_PRODUCT, {"code": "CELL"})["deleteProduct"]
    assert errors_of(refused) == ["STATUS_FORBIDS"]
    in_use = api('mutation { deleteUsageResource(code: "DATA") { errors { code } } }')["deleteUsageResource"]
    assert errors_of(in_use) == ["STATUS_FORBIDS"]
    for pur_id in ids["purs"].values():
        grants = api("""query { product(code: "CELL") { usageResources { id grants { id } } } }""")
        for pur in grants["product"]["usageResources"]:
            if pur["id"] == pur_id:
                for g in pur["grants"]:
                    api.ok("mutation($id: ID!) { deleteProductUsageGrant(id: $id) { errors { code } } }",
                           {"id": g["id"]})
        api.ok("mutation($id: ID!) { deleteProductUsageResource(id: $id) { errors { code } } }", {"id": pur_id})
    assert api(DELETE_PRODUCT, {"code": "CELL"})["deleteProduct"]["errors"] == []
    assert api(NESTED, {"code": "CELL"})["product"] is None


def test_effective_policy_prefers_the_product_override(api: Any) -> None:
    ids = cell_phone_plan(api)
    peak = api.ok(POLICY, {"input": {"kind": "AGGREGATION", "name": "Peak daily", "aggregationMethod": "PEAK",
                                     "aggregationPeriod": "DAILY"}})["record"]["id"]
    free = api.ok(POLICY, {"input": {"kind": "OVERAGE", "name": "Free overage", "chargeable": False}})["record"]["id"]
    delay = api.ok(POLICY, {"input": {"kind": "RATING_FREQUENCY", "name": "Late 5", "ratingPeriod": "MONTHLY",
                                      "delay": 5, "delayUnit": "DAY"}})["record"]["id"]
    api.ok("""mutation($i: ResourcePolicyInput!) { setResourcePolicy(input: $i) { errors { code field } } }""",
           {"i": {"resourceCode": "DATA", "policies": {"aggregationPolicyId": peak, "ratingFrequencyPolicyId": delay}}})
    api.ok("""mutation($i: ProductResourcePolicyInput!) { setProductResourcePolicy(input: $i) {
              errors { code field } } }""",
           {"i": {"productUsageResourceId": ids["purs"]["DATA"], "policies": {"overagePolicyId": free}}})
    wrong_kind = api("""mutation($i: ProductResourcePolicyInput!) { setProductResourcePolicy(input: $i) {
              errors { code field } } }""",
                     {"i": {"productUsageResourceId": ids["purs"]["DATA"], "policies": {"aggregationPolicyId": free}}})
    assert errors_of(wrong_kind["setProductResourcePolicy"]) == ["INVALID_VALUE"]
    purs = api(NESTED, {"code": "CELL"})["product"]["usageResources"]
    data = next(p for p in purs if p["resource"]["code"] == "DATA")["effectivePolicy"]
    assert data == {"aggregationMethod": "PEAK", "aggregationPeriod": "DAILY", "overageChargeable": False,
                    "ratingDelayDays": 5, "commitmentRate": "LOWEST_COMMITMENT_RATE"}


def test_products_are_paged_as_a_relay_connection(api: Any) -> None:
    for i in range(5):
        api.ok(PRODUCT, {"input": {"code": f"P{i}", "name": f"P{i}",
                                   "usageModelType": "PACK" if i % 2 else "ANCHOR"}})
    query = """query($after: String, $type: UsageModelType) { products(first: 2, after: $after, usageModelType: $type) {
      edges { cursor node { code } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = api(query, {"after": after})["products"]
        seen += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["P0", "P1", "P2", "P3", "P4"]
    packs = api(query, {"type": "PACK"})["products"]
    assert [e["node"]["code"] for e in packs["edges"]] == ["P1", "P3"]
    too_many = api.raw("{ products(first: 101) { edges { cursor } } }").json()
    assert too_many["errors"][0]["extensions"]["code"] == "MAX_LIMIT_EXCEEDED"


def test_auth_401_without_a_valid_key_and_forbidden_for_roles(api: Any) -> None:
    from core.auth import Role

    assert api.client.post("/graphql", json={"query": "{ products { edges { cursor } } }"}).status_code == 401
    assert api.raw("{ products { edges { cursor } } }", key="umk_not-a-key").status_code == 401
    viewer = api.as_role(Role.VIEWER)
    assert viewer("{ products { edges { cursor } } }")["products"]["edges"] == []
    refused = viewer.raw(PRODUCT, {"input": {"code": "V", "name": "V", "usageModelType": "ANCHOR"}}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    partner = api.as_role(Role.PARTNER)
    assert partner.raw(PRODUCT, {"input": {"code": "V", "name": "V", "usageModelType": "ANCHOR"}}).json()[
        "errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_tenant_never_sees_another_tenants_catalog(app: Any, api: Any) -> None:
    from starlette.testclient import TestClient

    from infra.bootstrap import bootstrap_tenant
    from tests.conftest import Api

    cell_phone_plan(api)
    bootstrap_tenant("other-" + api.tenant)
    with TestClient(app) as client:
        other = Api(client, "other-" + api.tenant)
        assert other(NESTED, {"code": "CELL"})["product"] is None
        assert other("{ products { edges { cursor } } }")["products"]["edges"] == []
        assert other('{ usageResource(code: "DATA") { code } }')["usageResource"] is None


def test_query_limits_and_masked_errors(api: Any, monkeypatch: Any) -> None:
    deep = "{ products { edges { node { usageResources { resource " + "{ tokenResource " * 10 + "{ code }" + \
        " }" * 10 + " } } } } }"
    body = api.raw(deep).json()
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: products {{ edges {{ cursor }} }}" for i in range(40)) + " }"
    assert api.raw(aliases).json()["errors"]
    bad_id = api("""mutation { deleteProductUsageResource(id: "garbage") { errors { code } } }""")
    assert errors_of(bad_id["deleteProductUsageResource"]) == ["NOT_FOUND"]
    # an unexpected failure is masked: no internals leak
    from infra.catalog_repo import CatalogRepository

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(CatalogRepository, "products_page", boom)
    masked = api.raw("{ products { edges { cursor } } }").json()
    assert "secret" not in str(masked) and masked["errors"][0]["message"] == "Unexpected error."


def test_an_unparseable_decimal_or_date_is_a_typed_invalid_value_with_its_path(api: Any) -> None:
    ids = cell_phone_plan(api)
    body = api.raw(GRANT, {"input": {"productUsageResourceId": ids["purs"]["DATA"], "quantity": "lots",
                                     "validityUnit": "NONE"}}).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_VALUE" and error["extensions"]["field"] == "input.quantity"
    float_rate = api.raw(CARD, {"input": {"name": "c", "effectiveFrom": "2026-01-01"}}).json()["errors"][0]
    assert float_rate["extensions"] == {"code": "INVALID_VALUE", "field": "input.effectiveFrom"}
    assert "UTC offset" in float_rate["message"]
