"""The invoicing loop through GraphQL alone (DOMAIN §2 "The invoicing loop", §4 "Late usage"): usage recorded and
rated, its period closed early ("invoice now") — after which late usage for it is refused PERIOD_CLOSED — listed
for invoicing, marked INVOICED, then corrected: a void and an amendment of its records land as adjustments in the
current open period with their original service dates, and the invoiced summary stays as it was."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.periods import BillingAnchor, PeriodUnit
from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import NOW, SUMMARY_FIELDS, Flow, iso

pytestmark = pytest.mark.e2e

TODAY = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
#: Billed on today's day of month: the current period starts today; the previous one ended today at 00:00 and
#: would accept late usage for three more days.
ANCHOR = BillingAnchor(TODAY - timedelta(days=95), TODAY.day)
CURRENT = ANCHOR.period(1, PeriodUnit.MONTH, NOW)
PREVIOUS = ANCHOR.period(1, PeriodUnit.MONTH, CURRENT.start - timedelta(microseconds=1))
IN_CURRENT = max(CURRENT.start + timedelta(seconds=1), NOW - timedelta(minutes=2))
IN_PREVIOUS = PREVIOUS.end - timedelta(hours=2)

LIST = """query($s: SummaryStatus, $from: DateTime, $to: DateTime, $a: String) {
  usageSummaries(status: $s, periodEndFrom: $from, periodEndTo: $to, accountExternalId: $a, first: 100) {
    edges { node { accountExternalId closedAt invoiceReference invoicedAt """ + SUMMARY_FIELDS + """ } }
    pageInfo { hasNextPage } } }"""
CLOSE_PERIODS = """mutation($asOf: DateTime) { closeUsagePeriods(asOf: $asOf) {
  asOf closedCount hasMore summaries { id } errors { code } } }"""
CLOSE_NOW = """mutation($ids: [ID!]!) { closeUsageSummaries(ids: $ids) {
  changed summaries { id status closedAt closesAt } errors { code message field } } }"""
INVOICE = """mutation($ids: [ID!]!, $ref: String!) { markUsageSummariesInvoiced(ids: $ids, invoiceReference: $ref) {
  changed summaries { id status invoiceReference } errors { code message field } } }"""
VOID = """mutation($id: ID!) { voidUsage(id: $id, reason: "sent twice") { correction { id } errors { code } } }"""
AMEND = """mutation($id: ID!, $q: Decimal!) { amendUsage(id: $id, input: {quantity: $q, reason: "recounted"}) {
  correction { id } errors { code } } }"""
RECORD = """query($id: ID!) { usageRecord(id: $id) { id status startTime endTime quantity ratedAmount
  summary { id periodStart status } } }"""


def texts(quantity: str, at: datetime, account: str = "acme") -> dict[str, Any]:
    return {"accountExternalId": account, "resourceCode": "TEXTS", "quantity": quantity, "at": at}


def listed(flow: Flow, **variables: Any) -> list[dict[str, Any]]:
    page = flow.api(LIST, variables)["usageSummaries"]
    assert page["pageInfo"]["hasNextPage"] is False
    return [e["node"] for e in page["edges"]]


def of_period(flow: Flow, account: str, start: datetime) -> dict[str, Any]:
    [summary] = [s for s in flow.summaries(account, "TEXTS") if s["periodStart"] == iso(start)]
    return summary


def test_a_period_is_closed_listed_invoiced_and_corrected_into_the_current_one(flow: Flow) -> None:
    from infra.reconciliation import reconcile

    # GIVEN the Cell Phone Plan (4,000 texts a month, $0.75 each over), two accounts billed on today's day of month
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s-acme", "acme", "CELL", start=PREVIOUS.start, billing_day=TODAY.day)
    flow.subscribe("s-bravo", "bravo", "CELL", start=PREVIOUS.start, billing_day=TODAY.day)
    # AND usage of the previous period (acme: 4,000 then 500 texts, $375 over; bravo: 100), and 10 texts today
    [first] = flow.record(texts("4000", IN_PREVIOUS))
    flow.drain()
    [over] = flow.record(texts("500", IN_PREVIOUS))
    flow.record(texts("100", IN_PREVIOUS, "bravo"), texts("10", IN_CURRENT))
    flow.drain()
    previous = of_period(flow, "acme", PREVIOUS.start)
    assert (previous["status"], previous["amount"], previous["usageCount"]) == ("OPEN", "375.00", 2)
    bravo = of_period(flow, "bravo", PREVIOUS.start)

    # WHEN the period close runs by the rule, even with an asOf in the future
    closing = flow.api.ok(CLOSE_PERIODS, {"asOf": iso(NOW + timedelta(days=10))})
    # THEN nothing of the previous period closes: its waiting period runs three more days, and asOf is capped at now
    assert closing["closedCount"] == 0 and closing["asOf"] < iso(NOW + timedelta(minutes=10))
    assert of_period(flow, "acme", PREVIOUS.start)["status"] == "OPEN"

    # WHEN invoicing asks to close the current period too ("invoice now") THEN refused, nothing closed
    current = of_period(flow, "acme", CURRENT.start)
    refused = flow.api(CLOSE_NOW, {"ids": [previous["id"], current["id"]]})["closeUsageSummaries"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("PERIOD_NOT_ENDED", "ids[1]")]
    assert listed(flow, s="COMPLETE") == []
    # WHEN the previous period's summaries alone are closed now
    closed = flow.api.ok(CLOSE_NOW, {"ids": [previous["id"], bravo["id"]]})
    # THEN both are COMPLETE at once, before their closing time
    assert closed["changed"] == 2 and {s["status"] for s in closed["summaries"]} == {"COMPLETE"}
    assert all(s["closedAt"] < s["closesAt"] for s in closed["summaries"])
    # AND late usage for that period is refused PERIOD_CLOSED, though its waiting period has not passed
    late = flow.record(texts("1", IN_PREVIOUS), texts("1", IN_PREVIOUS, "bravo"), expect="REJECTED")
    assert [[e["code"] for e in r["errors"]] for r in late] == [["PERIOD_CLOSED"], ["PERIOD_CLOSED"]]
    flow.record(texts("1", IN_CURRENT, "bravo"))  # while the current period takes usage as before
    flow.drain()

    # WHEN invoicing lists what is ready: COMPLETE summaries of periods that ended by now
    ready = listed(flow, s="COMPLETE", to=iso(NOW))
    # THEN both accounts' previous periods, account by account, with their totals
    assert [(s["accountExternalId"], s["periodEnd"], s["amount"]) for s in ready] == [
        ("acme", iso(PREVIOUS.end), "375.00"), ("bravo", iso(PREVIOUS.end), "0.00")]
    assert [s["accountExternalId"] for s in listed(flow, s="COMPLETE", a="bravo")] == ["bravo"]
    # WHEN they are marked invoiced (a repeat changes nothing)
    invoiced = flow.api.ok(INVOICE, {"ids": [s["id"] for s in ready], "ref": "INV-2026-0001"})
    assert invoiced["changed"] == 2
    assert flow.api.ok(INVOICE, {"ids": [s["id"] for s in ready], "ref": "INV-2026-0001"})["changed"] == 0
    # THEN they are listed INVOICED with the reference, and no longer as COMPLETE
    assert listed(flow, s="COMPLETE") == []
    billed = {s["accountExternalId"]: s for s in listed(flow, s="INVOICED")}
    assert {s["invoiceReference"] for s in billed.values()} == {"INV-2026-0001"}
    frozen = of_period(flow, "acme", PREVIOUS.start)
    assert frozen["status"] == "INVOICED" and frozen["amount"] == "375.00"

    # WHEN the 500-text record of the invoiced period is voided, and the 4,000-text one amended to 4,100
    void = flow.api.ok(VOID, {"id": over["usageRecord"]["id"]})
    flow.drain()
    amend = flow.api.ok(AMEND, {"id": first["usageRecord"]["id"], "q": "4100"})
    flow.drain()
    # THEN the invoiced summary is exactly as it was invoiced
    assert of_period(flow, "acme", PREVIOUS.start) == frozen
    # AND each correction is booked into the current open period of the same subscription and resource, keeping
    # the original's service dates
    for correction in (void["correction"], amend["correction"]):
        record = flow.api(RECORD, {"id": correction["id"]})["usageRecord"]
        assert record["status"] == "PROCESSED"
        assert (record["startTime"], record["endTime"]) == (iso(IN_PREVIOUS), iso(IN_PREVIOUS))
        assert (record["summary"]["periodStart"], record["summary"]["status"]) == (iso(CURRENT.start), "OPEN")
    # AND the current period holds the adjustments: the void gives back $375; the amendment takes back the
    # 4,000 texts and rates the 4,100 against the previous period's grant (100 over: $75)
    adjusted = of_period(flow, "acme", CURRENT.start)
    assert (adjusted["adjustmentAmount"], adjusted["ratedAmount"], adjusted["amount"]) == (
        "-375.00", "75.00", "-300.00")
    assert adjusted["consumedQuantity"] == "-390"  # 10 texts today − 500 voided − 4,000 taken back + 4,100
    # AND the records, wallets and summaries agree
    report = reconcile(flow.api.tenant)
    assert report.clean, "\n".join(report.lines())
