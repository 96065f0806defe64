"""Catalog builders for tests: the DOMAIN §5 Cell Phone Plan through the public GraphQL API."""

from __future__ import annotations

from typing import Any

UNIT_CLASS = """mutation($input: CreateUnitOfMeasureClassInput!) {
  createUnitOfMeasureClass(input: $input) { record { id code } errors { code message field } } }"""
RESOURCE = """mutation($input: CreateUsageResourceInput!) {
  createUsageResource(input: $input) { record { id code } errors { code message field } } }"""
PRODUCT = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { record { id code status } errors { code message field } } }"""
PUR = """mutation($input: CreateProductUsageResourceInput!) {
  createProductUsageResource(input: $input) { record { id } errors { code message field } } }"""
GRANT = """mutation($input: CreateProductUsageGrantInput!) {
  createProductUsageGrant(input: $input) { record { id quantity } errors { code message field } } }"""
CARD = """mutation($input: CreateRateCardInput!) {
  createRateCard(input: $input) { record { id } errors { code message field } } }"""
ENTRY = """mutation($input: CreateRateCardEntryInput!) {
  createRateCardEntry(input: $input) { record { id rate } errors { code message field } } }"""
POLICY = """mutation($input: CreatePolicyInput!) {
  createPolicy(input: $input) { record { id name kind } errors { code message field } } }"""

START = "2026-01-01T00:00:00Z"


def unit_classes(api: Any) -> None:
    api.ok(UNIT_CLASS, {"input": {"code": "DATA", "name": "Data", "type": "USAGE", "baseUnitCode": "MB",
                                  "defaultUnitCode": "GB", "units": [
                                      {"unitCode": "MB", "name": "Megabyte", "conversionFactor": "1"},
                                      {"unitCode": "GB", "name": "Gigabyte", "conversionFactor": "1024"},
                                      {"unitCode": "TB", "name": "Terabyte", "conversionFactor": "1048576"}]}})
    api.ok(UNIT_CLASS, {"input": {"code": "COUNT", "name": "Count", "type": "USAGE", "baseUnitCode": "EA",
                                  "units": [{"unitCode": "EA", "name": "Each", "conversionFactor": "1"}]}})
    api.ok(UNIT_CLASS, {"input": {"code": "TIME", "name": "Time", "type": "USAGE", "baseUnitCode": "MIN",
                                  "units": [{"unitCode": "MIN", "name": "Minute", "conversionFactor": "1"},
                                            {"unitCode": "HR", "name": "Hour", "conversionFactor": "60"}]}})


def cell_phone_plan(api: Any, code: str = "CELL", with_units: bool = True) -> dict[str, Any]:
    """Grants 4,000 texts, 2 GB, 100 minutes a month; texts $0.75, data $1.25/GB, minutes $0.10."""
    if with_units:
        unit_classes(api)
        for res, cls in (("TEXTS", "COUNT"), ("DATA", "DATA"), ("MINUTES", "TIME")):
            api.ok(RESOURCE, {"input": {"code": res, "name": res.title(), "unitOfMeasureClassCode": cls}})
    api.ok(PRODUCT, {"input": {"code": code, "name": "Cell Phone Plan", "usageModelType": "ANCHOR"}})
    card = api.ok(CARD, {"input": {"name": f"{code} base rates", "type": "BASE", "effectiveFrom": START}})["record"]
    ids: dict[str, Any] = {"card": card["id"], "purs": {}}
    for res, qty, rate in (("TEXTS", "4000", "0.75"), ("DATA", "2", "1.25"), ("MINUTES", "100", "0.10")):
        pur = api.ok(PUR, {"input": {"productCode": code, "resourceCode": res, "effectiveFrom": START}})["record"]
        ids["purs"][res] = pur["id"]
        api.ok(GRANT, {"input": {"productUsageResourceId": pur["id"], "quantity": qty, "validityTerm": 1,
                                 "validityUnit": "MONTH"}})
        api.ok(ENTRY, {"input": {"rateCardId": card["id"], "resourceCode": res, "productCode": code,
                                 "rate": rate, "rateUnitCode": "USD"}})
    return ids


# ---------------------------------------------------------------------------------------------- guided setup (issue 3)
CONFIGURE = """mutation($input: ConfigureUsageProductInput!) { configureUsageProduct(input: $input) {
  record { id code name usageModelType status }
  created { objectType id name } reused { objectType id name } errors { code message field } } }"""
ACTIVATE = """mutation($code: String!, $validate: Boolean) {
  activateUsageProduct(productCode: $code, validate: $validate) {
    record { id code status } activated { objectType id name } completedInterrupted
    validation { productCode valid errors { rule code message records { objectType id name } }
                 warnings { rule code message records { objectType id name } } }
    errors { code message field } } }"""
CELL_PLAN = (("TEXTS", "Text messages", "COUNT", "4000", None, "0.75"),
             ("DATA", "Data", "DATA", "2", "GB", "1.25"),
             ("MINUTES", "Minutes", "TIME", "100", None, "0.10"))


def activate_product(api: Any, code: str, validate: bool = True) -> dict[str, Any]:
    """Validate and activate a product and its whole DRAFT chain; returns the payload (asserts no errors)."""
    return api.ok(ACTIVATE, {"code": code, "validate": validate})


def configure_cell_phone_plan(api: Any, code: str = "CELL", activate: bool = True) -> dict[str, Any]:
    """The DOMAIN §5 Cell Phone Plan in one configureUsageProduct call (ANCHOR, from 2026-01-01, no end): 4,000
    texts/month at $0.75, 2 GB data/month at $1.25 per GB (class DATA: MB = 1/1024 GB), 100 minutes/month at
    $0.10; then activated unless ``activate=False``. Unit classes and resources are created when missing, so several
    products can share them. Returns {"configure": payload, "activate": payload or None}."""
    if not any(c["code"] == "DATA" for c in api("{ unitOfMeasureClasses { code } }")["unitOfMeasureClasses"]):
        unit_classes(api)
    resources = []
    for res, name, cls, quantity, unit, rate in CELL_PLAN:
        exists = api("query($c: String!) { usageResource(code: $c) { code } }", {"c": res})["usageResource"]
        resources.append({
            "resourceCode": res, "effectiveFrom": START, "overageRate": rate, "rateUnitCode": "USD",
            "newResource": None if exists else {"name": name, "unitOfMeasureClassCode": cls},
            "grants": [{"quantity": quantity, "unitCode": unit, "validityTerm": 1, "validityUnit": "MONTH"}]})
    configured = api.ok(CONFIGURE, {"input": {"productCode": code, "productName": "Cell Phone Plan",
                                              "usageModelType": "ANCHOR", "resources": resources}})
    return {"configure": configured, "activate": activate_product(api, code) if activate else None}


# ---------------------------------------------------------------------------------------------- activation (issue 4)
PRODUCT_CHAIN = """query($code: String!) { product(code: $code) { code status
  bindingPolicy { binding target status }
  usageResources { id status
    resource { code status unitOfMeasureClass { code status units { unitCode status } } }
    grants { id status refreshPolicy { id status } rolloverPolicy { id status } }
    rates { id status rateCard { id status } } } } }"""


def activate_everything(api: Any, product_code: str) -> None:
    """Make the product and every record of its chain ACTIVE by manual status updates, in dependency order
    (unit classes, units, resources, policies, product, PURs, grants, rate cards, entries, binding policy)."""
    product = api(PRODUCT_CHAIN, {"code": product_code})["product"]
    assert product is not None, f"product {product_code} does not exist"
    purs = product["usageResources"]

    def activate(mutation: str, key: str, value: str) -> None:
        api.ok(f"mutation($v: {'ID' if key == 'id' else 'String'}!) {{ {mutation}(input: {{{key}: $v, "
               f"status: ACTIVE}}) {{ errors {{ code message field }} }} }}", {"v": value})

    classes = {p["resource"]["unitOfMeasureClass"]["code"]: p["resource"]["unitOfMeasureClass"] for p in purs}
    for cls in classes.values():
        if cls["status"] != "ACTIVE":
            activate("updateUnitOfMeasureClass", "code", cls["code"])
        for unit in cls["units"]:
            if unit["status"] != "ACTIVE":
                activate("updateUnitOfMeasure", "unitCode", unit["unitCode"])
    for code in dict.fromkeys(p["resource"]["code"] for p in purs if p["resource"]["status"] != "ACTIVE"):
        activate("updateUsageResource", "code", code)
    policies = {policy["id"] for p in purs for g in p["grants"] for policy in (g["refreshPolicy"], g["rolloverPolicy"])
                if policy and policy["status"] != "ACTIVE"}
    for policy_id in sorted(policies):
        activate("updatePolicy", "id", policy_id)
    if product["status"] != "ACTIVE":
        activate("updateProduct", "code", product_code)
    for pur in purs:
        if pur["status"] != "ACTIVE":
            activate("updateProductUsageResource", "id", pur["id"])
        for grant in pur["grants"]:
            if grant["status"] != "ACTIVE":
                activate("updateProductUsageGrant", "id", grant["id"])
    rates = [rate for p in purs for rate in p["rates"]]
    for card_id in dict.fromkeys(r["rateCard"]["id"] for r in rates if r["rateCard"]["status"] != "ACTIVE"):
        activate("updateRateCard", "id", card_id)
    for entry_id in dict.fromkeys(r["id"] for r in rates if r["status"] != "ACTIVE"):
        activate("updateRateCardEntry", "id", entry_id)
    binding = product["bindingPolicy"]
    if binding and binding["status"] != "ACTIVE":
        api.ok("""mutation($input: GrantBindingPolicyInput!) { setGrantBindingPolicy(input: $input) {
          errors { code message field } } }""", {"input": {"productCode": product_code, "binding": binding["binding"],
                                                           "target": binding["target"], "status": "ACTIVE"}})


# ------------------------------------------------------------------------------------------ usage ingestion (issue 5)
def active_usage_catalog(tenant: str) -> None:
    """ACTIVE resources to record usage against, written directly (no API round trips): class DATA (MB base,
    GB = 1024 MB default, TB) with resource DATA, class COUNT (EA) with resource TEXTS, a DRAFT resource DRAFTY
    (COUNT) and a DRAFT unit KB in DATA for the status rules, and an ACTIVE product PLAN with TEXTS."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from core.catalog import (
        Product,
        ProductUsageResource,
        RecordStatus,
        ResourceCategory,
        UnitClassType,
        UnitOfMeasure,
        UnitOfMeasureClass,
        UsageModelType,
        UsageResource,
    )
    from core.catalog.service import CatalogService
    from infra.catalog_repo import CatalogRepository
    from infra.keys import new_ulid, pur_id

    active = RecordStatus.ACTIVE
    service = CatalogService(CatalogRepository(tenant))
    service.create_unit_class(UnitOfMeasureClass("DATA", "Data", UnitClassType.USAGE, "MB", "GB", active), [
        UnitOfMeasure("MB", "Megabyte", "DATA", Decimal(1), 0, status=active),
        UnitOfMeasure("GB", "Gigabyte", "DATA", Decimal(1024), 1, status=active),
        UnitOfMeasure("TB", "Terabyte", "DATA", Decimal(1048576), 2, status=active),
        UnitOfMeasure("KB", "Kilobyte", "DATA", Decimal("0.0009765625"), 3)])
    service.create_unit_class(UnitOfMeasureClass("COUNT", "Count", UnitClassType.USAGE, "EA", "EA", active), [
        UnitOfMeasure("EA", "Each", "COUNT", Decimal(1), 0, status=active)])
    service.create(UsageResource("DATA", "Data", ResourceCategory.USAGE, "DATA", "GB", status=active))
    service.create(UsageResource("TEXTS", "Text messages", ResourceCategory.USAGE, "COUNT", "EA", status=active))
    service.create(UsageResource("DRAFTY", "Not live yet", ResourceCategory.USAGE, "COUNT", "EA"))
    # an ACTIVE product PLAN covering TEXTS from 2026-01-01 (no grants), so that accounts can subscribe
    service.create(Product("PLAN", "Plan", UsageModelType.ANCHOR, active))
    service.create(ProductUsageResource(pur_id("PLAN", new_ulid()), "PLAN", "TEXTS",
                                        datetime(2026, 1, 1, tzinfo=UTC), status=active))
