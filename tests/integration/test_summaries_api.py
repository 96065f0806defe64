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


# ---------------------------------------------------------------------------------------------- the invoicing loop
LIST = """query($s: SummaryStatus, $from: DateTime, $to: DateTime, $a: String, $first: Int, $after: String) {
  usageSummaries(status: $s, periodEndFrom: $from, periodEndTo: $to, accountExternalId: $a, first: $first,
                 after: $after) {
    edges { cursor node { id accountExternalId periodEnd status resource { code } invoiceReference } }
    pageInfo { hasNextPage endCursor } } }"""
CLOSE_PERIODS = """mutation($asOf: DateTime) { closeUsagePeriods(asOf: $asOf) {
  asOf closedCount hasMore summaries { id status closedAt accountExternalId periodEnd } errors { code } } }"""
CLOSE_NOW = """mutation($ids: [ID!]!) { closeUsageSummaries(ids: $ids) {
  changed summaries { id status closedAt } errors { code message field } } }"""
INVOICE = """mutation($ids: [ID!]!, $ref: String!) { markUsageSummariesInvoiced(ids: $ids, invoiceReference: $ref) {
  changed summaries { id status invoiceReference invoicedAt } errors { code message field } } }"""


def listed(api: Any, **variables: Any) -> list[tuple[str, str, str]]:
    """(account, period end, resource) of every summary the listing pages through, two at a time."""
    out, after = [], None
    while True:
        page = api(LIST, {**variables, "first": 2, "after": after})["usageSummaries"]
        out.extend((e["node"]["accountExternalId"], e["node"]["periodEnd"], e["node"]["resource"]["code"])
                   for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]


def gid(account: str, resource: str, m: int) -> str:
    from graphql_api.types.summaries import summary_global_id

    return summary_global_id(account, SummaryKey(account, f"ACCOUNT:{account}", resource, month(m).start).id)


def test_close_usage_periods_closes_what_the_rule_allows_by_as_of_for_the_callers_tenant_only(
        api: Any, tenant: str) -> None:
    from infra.dynamo import dynamodb_client
    from infra.settings import get_settings
    from infra.summaries_repo import due_for_close

    # GIVEN OPEN summaries of January to April 2026 (each closes 3 days after its month), and another tenant's
    resource_setup(api)
    for account in ("acme", "bravo"):
        store_account(api.tenant, account)
        store_summaries(api.tenant, account, ["TEXTS"], range(1, 5))
    other = f"other-{api.tenant}"
    store_summaries(other, "acme", ["TEXTS"], range(1, 2))
    # WHEN closed as of Mar 4 (January and February are due: Feb 4, Mar 4)
    started = datetime.now(UTC).isoformat().replace("+00:00", "Z")[:19]
    payload = api.ok(CLOSE_PERIODS, {"asOf": "2026-03-04T00:00:00Z"})
    # THEN those four are COMPLETE, March and April stay OPEN, the other tenant's January too
    assert payload["asOf"] == "2026-03-04T00:00:00Z" and payload["hasMore"] is False
    assert payload["closedCount"] == 4
    assert sorted((s["accountExternalId"], s["periodEnd"], s["status"]) for s in payload["summaries"]) == [
        (a, e, "COMPLETE") for a in ("acme", "bravo") for e in ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")]
    assert all(s["closedAt"] >= started for s in payload["summaries"])  # closed now, by the rule as of Mar 4
    assert listed(api, s="OPEN") == [(a, f"2026-0{m}-01T00:00:00Z", "TEXTS") for m in (4, 5) for a in ("acme", "bravo")]
    settings = get_settings()
    due = list(due_for_close(dynamodb_client(), settings.summaries_table, datetime(2026, 3, 4, tzinfo=UTC)))
    assert any(d.pk.startswith(f"T#{other}#") for d in due)
    assert not any(d.pk.startswith(f"T#{api.tenant}#") for d in due)  # gone from the OPEN index: closed for good
    # AND a repeat closes nothing (idempotent)
    assert api.ok(CLOSE_PERIODS, {"asOf": "2026-03-04T00:00:00Z"})["closedCount"] == 0
    # WHEN asked with an asOf far in the future THEN it closes by now, not later (here: everything up to now)
    future = api.ok(CLOSE_PERIODS, {"asOf": "2099-01-01T00:00:00Z"})
    assert future["asOf"] < "2099" and future["closedCount"] == 4
    assert listed(api, s="OPEN") == []


def test_usage_summaries_lists_a_status_across_accounts_by_period_end_then_account(api: Any) -> None:
    # GIVEN summaries of two accounts and two resources, January to March, January closed and invoiced for acme
    resource_setup(api)
    for account in ("acme", "bravo"):
        store_account(api.tenant, account)
        store_summaries(api.tenant, account, ["DATA", "TEXTS"], range(1, 4))
    api.ok(CLOSE_PERIODS, {"asOf": "2026-02-04T00:00:00Z"})
    api.ok(INVOICE, {"ids": [gid("acme", "DATA", 1), gid("acme", "TEXTS", 1)], "ref": "INV-1"})
    jan_end, feb_end, mar_end = "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"
    # THEN each status lists its own, in period end, account, resource order, paged two at a time
    assert listed(api, s="COMPLETE") == [("bravo", jan_end, "DATA"), ("bravo", jan_end, "TEXTS")]
    assert listed(api, s="INVOICED") == [("acme", jan_end, "DATA"), ("acme", jan_end, "TEXTS")]
    assert listed(api, s="OPEN", **{"from": feb_end, "to": mar_end}) == [
        ("acme", feb_end, "DATA"), ("acme", feb_end, "TEXTS"), ("bravo", feb_end, "DATA"),
        ("bravo", feb_end, "TEXTS")]
    # AND one account's, in the same order; every status at once; the invoice reference shows
    assert listed(api, s="OPEN", a="bravo") == [("bravo", e, r) for e in (feb_end, mar_end)
                                                for r in ("DATA", "TEXTS")]
    everything = listed(api)
    assert len(everything) == 12 and everything == sorted(everything, key=lambda x: (x[1], x[0], x[2]))
    assert listed(api, a="acme", to=feb_end) == [("acme", jan_end, "DATA"), ("acme", jan_end, "TEXTS")]
    page = api(LIST, {"s": "INVOICED"})["usageSummaries"]
    assert {e["node"]["invoiceReference"] for e in page["edges"]} == {"INV-1"}
    # AND an empty range, a cursor it never gave and a page too large are typed errors
    bad = api.raw(LIST, {"from": mar_end, "to": feb_end}).json()["errors"][0]["extensions"]
    assert (bad["code"], bad["field"]) == ("INVALID_RANGE", "periodEndTo")
    assert api.raw(LIST, {"after": "__8"}).json()["errors"][0]["extensions"]["code"] == "INVALID_VALUE"
    assert api.raw(LIST, {"first": 101}).json()["errors"][0]["extensions"]["code"] == "MAX_LIMIT_EXCEEDED"


def test_invoice_now_and_marking_invoiced_are_all_or_nothing_with_typed_errors(api: Any) -> None:
    # GIVEN acme's OPEN summaries of January (ended long ago) and of a period that ends in 2099
    resource_setup(api)
    store_account(api.tenant, "acme")
    store_summaries(api.tenant, "acme", ["TEXTS"], range(1, 2))
    from infra.dynamo import dynamodb_client
    from infra.summaries_repo import SummariesRepository

    running = Period(datetime(2099, 1, 1, tzinfo=UTC), datetime(2099, 2, 1, tzinfo=UTC))
    key = SummaryKey("acme", "ACCOUNT:acme", "TEXTS", running.start)
    repo = SummariesRepository(api.tenant)
    dynamodb_client().put_item(**repo.put_item(new_summary(key, running, "EA", 3), None)["Put"])
    from graphql_api.types.summaries import summary_global_id

    january, future = gid("acme", "TEXTS", 1), summary_global_id("acme", key.id)
    unknown = gid("acme", "DATA", 7)
    # WHEN January is invoiced while OPEN THEN refused, naming it
    refused = api(INVOICE, {"ids": [january], "ref": "INV-1"})["markUsageSummariesInvoiced"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("STATUS_FORBIDS", "ids[0]")]
    # WHEN closed now together with the running period and an unknown id THEN nothing is closed
    refused = api(CLOSE_NOW, {"ids": [january, future, unknown, "not-an-id"]})["closeUsageSummaries"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("PERIOD_NOT_ENDED", "ids[1]"), ("NOT_FOUND", "ids[2]"), ("NOT_FOUND", "ids[3]")]
    assert refused["summaries"] == [] and listed(api, s="COMPLETE") == []
    # WHEN January alone THEN COMPLETE; a repeat changes nothing
    closed = api.ok(CLOSE_NOW, {"ids": [january]})
    assert (closed["changed"], [s["status"] for s in closed["summaries"]]) == (1, ["COMPLETE"])
    assert api.ok(CLOSE_NOW, {"ids": [january, january]})["changed"] == 0
    # WHEN invoiced with the running period THEN refused and January stays COMPLETE
    refused = api(INVOICE, {"ids": [january, future], "ref": "INV-1"})["markUsageSummariesInvoiced"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("STATUS_FORBIDS", "ids[1]")]
    assert listed(api, s="COMPLETE") == [("acme", "2026-02-01T00:00:00Z", "TEXTS")]
    # WHEN invoiced alone THEN INVOICED with the reference; the same again changes nothing; another is a CONFLICT
    invoiced = api.ok(INVOICE, {"ids": [january], "ref": " INV-1 "})
    assert (invoiced["changed"], invoiced["summaries"][0]["status"], invoiced["summaries"][0]["invoiceReference"]) == (
        1, "INVOICED", "INV-1")
    again = api.ok(INVOICE, {"ids": [january], "ref": "INV-1"})
    assert again["changed"] == 0 and again["summaries"] == invoiced["summaries"]
    conflict = api(INVOICE, {"ids": [january], "ref": "INV-2"})["markUsageSummariesInvoiced"]
    assert [(e["code"], e["field"]) for e in conflict["errors"]] == [("CONFLICT", "ids[0]")]
    # AND an empty reference, no ids or too many are refused
    empty = api(INVOICE, {"ids": [january], "ref": " "})["markUsageSummariesInvoiced"]["errors"]
    assert [(e["code"], e["field"]) for e in empty] == [("REQUIRED", "invoiceReference")]
    assert api(CLOSE_NOW, {"ids": []})["closeUsageSummaries"]["errors"][0]["code"] == "REQUIRED"
    too_many = api(CLOSE_NOW, {"ids": [january] * 51})["closeUsageSummaries"]["errors"]
    assert [(e["code"], e["field"]) for e in too_many] == [("MAX_LIMIT_EXCEEDED", "ids")]


def test_only_an_admin_closes_and_invoices_and_every_role_lists(api: Any) -> None:
    from core.auth import Role

    resource_setup(api)
    store_account(api.tenant, "acme")
    store_summaries(api.tenant, "acme", ["TEXTS"], range(1, 2))
    january = gid("acme", "TEXTS", 1)
    for role in (Role.PARTNER, Role.VIEWER):
        caller = api.as_role(role)
        for query, variables in ((CLOSE_PERIODS, {}), (CLOSE_NOW, {"ids": [january]}),
                                 (INVOICE, {"ids": [january], "ref": "INV-1"})):
            body = caller.raw(query, variables).json()
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, query)
        assert listed(caller, s="OPEN") == [("acme", "2026-02-01T00:00:00Z", "TEXTS")]
    # AND nothing was closed by them
    assert listed(api, s="COMPLETE") == []


def test_another_tenants_summaries_are_neither_listed_nor_closed_nor_invoiced(api: Any) -> None:
    # GIVEN acme's January summary in another tenant only
    store_summaries(f"x-{api.tenant}", "acme", ["TEXTS"], range(1, 2))
    january = gid("acme", "TEXTS", 1)
    # THEN this tenant lists nothing, and its ids are unknown here
    assert listed(api) == []
    assert api(CLOSE_NOW, {"ids": [january]})["closeUsageSummaries"]["errors"][0]["code"] == "NOT_FOUND"
    assert api(INVOICE, {"ids": [january], "ref": "I"})["markUsageSummariesInvoiced"]["errors"][0]["code"] == (
        "NOT_FOUND")
    assert api.ok(CLOSE_PERIODS, {})["closedCount"] == 0


def test_a_summaries_table_kept_from_an_older_version_gets_the_invoicing_index_at_start(store_endpoint: str) -> None:
    import uuid
    from dataclasses import replace

    from infra.dynamo import dynamodb_client
    from infra.settings import get_settings
    from infra.tables import ensure_tables, summaries_table

    # GIVEN a summaries table as an older version created it (gsi1 only), e.g. in a kept local store
    settings = replace(get_settings(), summaries_table=f"old-summaries-{uuid.uuid4().hex[:8]}")
    spec = summaries_table(settings)
    kept = [a for a in spec["AttributeDefinitions"] if not a["AttributeName"].startswith("gsi2")]
    old = {**spec, "GlobalSecondaryIndexes": spec["GlobalSecondaryIndexes"][:1], "AttributeDefinitions": kept}
    client = dynamodb_client()
    client.create_table(**old)
    try:
        # WHEN the tables are ensured at start THEN it is kept, and has the invoicing index, ACTIVE
        assert ensure_tables(client, settings) == []
        indexes = client.describe_table(TableName=settings.summaries_table)["Table"]["GlobalSecondaryIndexes"]
        assert {(i["IndexName"], i.get("IndexStatus", "ACTIVE")) for i in indexes} == {("gsi1", "ACTIVE"),
                                                                                        ("gsi2", "ACTIVE")}
    finally:
        client.delete_table(TableName=settings.summaries_table)
