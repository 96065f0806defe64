"""activateUsageProduct (DOMAIN §1.3) through the API and the all-or-nothing writer: validate, activate the whole
DRAFT chain in dependency order, survive an interruption half-way, and enforce the status rules afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from infra.activation_repo import ChainReader, ChainWriter
from infra.catalog_repo import CatalogRepository
from tests.builders import (
    ACTIVATE,
    CONFIGURE,
    PUR,
    START,
    activate_product,
    configure_cell_phone_plan,
    unit_classes,
)

STATUSES = """query($code: String!) { product(code: $code) { status bindingPolicy { status }
  usageResources { id status
    resource { status unitOfMeasureClass { status units { unitCode status } } defaultUnit { status } }
    grants { id status quantity effectiveTo refreshPolicy { status } rolloverPolicy { status } unit { status } }
    rates { id status rate rateCard { status } }
    productPolicy { status policies { aggregationPolicy { status } ratingFrequencyPolicy { status }
                                      overagePolicy { status } commitmentPolicy { status } } } } } }"""
VALIDATE = """query($codes: [String!]!) { validateUsageProducts(productCodes: $codes) {
  productCode valid errors { rule code records { objectType name } } warnings { rule code } } }"""


def statuses(api: Any, code: str = "CELL") -> list[str]:
    """Every status in the product's nested configuration (each record once per place it appears)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "status":
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(api(STATUSES, {"code": code})["product"])
    return found


def product_and_pur_statuses(api: Any, code: str = "CELL") -> tuple[str, set[str]]:
    product = api(STATUSES, {"code": code})["product"]
    return product["status"], {p["status"] for p in product["usageResources"]}


def big_setup(prefix: str, resources: int = 20, grants: int = 5, start: str = START) -> dict[str, Any]:
    """An ANCHOR setup at the limits: ``resources`` new COUNT resources with ``grants`` grants and a rate each."""
    return {"productCode": "BIG", "productName": "Big plan", "usageModelType": "ANCHOR", "resources": [
        {"resourceCode": f"{prefix}{i:02}", "newResource": {"name": f"Resource {i}", "unitOfMeasureClassCode": "COUNT"},
         "effectiveFrom": start, "overageRate": "0.01",
         "grants": [{"quantity": str(10 * (g + 1)), "validityUnit": "MONTH"} for g in range(grants)]}
        for i in range(resources)]}


def test_a_product_configured_in_one_call_validates_clean_activates_and_reads_back_active(api: Any) -> None:
    # GIVEN the Cell Phone Plan configured in one call (DRAFT)
    configure_cell_phone_plan(api, activate=False)
    assert set(statuses(api)) == {"DRAFT"}
    # WHEN validated THEN it is clean
    [result] = api(VALIDATE, {"codes": ["CELL"]})["validateUsageProducts"]
    assert result == {"productCode": "CELL", "valid": True, "errors": [], "warnings": []}
    # WHEN activated
    payload = activate_product(api, "CELL")
    # THEN every record of its chain went ACTIVE in dependency order, the product among the last
    kinds = [r["objectType"] for r in payload["activated"]]
    assert payload["record"]["status"] == "ACTIVE" and payload["validation"]["valid"] is True
    assert kinds.index("UnitOfMeasureClass") < kinds.index("UsageResource") < kinds.index("Product") \
        < kinds.index("ProductUsageResource") < kinds.index("ProductUsageGrant") < kinds.index("RateCardEntry")
    # 3 classes, 6 units, 3 resources, 6 policies, the product, 3 PURs, 3 product policies, 3 grants, 1 card, 3 rates
    assert len(payload["activated"]) == 32
    # AND the nested read-back is ACTIVE all the way down (units, classes, policies, cards included)
    assert set(statuses(api)) == {"ACTIVE"} and len(statuses(api)) > 40


def test_activation_refuses_on_validator_errors_unless_told_not_to_validate(api: Any) -> None:
    # GIVEN a plan whose texts have chargeable overage but no rate
    unit_classes(api)
    api.ok(CONFIGURE, {"input": {"productCode": "P", "usageModelType": "ANCHOR", "resources": [
        {"resourceCode": "TEXTS", "newResource": {"name": "Texts", "unitOfMeasureClassCode": "COUNT"},
         "effectiveFrom": START, "grants": [{"quantity": "10", "validityUnit": "MONTH"}]}]}})
    # WHEN activated THEN it is refused with the validator's findings, and nothing changed
    refused = api(ACTIVATE, {"code": "P"})["activateUsageProduct"]
    assert [e["code"] for e in refused["errors"]] == ["VALIDATION_FAILED"] and refused["record"] is None
    assert [(f["rule"], f["code"]) for f in refused["validation"]["errors"]] == [
        ("CHARGEABLE_OVERAGE_WITHOUT_RATE", "MISSING_RATE")]
    assert set(statuses(api, "P")) == {"DRAFT"}
    # WHEN told not to validate THEN it activates
    assert activate_product(api, "P", validate=False)["record"]["status"] == "ACTIVE"
    assert set(statuses(api, "P")) == {"ACTIVE"}


def test_an_inactive_reference_refuses_activation_even_without_validation(api: Any) -> None:
    # GIVEN an ACTIVE plan whose TEXTS resource was then deactivated, and a new product pointing at TEXTS
    configure_cell_phone_plan(api)
    api.ok("""mutation { updateUsageResource(input: {code: "TEXTS", status: INACTIVE}) { errors { code } } }""")
    api.ok("""mutation { createProduct(input: {code: "P2", name: "Two", usageModelType: ANCHOR}) {
               errors { code } } }""")
    api.ok(PUR, {"input": {"productCode": "P2", "resourceCode": "TEXTS", "effectiveFrom": START}})
    # WHEN activated without the validator THEN refused with INACTIVE_REFERENCE; with it, the finding names TEXTS
    unchecked = api(ACTIVATE, {"code": "P2", "validate": False})["activateUsageProduct"]
    assert {e["code"] for e in unchecked["errors"]} == {"INACTIVE_REFERENCE"}
    checked = api(ACTIVATE, {"code": "P2"})["activateUsageProduct"]
    found = [f for f in checked["validation"]["errors"] if f["code"] == "INACTIVE_REFERENCE"]
    assert found and found[0]["records"][1]["objectType"] == "UsageResource"
    assert product_and_pur_statuses(api, "P2") == ("DRAFT", {"DRAFT"})


def test_an_activation_interrupted_after_its_first_chunk_is_invisible_to_rating_and_completed_by_the_next_call(
        api: Any) -> None:
    # GIVEN the configured plan, activated by a writer of 5-record transactions that dies after the first one
    configure_cell_phone_plan(api, activate=False)
    repo = CatalogRepository(api.tenant)
    snapshot = ChainReader(repo).snapshot("CELL")
    assert snapshot is not None
    from core.activation import plan_activation

    plan = plan_activation(snapshot)

    class Crash(BaseException):
        """Stands for the process dying: nothing in the writer may catch it."""

    def die(index: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        ChainWriter(repo, chunk_size=5, after_chunk=die).activate(plan)
    # THEN the first chunk is ACTIVE, but the product and every PUR are DRAFT: no chain is usable by rating
    assert product_and_pur_statuses(api, "CELL") == ("DRAFT", {"DRAFT"})
    assert "ACTIVE" in statuses(api) and "DRAFT" in statuses(api)
    assert ChainWriter(CatalogRepository(api.tenant)).pending_activation("CELL")
    # WHEN activateUsageProduct is called again
    done = activate_product(api, "CELL")
    # THEN it completes the interrupted activation: everything ACTIVE, nothing flipped twice, journal gone
    assert done["completedInterrupted"] is True and done["record"]["status"] == "ACTIVE"
    assert len(done["activated"]) == len(plan.records) - 5
    assert set(statuses(api)) == {"ACTIVE"}
    assert not ChainWriter(CatalogRepository(api.tenant)).pending_activation("CELL")
    # AND a further call has nothing left to do
    again = activate_product(api, "CELL")
    assert again["activated"] == [] and again["completedInterrupted"] is False


def test_a_chain_of_almost_200_records_activates_across_transactions(api: Any) -> None:
    # GIVEN a product at the guided-setup limits: 20 resources with 5 grants each (188 records)
    unit_classes(api)
    created = api.ok(CONFIGURE, {"input": big_setup("R")})["created"]
    assert len(created) == 188
    # WHEN activated THEN everything is ACTIVE (two staged transactions and one for the gates)
    payload = activate_product(api, "BIG")
    assert len(payload["activated"]) == 188 + 2  # + the COUNT class and its unit
    assert set(statuses(api, "BIG")) == {"ACTIVE"}


def test_status_rules_hold_after_activation(api: Any) -> None:
    # GIVEN the active Cell Phone Plan
    configure_cell_phone_plan(api)
    product = api(STATUSES, {"code": "CELL"})["product"]
    pur = product["usageResources"][0]
    grant, rate = pur["grants"][0], pur["rates"][0]

    def errors(mutation: str, variables: dict[str, Any]) -> list[str]:
        data = api(mutation, variables)
        return [e["code"] for e in next(iter(data.values()))["errors"]]

    update_pur = """mutation($input: UpdateProductUsageResourceInput!) {
      updateProductUsageResource(input: $input) { errors { code } } }"""
    update_grant = """mutation($input: UpdateProductUsageGrantInput!) {
      updateProductUsageGrant(input: $input) { errors { code } } }"""
    update_rate = """mutation($input: UpdateRateCardEntryInput!) {
      updateRateCardEntry(input: $input) { errors { code } } }"""
    # THEN an ACTIVE PUR or grant may only have its end date extended: nothing else changes
    assert errors(update_pur, {"input": {"id": pur["id"], "effectiveFrom": "2026-02-01T00:00:00Z"}}) == [
        "STATUS_FORBIDS"]
    assert errors(update_grant, {"input": {"id": grant["id"], "quantity": "5000"}}) == ["STATUS_FORBIDS"]
    assert errors(update_pur, {"input": {"id": pur["id"], "effectiveTo": "2027-12-31T23:59:59Z"}}) == [
        "STATUS_FORBIDS"]  # open-ended: any end would shorten it
    # AND a rate entry cannot be edited at all, nor can an ACTIVE product be deleted
    assert errors(update_rate, {"input": {"id": rate["id"], "rate": "9.99"}}) == ["STATUS_FORBIDS"]
    assert errors("""mutation { deleteProduct(code: "CELL") { errors { code } } }""", {}) == ["STATUS_FORBIDS"]
    assert set(statuses(api)) == {"ACTIVE"}


def test_new_records_for_an_active_product_are_activated_behind_their_pur(api: Any) -> None:
    # GIVEN the active plan with a 2026-only ROAMING resource added later by guided setup
    configure_cell_phone_plan(api)
    added = api.ok(CONFIGURE, {"input": {"productCode": "CELL", "usageModelType": "ANCHOR", "resources": [
        {"resourceCode": "ROAMING", "newResource": {"name": "Roaming", "unitOfMeasureClassCode": "DATA"},
         "effectiveFrom": START, "effectiveTo": "2026-12-31T00:00:00Z", "overageRate": "5",
         "grants": [{"quantity": "1", "validityUnit": "MONTH"}]}]}})
    # THEN it reused the six policies and created only the new chain
    assert len(added["reused"]) == 6 and {r["objectType"] for r in added["created"]} == {
        "UsageResource", "ProductUsageResource", "ProductResourcePolicy", "ProductUsageGrant", "RateCard",
        "RateCardEntry"}
    # WHEN activated again THEN only those records change, the new PUR among the last
    payload = activate_product(api, "CELL")
    assert sorted(r["objectType"] for r in payload["activated"]) == sorted(r["objectType"] for r in added["created"])
    assert set(statuses(api)) == {"ACTIVE"}
    # AND the extension rule now applies to the new PUR's dated end
    roaming = next(p for p in api(STATUSES, {"code": "CELL"})["product"]["usageResources"]
                   if p["grants"][0]["quantity"] == "1")
    extend = """mutation($input: UpdateProductUsageResourceInput!) {
      updateProductUsageResource(input: $input) { record { effectiveTo } errors { code } } }"""
    assert api.ok(extend, {"input": {"id": roaming["id"], "effectiveTo": "2027-06-30T23:59:59Z"}})["record"] == {
        "effectiveTo": "2027-06-30T23:59:59Z"}
    shorter = api(extend, {"input": {"id": roaming["id"], "effectiveTo": "2027-01-31T23:59:59Z"}})
    assert [e["code"] for e in shorter["updateProductUsageResource"]["errors"]] == ["STATUS_FORBIDS"]
