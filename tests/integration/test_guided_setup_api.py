"""configureUsageProduct and validateUsageProducts through the HTTP API, and the all-or-nothing setup write:
one call configures a product nested and DRAFT, a refused or interrupted call leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.auth import Role
from core.catalog import UsageModelType, ValidityUnit
from core.guided_setup import GuidedGrant, GuidedResource, GuidedSetup, NewResource, plan_setup
from infra import keys
from infra.activation_repo import ChainReader, ChainWriter, StorageIds
from infra.catalog_repo import CatalogRepository
from tests.builders import ACTIVATE, CARD, CONFIGURE, ENTRY, START, configure_cell_phone_plan, unit_classes
from tests.integration.test_catalog_api import NESTED

VALIDATE = """query($codes: [String!]!, $from: DateTime, $to: DateTime) {
  validateUsageProducts(productCodes: $codes, from: $from, to: $to) {
    productCode valid errors { rule code message records { objectType id name } } warnings { rule code } } }"""
JAN = datetime(2026, 1, 1, tzinfo=UTC)
CATALOG = """{ products { edges { node { code } } } usageResources { edges { node { code } } }
  policies { id name } rateCards { id } }"""


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def texts_setup(code: str = "P", **resource: Any) -> dict[str, Any]:
    return {"productCode": code, "usageModelType": "ANCHOR", "resources": [{
        "resourceCode": "TEXTS", "newResource": {"name": "Texts", "unitOfMeasureClassCode": "COUNT"},
        "effectiveFrom": START, "overageRate": "0.75", "grants": [{"quantity": "10", "validityUnit": "MONTH"}],
        **resource}]}


def test_one_call_configures_the_cell_phone_plan_nested_and_draft(api: Any) -> None:
    # GIVEN units only WHEN the Cell Phone Plan is configured in one call
    configured = configure_cell_phone_plan(api, activate=False)["configure"]
    # THEN the product, its resources, PURs, grants, rates and policies exist, all DRAFT
    assert configured["record"]["status"] == "DRAFT"
    created = [r["objectType"] for r in configured["created"]]
    assert created.count("Policy") == 6 and created.count("ProductUsageResource") == 3 and configured["reused"] == []
    product = api(NESTED, {"code": "CELL"})["product"]
    by_resource = {p["resource"]["code"]: p for p in product["usageResources"]}
    data = by_resource["DATA"]
    assert data["effectiveFrom"] == START and data["effectiveTo"] is None and data["status"] == "DRAFT"
    assert data["grants"] == [{"type": "GRANT", "quantity": "2", "unit": {"unitCode": "GB"}, "validityTerm": 1,
                               "validityUnit": "MONTH", "drawdownOrder": "EXPIRING_FIRST", "status": "DRAFT"}]
    assert [(r["rate"], r["rateUnit"]["unitCode"]) for r in data["rates"]] == [("1.25", "USD")]
    assert {u["unitCode"]: u["conversionFactor"] for u in data["resource"]["unitOfMeasureClass"]["units"]}[
        "GB"] == "1024"  # MB = 1/1024 GB
    assert data["effectivePolicy"] == {"aggregationMethod": "SUM", "aggregationPeriod": "MONTHLY",
                                       "overageChargeable": True, "ratingDelayDays": 3,
                                       "commitmentRate": "LOWEST_COMMITMENT_RATE"}
    assert by_resource["TEXTS"]["grants"][0]["quantity"] == "4000"


def test_dates_become_midnight_to_235959_utc(api: Any) -> None:
    unit_classes(api)
    api.ok(CONFIGURE, {"input": texts_setup(effectiveFrom="2026-03-05T17:30:00+02:00",
                                            effectiveTo="2026-09-30T09:00:00Z")})
    [pur] = api(NESTED, {"code": "P"})["product"]["usageResources"]
    assert (pur["effectiveFrom"], pur["effectiveTo"]) == ("2026-03-05T00:00:00Z", "2026-09-30T23:59:59Z")


def test_a_refused_call_reports_every_field_and_creates_nothing(api: Any) -> None:
    # GIVEN a setup with one good resource and several mistakes
    unit_classes(api)
    before = api(CATALOG)
    setup = texts_setup()
    setup["resources"] += [
        {"resourceCode": "DATA", "newResource": {"name": "Data", "unitOfMeasureClassCode": "DATA"},
         "effectiveFrom": START, "grants": [{"quantity": "1", "validityUnit": "MONTH"},
                                            {"quantity": "-2", "unitCode": "MIN", "validityUnit": "MONTH"}]},
        {"resourceCode": "GHOST", "effectiveFrom": START, "overageRate": "1", "rateUnitCode": "GB"}]
    payload = api(CONFIGURE, {"input": setup})["configureUsageProduct"]
    # THEN every fault is reported with its input path
    assert payload["record"] is None and sorted(errors_of(payload)) == [
        ("NEGATIVE_QUANTITY", "resources.1.grants.1.quantity"),
        ("UNIT_NOT_IN_CLASS", "resources.1.grants.1.unitCode"),
        ("UNIT_NOT_IN_CLASS", "resources.2.rateUnitCode"),
        ("UNKNOWN_RESOURCE", "resources.2.resourceCode")]
    # AND nothing was created: no product, resource, policy or rate card
    assert api(CATALOG) == before


def test_commitment_products_are_refused_and_point_to_manual_configuration(api: Any) -> None:
    unit_classes(api)
    payload = api(CONFIGURE, {"input": {**texts_setup(), "usageModelType": "QUANTITY_COMMITMENT"}})
    [error] = payload["configureUsageProduct"]["errors"]
    assert (error["code"], error["field"]) == ("UNSUPPORTED_MODEL_TYPE", "usageModelType")
    assert "manual" in error["message"]
    assert api(CATALOG)["products"]["edges"] == []


def test_a_second_product_reuses_the_default_policies(api: Any) -> None:
    # GIVEN one product configured (six default policies created)
    unit_classes(api)
    api.ok(CONFIGURE, {"input": texts_setup("ONE")})
    # WHEN a second product on the same resource is configured
    second = {"productCode": "TWO", "usageModelType": "ANCHOR", "resources": [
        {"resourceCode": "TEXTS", "effectiveFrom": START, "overageRate": "0.5",
         "grants": [{"quantity": "5", "validityUnit": "MONTH"}]}]}
    payload = api.ok(CONFIGURE, {"input": second})
    # THEN it creates no policy and reports the six it reused
    assert sorted(r["name"] for r in payload["reused"]) == sorted(
        ["Aggregate Usage Monthly by Sum", "Rate Usage Monthly", "Overage Chargeable",
         "Lowest Commitment Fulfilled Rate", "Renew Grants Monthly", "Rollover Grants without Expiry"])
    assert "Policy" not in {r["objectType"] for r in payload["created"]}
    assert len(api(CATALOG)["policies"]) == 6


def big(code: str = "BIG") -> GuidedSetup:
    """20 new resources with 5 grants and a rate each: 188 records, more than one transaction holds."""
    return GuidedSetup(code, UsageModelType.ANCHOR, tuple(
        GuidedResource(f"R{i:02}", JAN, new_resource=NewResource(f"R{i}", "COUNT"),
                       grants=tuple(GuidedGrant(Decimal(g + 1), ValidityUnit.MONTH) for g in range(5)),
                       overage_rate=Decimal("0.01")) for i in range(20)), "Big")


def test_a_setup_larger_than_one_transaction_is_written_whole(api: Any) -> None:
    unit_classes(api)
    setup = big()
    repo = CatalogRepository(api.tenant)
    plan = plan_setup(setup, ChainReader(repo).setup_catalog(setup), StorageIds())
    assert len(plan.records) == 188
    ChainWriter(repo).create(plan)
    product = api(NESTED, {"code": "BIG"})["product"]
    assert len(product["usageResources"]) == 20 and sum(len(p["grants"]) for p in product["usageResources"]) == 100
    assert ChainWriter(repo).journal(keys.setup_journal_sk("BIG")) is None


class Crash(BaseException):
    """Stands for the process dying: nothing in the writer may catch it."""


def test_a_setup_failing_half_way_is_rolled_back_at_once(api: Any) -> None:
    # GIVEN a large setup whose write fails after its first 9-record transaction
    unit_classes(api)
    before = api(CATALOG)
    setup = big()
    repo = CatalogRepository(api.tenant)
    plan = plan_setup(setup, ChainReader(repo).setup_catalog(setup), StorageIds())

    def fail(index: int) -> None:
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError):
        ChainWriter(repo, chunk_size=10, after_chunk=fail).create(plan)
    # THEN what was written is gone again, journal included
    assert api(CATALOG) == before
    assert ChainWriter(repo).journal(keys.setup_journal_sk("BIG")) is None


def test_a_setup_that_crashed_half_way_is_rolled_back_by_the_next_call(api: Any) -> None:
    # GIVEN the Cell Phone Plan's setup crashed after its first 4-record transaction
    unit_classes(api)
    setup = GuidedSetup("CELL", UsageModelType.ANCHOR, tuple(
        GuidedResource(code, JAN, new_resource=NewResource(code.title(), cls),
                       grants=(GuidedGrant(Decimal(1), ValidityUnit.MONTH),), overage_rate=Decimal(1))
        for code, cls in (("TEXTS", "COUNT"), ("DATA", "DATA"), ("MINUTES", "TIME"))), "Cell Phone Plan")
    repo = CatalogRepository(api.tenant)
    plan = plan_setup(setup, ChainReader(repo).setup_catalog(setup), StorageIds())

    def die(index: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        ChainWriter(repo, chunk_size=5, after_chunk=die).create(plan)
    # THEN the half-written new product is not listed (its item is written last), and a journal remembers the rest
    assert api(CATALOG)["products"]["edges"] == [] and len(api(CATALOG)["policies"]) == 4
    assert ChainWriter(repo).journal(keys.setup_journal_sk("CELL")) is not None
    # WHEN the same product is configured again (activation would do the same) THEN the leftovers are rolled back
    configure_cell_phone_plan(api, activate=False)
    catalog = api(CATALOG)
    assert len(catalog["policies"]) == 6 and len(catalog["rateCards"]) == 1
    assert sorted(e["node"]["code"] for e in catalog["usageResources"]["edges"]) == ["DATA", "MINUTES", "TEXTS"]
    assert ChainWriter(repo).journal(keys.setup_journal_sk("CELL")) is None


def test_validate_usage_products_names_the_records_to_fix(api: Any) -> None:
    # GIVEN a product whose texts have chargeable overage but no rate
    unit_classes(api)
    setup = texts_setup()
    del setup["resources"][0]["overageRate"]
    api.ok(CONFIGURE, {"input": setup})
    [pur] = api(NESTED, {"code": "P"})["product"]["usageResources"]
    # WHEN validated, with an unknown product alongside
    p, nope = api(VALIDATE, {"codes": ["P", "NOPE"]})["validateUsageProducts"]
    # THEN P has one error naming its PUR by the id the API uses; NOPE is not found
    assert p["valid"] is False and [(e["rule"], e["code"]) for e in p["errors"]] == [
        ("CHARGEABLE_OVERAGE_WITHOUT_RATE", "MISSING_RATE")]
    [record] = p["errors"][0]["records"]
    assert (record["objectType"], record["id"]) == ("ProductUsageResource", pur["id"]) and "TEXTS" in record["name"]
    assert (nope["valid"], nope["errors"][0]["code"]) == (False, "NOT_FOUND")
    # AND over a date range in which the PUR is not effective, there is nothing to find
    in_2020 = api(VALIDATE, {"codes": ["P"], "from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z"})
    assert in_2020["validateUsageProducts"][0]["valid"] is True
    # WHEN a rate starting nine days into the PUR is added THEN the error becomes a start-gap warning
    card = api.ok(CARD, {"input": {"name": "rates", "effectiveFrom": START}})["record"]["id"]
    api.ok(ENTRY, {"input": {"rateCardId": card, "resourceCode": "TEXTS", "productCode": "P", "rate": "0.75",
                             "rateUnitCode": "USD", "effectiveFrom": "2026-01-10T00:00:00Z"}})
    [fixed] = api(VALIDATE, {"codes": ["P"]})["validateUsageProducts"]
    assert fixed["valid"] is True and fixed["warnings"] == [{"rule": "GAP_AT_PUR_START", "code": "RATE_START_GAP"}]


def test_validation_limits_and_roles(api: Any) -> None:
    # GIVEN eleven codes THEN MAX_LIMIT_EXCEEDED as a GraphQL error
    too_many = api.raw(VALIDATE, {"codes": [f"P{i}" for i in range(11)]}).json()
    assert too_many["errors"][0]["extensions"]["code"] == "MAX_LIMIT_EXCEEDED"
    backwards = api.raw(VALIDATE, {"codes": ["P"], "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    assert backwards.json()["errors"][0]["extensions"]["code"] == "INVALID_RANGE"
    # AND a VIEWER may validate but not configure or activate
    viewer = api.as_role(Role.VIEWER)
    assert viewer(VALIDATE, {"codes": ["P"]})["validateUsageProducts"][0]["valid"] is False
    for mutation, variables in ((CONFIGURE, {"input": texts_setup()}), (ACTIVATE, {"code": "P"})):
        assert viewer.raw(mutation, variables).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
