"""Summaries over several billing periods: late usage accepted while its period is open and refused
PERIOD_CLOSED after; the period close freezes summaries (COMPLETE); a correction of a closed period lands in
the current open one with its original service dates; reconciliation finds no drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.periods import BillingAnchor, PeriodUnit
from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import NOW, Flow, iso

pytestmark = pytest.mark.e2e

TODAY = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
#: Billed on today's day of month: the current period starts today, the previous one ended today at 00:00 and
#: accepts usage for three more days, the one before it is closed.
ANCHOR = BillingAnchor(TODAY - timedelta(days=95), TODAY.day)
CURRENT = ANCHOR.period(1, PeriodUnit.MONTH, NOW)
PREVIOUS = ANCHOR.period(1, PeriodUnit.MONTH, CURRENT.start - timedelta(microseconds=1))
OLDER = ANCHOR.period(1, PeriodUnit.MONTH, PREVIOUS.start - timedelta(microseconds=1))
IN_CURRENT = max(CURRENT.start + timedelta(seconds=1), NOW - timedelta(minutes=2))
VOID = """mutation($id: ID!) { voidUsage(id: $id, reason: "sent twice") {
  correction { id } errors { code message field } } }"""


def texts(quantity: str, at: datetime, account: str = "acme") -> dict[str, Any]:
    return {"accountExternalId": account, "resourceCode": "TEXTS", "quantity": quantity, "at": at}


def by_period(flow: Flow) -> dict[str, dict[str, Any]]:
    return {s["periodStart"]: s for s in flow.summaries("acme", "TEXTS")}


def close_all_due(now: datetime) -> int:
    from infra.dynamo import dynamodb_client
    from infra.settings import get_settings
    from infra.summaries_repo import close_due

    settings = get_settings()
    return close_due(dynamodb_client(settings), settings.summaries_table, now).closed


def test_summaries_of_several_periods_close_and_stay_final(flow: Flow) -> None:
    from infra.reconciliation import reconcile

    # GIVEN the Cell Phone Plan (4,000 texts a month, unused texts roll over), billed on today's day of month,
    # from the start of the previous period (and for another account, from three months ago)
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=PREVIOUS.start, billing_day=TODAY.day)
    flow.subscribe("s-old", "ancient", "CELL", start=ANCHOR.start, billing_day=TODAY.day)
    # WHEN 3,000 texts are recorded in the previous period (still open: its waiting period runs three more days)
    flow.record(texts("3000", PREVIOUS.end - timedelta(hours=2)))
    flow.drain()
    # AND 5,500 in the current one: its 4,000 plus the 1,000 rolled over are used, 500 are overage
    # (one call each, in this order: which record goes over depends on the order they are rated in, and the records
    # of one call are inserted independently, so their stream order need not be the call's)
    results = flow.record(texts("2500", IN_CURRENT))
    flow.drain()
    results += flow.record(texts("3000", IN_CURRENT))
    flow.drain()
    # AND usage of the period before is refused: its waiting period has passed
    refused = flow.record(texts("10", OLDER.end - timedelta(hours=1), "ancient"), expect="REJECTED")
    assert [e["code"] for e in refused[0]["errors"]] == ["PERIOD_CLOSED"]
    # THEN one OPEN summary per period, each with its own totals
    summaries = by_period(flow)
    previous, current = summaries[iso(PREVIOUS.start)], summaries[iso(CURRENT.start)]
    assert (previous["status"], previous["consumedQuantity"], previous["overageQuantity"], previous["amount"]) == (
        "OPEN", "3000", "0", "0.00")
    assert (current["status"], current["consumedQuantity"], current["overageQuantity"], current["amount"]) == (
        "OPEN", "5500", "500", "375.00")
    assert previous["closesAt"] == iso(PREVIOUS.end + timedelta(days=3))

    # WHEN the period close runs as it will after the current period's waiting period (a simulated clock)
    assert close_all_due(CURRENT.end + timedelta(days=3)) >= 2
    # THEN both are COMPLETE and final: a record rated after its summary closed lands in the next open period
    assert {s["status"] for s in by_period(flow).values()} == {"COMPLETE"}
    frozen = by_period(flow)
    flow.record(texts("1", IN_CURRENT))  # accepted: by the real clock, the current period is still open
    flow.drain()
    after = by_period(flow)
    assert {k: v for k, v in after.items() if k in frozen} == frozen
    [following] = [s for k, s in after.items() if k not in frozen]
    assert (following["status"], following["periodStart"], following["consumedQuantity"]) == (
        "OPEN", iso(CURRENT.end), "1")

    # WHEN the 3,000-text record of the closed current period (the one that went over: $375) is voided
    payload = flow.api.ok(VOID, {"id": results[1]["usageRecord"]["id"]})
    flow.drain()
    # THEN the closed summaries are unchanged, and the next period holds the adjustment: what that record booked
    after = by_period(flow)
    assert {k: v for k, v in after.items() if k in frozen} == frozen
    adjusted = after[iso(CURRENT.end)]
    assert (adjusted["consumedQuantity"], adjusted["usageCount"]) == ("-2999", 0)
    # (the late text drew on nothing: its period's texts were used up, so it is $0.75 of overage)
    assert (adjusted["adjustmentAmount"], adjusted["ratedAmount"], adjusted["amount"]) == (
        "-375.00", "0.75", "-374.25")
    voided = flow.usage_record(results[1]["usageRecord"]["id"])
    correction = flow.usage_record(payload["correction"]["id"])
    assert correction["status"] == "PROCESSED" and correction["summary"]["id"] == adjusted["id"]
    assert -float(correction["ratedAmount"]) == float(voided["ratedAmount"])
    # AND the records, wallets and summaries agree
    report = reconcile(flow.api.tenant)
    assert report.clean, "\n".join(report.lines())


def test_the_scheduled_close_function_closes_nothing_before_its_time(flow: Flow) -> None:
    # GIVEN an OPEN summary of the current period
    from functions.summarize import close
    from local.lambda_context import LocalLambdaContext

    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=PREVIOUS.start, billing_day=TODAY.day)
    flow.record(texts("10", IN_CURRENT))
    flow.drain()
    # WHEN the scheduled function runs now THEN the current period stays OPEN
    answer = close.handler({"source": "aws.events", "detail-type": "Scheduled Event"},
                           LocalLambdaContext("close-periods"))
    assert set(answer) == {"closed", "leftOpen"}
    assert by_period(flow)[iso(CURRENT.start)]["status"] == "OPEN"
    assert datetime.now(UTC) < CURRENT.end


AMEND = """mutation($id: ID!, $q: Decimal!) { amendUsage(id: $id, input: {quantity: $q, reason: "recounted"}) {
  correction { id } errors { code message field } } }"""


def test_an_amendment_in_an_open_period_replaces_the_original(flow: Flow) -> None:
    from infra.reconciliation import reconcile

    # GIVEN 4,500 texts rated ($375) in the first period of a subscription
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=CURRENT.start, billing_day=TODAY.day)
    [result] = flow.record(texts("4500", IN_CURRENT))
    flow.drain()
    assert flow.summary("acme", "TEXTS")["amount"] == "375.00"
    # WHEN the record is amended to 4,100 texts, and the amendment then voided
    payload = flow.api.ok(AMEND, {"id": result["usageRecord"]["id"], "q": "4100"})
    flow.drain()
    # THEN the summary is that of 4,100 texts: one record, 100 over, $75
    summary = flow.summary("acme", "TEXTS")
    assert (summary["consumedQuantity"], summary["overageQuantity"], summary["amount"], summary["usageCount"]) == (
        "4100", "100", "75.00", 1)
    flow.api.ok(VOID, {"id": payload["correction"]["id"]})
    flow.drain()
    summary = flow.summary("acme", "TEXTS")
    assert (summary["consumedQuantity"], summary["amount"], summary["usageCount"]) == ("0", "0.00", 0)
    wallet = next(w for w in flow.wallets("acme") if w["resource"]["code"] == "TEXTS")
    assert wallet["balance"] == "4000"
    report = reconcile(flow.api.tenant)
    assert report.clean, "\n".join(report.lines())


def test_the_reconcile_command_reports_no_drift_and_exits_0(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN rated usage WHEN an operator runs `python -m functions.summarize.reconcile --tenant T`
    from functions.summarize import reconcile

    configure_cell_phone_plan(flow.api)
    flow.subscribe("s", "acme", "CELL", start=CURRENT.start, billing_day=TODAY.day)
    flow.record(texts("4500", IN_CURRENT), texts("20", IN_CURRENT))
    flow.drain()
    # THEN it prints what it checked, finds no drift and exits 0; a summary tampered with is reported, exit 1
    assert reconcile.main(["--tenant", flow.api.tenant]) == 0
    assert "1 accounts, 2 usage records, 1 summaries — no drift" in capsys.readouterr().out
    tamper(flow.api.tenant, "acme")
    assert reconcile.main(["--tenant", flow.api.tenant, "--account", "acme"]) == 1
    assert "consumed_quantity stored 4521 != records 4520" in capsys.readouterr().out


def tamper(tenant: str, account: str) -> None:
    """One text more in the stored summary, as a lost or doubled write would leave it."""
    from dataclasses import replace

    from infra.dynamo import dynamodb_client
    from infra.summaries_repo import SummariesRepository

    repo = SummariesRepository(tenant)
    [summary] = repo.of_account(account)
    changed = replace(summary, consumed_quantity=summary.consumed_quantity + 1, version=summary.version + 1)
    dynamodb_client().put_item(**repo.put_item(changed, summary.version)["Put"])
