"""Account.usageSummaries and usageSummary(id) over the summaries table: filters, pages, roles, tenants."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.periods import Period
from core.rating import PriceSpec
from core.summaries import Contribution, SummaryKey, aggregate, apply, new_summary

SUMMARIES = """query($a: String!, $r: String, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  account(externalId: $a) { usageSummaries(resourceCode: $r, from: $from, to: $to, first: $first, after: $after) {
    edges { cursor node { id periodStart resource { code } amount status usageCount unit { unitCode } } }
    pageInfo { hasNextPage endCursor } } } }"""
ONE = "query($id: ID!) { usageSummary(id: $id) { id amount consumedQuantity currency } }"
ACCOUNT = """mutation { createUnitOfMeasureClass(input: {code: "COUNT", name: "Count", type: USAGE, baseUnitCode: "EA",
  units: [{unitCode: "EA", name: "Each", conversionFactor: "1"}]}) { errors { code } } }"""


def month(m: int) -> Period:
    return Period(datetime(2026, m, 1, tzinfo=UTC), datetime(2026, m + 1, 1, tzinfo=UTC))


def store_summaries(tenant: str, account: str, resources: list[str], months: range) -> None:
    """Summaries written as rating writes them (a Put conditioned on not existing)."""
    from infra.dynamo import dynamodb_client
    from infra.summaries_repo import SummariesRepository

    repo = SummariesRepository(tenant)
    for resource in resources:
        for m in months:
            key = SummaryKey(account, f"ACCOUNT:{account}", resource, month(m).start)
            summary = new_summary(key, month(m), "EA", 3, currency="USD")
            delta = aggregate([Contribution(key.id, consumed=Decimal(m), overage=Decimal(m), amount=Decimal(0),
                                            count=1, rate_key="r", spec=PriceSpec(Decimal("0.5"), "USD"))])[key.id]
            dynamodb_client().put_item(**repo.put_item(apply(summary, delta), None)["Put"])


def store_account(tenant: str, account: str) -> None:
    """The account item as createSubscription leaves it (the summaries hang off the account)."""
    from infra.dynamo import dynamodb_client
    from infra.keys import ACCOUNT_SK, account_pk
    from infra.settings import get_settings

    dynamodb_client().put_item(TableName=get_settings().accounts_table, Item={
        "pk": {"S": account_pk(tenant, account)}, "sk": {"S": ACCOUNT_SK}, "kind": {"S": "Account"},
        "external_id": {"S": account}, "created_at": {"S": "2026-01-01T00:00:00.000000Z"}})


def nodes(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in page["account"]["usageSummaries"]["edges"]]


def resource_setup(api: Any) -> None:
    api(ACCOUNT)
    for code in ("DATA", "TEXTS"):
        api("""mutation($c: String!) { createUsageResource(input: {code: $c, name: $c, unitOfMeasureClassCode: "COUNT"})
          { errors { code } } }""", {"c": code})


def test_summaries_page_by_resource_then_period_with_filters(api: Any) -> None:
    # GIVEN an account with 4 months of summaries of two resources
    resource_setup(api)
    store_account(api.tenant, "acme")
    store_summaries(api.tenant, "acme", ["DATA", "TEXTS"], range(1, 5))
    # WHEN the front end pages through TEXTS from February (exclusive of May) two at a time
    first = api(SUMMARIES, {"a": "acme", "r": "TEXTS", "from": "2026-02-01T00:00:00Z", "to": "2026-05-01T00:00:00Z",
                            "first": 2})
    after = first["account"]["usageSummaries"]["pageInfo"]["endCursor"]
    second = api(SUMMARIES, {"a": "acme", "r": "TEXTS", "from": "2026-02-01T00:00:00Z",
                             "to": "2026-05-01T00:00:00Z", "first": 2, "after": after})
    # THEN it gets February and March, then April, in period order, with their amounts
    assert [(n["periodStart"], n["amount"]) for n in nodes(first)] == [("2026-02-01T00:00:00Z", "1.00"),
                                                                      ("2026-03-01T00:00:00Z", "1.50")]
    assert first["account"]["usageSummaries"]["pageInfo"]["hasNextPage"] is True
    assert [n["periodStart"] for n in nodes(second)] == ["2026-04-01T00:00:00Z"]
    assert second["account"]["usageSummaries"]["pageInfo"]["hasNextPage"] is False
    # AND without a resource, every summary by resource then period; a summary by its id; a VIEWER may read
    everything = nodes(api(SUMMARIES, {"a": "acme", "first": 100}))
    assert [(n["resource"]["code"], n["periodStart"][:7]) for n in everything] == [
        (r, f"2026-0{m}") for r in ("DATA", "TEXTS") for m in range(1, 5)]
    one = api(ONE, {"id": everything[0]["id"]})["usageSummary"]
    assert (one["amount"], one["consumedQuantity"], one["currency"]) == ("0.50", "1", "USD")
    from core.auth import Role

    assert len(nodes(api.as_role(Role.VIEWER)(SUMMARIES, {"a": "acme"}))) == 8


def test_summary_queries_refuse_bad_input_with_typed_errors(api: Any) -> None:
    # GIVEN an account WHEN asked with an empty range, a cursor it never returned, or an id of another kind
    store_account(api.tenant, "acme")
    empty = api.raw(SUMMARIES, {"a": "acme", "from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}).json()
    assert empty["errors"][0]["extensions"]["code"] == "INVALID_RANGE"
    cursor = api.raw(SUMMARIES, {"a": "acme", "after": "__8"}).json()  # not text: never ours
    assert cursor["errors"][0]["extensions"]["code"] == "INVALID_VALUE"
    bad_id = api.raw(ONE, {"id": "VXNhZ2VSZWNvcmQ6eA"}).json()  # a UsageRecord id
    assert bad_id["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert api(ONE, {"id": "VXNhZ2VTdW1tYXJ5OmFjbWV8VEVYVFMvMjAyNjAxMDFUMDAwMDAwWi9YWA"})["usageSummary"] is None


def test_another_tenants_summaries_are_invisible(api: Any, tenant: str) -> None:
    # GIVEN summaries of account acme in another tenant WHEN this tenant asks for acme's summary by id
    from core.summaries import SummaryKey as Key
    from graphql_api.types.summaries import summary_global_id

    store_summaries("someone-else", "acme", ["TEXTS"], range(1, 2))
    summary_id = Key("acme", "ACCOUNT:acme", "TEXTS", month(1).start).id
    # THEN nothing comes back, as if it did not exist
    assert api(ONE, {"id": summary_global_id("acme", summary_id)})["usageSummary"] is None
