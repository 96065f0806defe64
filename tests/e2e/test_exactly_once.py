"""Exactly once, whatever the stream does: replayed batches, records delivered twice, failing batches split,
a crash between two transactions, two consumers at once, records sent back to NEW. After each: no double debit,
no lost record, and reconciliation finds zero drift between records, wallets and summaries."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.builders import configure_cell_phone_plan
from tests.e2e.flow import Flow

pytestmark = pytest.mark.e2e

Event = dict[str, Any]
SET_STATUS = """mutation($ids: [ID!]!) { setUsageStatus(ids: $ids, status: NEW) {
  records { id status attempt } errors { code message field } } }"""


class Recorder:
    """A handler wrapper: keeps every event it is given, optionally reshapes it, then calls the real handler."""

    def __init__(self, handler: Callable[[Event, Any], Any], reshape: Callable[[Event], Event] | None = None,
                 after: Callable[[Event], None] | None = None):
        self.handler, self.reshape, self.after = handler, reshape, after
        self.events: list[Event] = []

    def __call__(self, event: Event, context: Any) -> Any:
        self.events.append(copy.deepcopy(event))
        response = self.handler(self.reshape(event) if self.reshape else event, context)
        if self.after is not None:
            self.after(event)
        return response


def rate_poller(handler: Callable[[Event, Any], Any], **options: Any) -> Any:
    """A poller of the rate function's mapping, positioned at the end of the stream now."""
    from functions.rate import handler as rate
    from infra.dynamo import dynamodb_client, streams_client
    from infra.settings import get_settings
    from local.streams import StreamPoller

    settings = get_settings()
    poller = StreamPoller(dynamodb_client(settings), streams_client(settings), settings.usage_table, handler,
                          filter_patterns=rate.FILTER_PATTERNS, batching_window_s=0, starting_position="LATEST",
                          **options)
    poller.run_once()  # fixes LATEST here, before the test writes anything
    return poller


def plan_with_two_accounts(flow: Flow) -> None:
    configure_cell_phone_plan(flow.api)
    flow.subscribe("s-a", "alpha", "CELL")
    flow.subscribe("s-b", "beta", "CELL", binding="ACCOUNT")


def usage_of_both(flow: Flow) -> list[dict[str, Any]]:
    """4,500 texts and 3 GB for alpha, 4,100 texts for beta, spread over 12 records."""
    records = [{"accountExternalId": "alpha", "resourceCode": "TEXTS", "quantity": q} for q in
               ("1000", "1500", "500", "1200", "300")]
    records += [{"accountExternalId": "alpha", "resourceCode": "DATA", "quantity": "1.5", "unitCode": "GB"}] * 2
    records += [{"accountExternalId": "beta", "resourceCode": "TEXTS", "quantity": q} for q in
                ("2000", "1000", "600", "400", "100")]
    return flow.record(*[dict(r) for r in records])


def totals(flow: Flow) -> dict[str, Any]:
    """What the test checks after each fault: every summary's totals and every wallet's balance."""
    out: dict[str, Any] = {}
    for account in ("alpha", "beta"):
        for s in flow.summaries(account):
            out[f"{account}/{s['resource']['code']}"] = (s["consumedQuantity"], s["debitedQuantity"],
                                                          s["overageQuantity"], s["amount"], s["usageCount"])
        for w in flow.wallets(account):
            out[f"{account}/wallet/{w['resource']['code']}"] = w["balance"]
    return out


EXPECTED = {
    "alpha/TEXTS": ("4500", "4000", "500", "375.00", 5),
    "alpha/DATA": ("3", "2", "1", "1.25", 2),
    "beta/TEXTS": ("4100", "4000", "100", "75.00", 5),
    "alpha/wallet/TEXTS": "0", "alpha/wallet/DATA": "0", "alpha/wallet/MINUTES": "100",
    "beta/wallet/TEXTS": "0", "beta/wallet/DATA": "2", "beta/wallet/MINUTES": "100",
}


def assert_exact(flow: Flow) -> None:
    """The totals are exact, stay exact when the session's own pollers deliver everything again, and
    reconciliation finds no drift."""
    from infra.reconciliation import reconcile

    assert totals(flow) == EXPECTED
    flow.drain()
    assert totals(flow) == EXPECTED
    report = reconcile(flow.api.tenant)
    assert report.clean, "\n".join(report.lines())
    assert report.records == 12


def test_replaying_every_batch_changes_nothing(flow: Flow) -> None:
    # GIVEN usage of two accounts rated through a poller that records its events
    from functions.rate import handler as rate

    plan_with_two_accounts(flow)
    recorder = Recorder(rate.handler)
    poller = rate_poller(recorder)
    usage_of_both(flow)
    poller.drain()
    assert totals(flow) == EXPECTED
    # WHEN every batch is delivered again, as a retried invocation would
    from local.lambda_context import LocalLambdaContext

    for event in recorder.events:
        assert rate.handler(event, LocalLambdaContext("rate")) == {"batchItemFailures": []}
    # THEN nothing changed
    assert_exact(flow)


def test_a_record_delivered_twice_in_one_batch_counts_once(flow: Flow) -> None:
    # GIVEN a stream that hands every record over twice in the same batch
    from functions.rate import handler as rate

    plan_with_two_accounts(flow)
    poller = rate_poller(Recorder(rate.handler, reshape=lambda e: {"Records": e["Records"] + e["Records"]}))
    # WHEN the usage is rated
    usage_of_both(flow)
    poller.drain()
    # THEN each record counts once
    assert_exact(flow)


def test_a_failing_batch_is_split_and_nothing_is_counted_twice(flow: Flow) -> None:
    # GIVEN a function that fails after doing its work whenever its batch holds more than one record
    from functions.rate import handler as rate

    def fail_if_several(event: Event) -> None:
        if len(event["Records"]) > 1:
            raise RuntimeError("the function crashed after writing")

    plan_with_two_accounts(flow)
    recorder = Recorder(rate.handler, after=fail_if_several)
    poller = rate_poller(recorder, max_retry_attempts=2)
    # WHEN the usage is rated: the stream retries and bisects down to single records
    usage_of_both(flow)
    poller.drain()
    assert any(len(e["Records"]) == 1 for e in recorder.events)
    # THEN every record counts exactly once
    assert_exact(flow)


def test_a_crash_between_two_transactions_loses_nothing(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a rate function that dies after the first of the several transactions of a batch
    from functions.rate import handler as rate
    from infra.rating_repo import RatingRepository

    written = {"transactions": 0, "crashes": 0}
    real = RatingRepository.transact

    def crash_after_first(self: RatingRepository, items: list[dict[str, Any]]) -> None:
        written["transactions"] += 1
        if written["transactions"] == 2 and not written["crashes"]:
            written["crashes"] += 1
            raise ConnectionError("the container died between two writes")
        real(self, items)

    plan_with_two_accounts(flow)
    monkeypatch.setattr(RatingRepository, "transact", crash_after_first)
    monkeypatch.setattr("infra.rating_repo.MAX_TRANSACTION_ITEMS", 12)  # several transactions for this batch
    poller = rate_poller(rate.handler)
    # WHEN the usage is rated and the batch is delivered again after the crash
    usage_of_both(flow)
    poller.drain()
    # THEN the crash happened, and the retry finished the job without counting the first group twice
    assert written["crashes"] == 1 and written["transactions"] >= 3
    assert_exact(flow)


def test_a_steps_transactions_go_out_at_once_and_one_failing_loses_nothing(flow: Flow,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a rate function whose batch writes several independent transactions per step (two accounts, small
    # transactions), where the first two must be in flight together and one of them dies
    import threading

    from functions.rate import handler as rate
    from infra.rating_repo import RatingRepository

    together = threading.Barrier(2, timeout=30)  # broken (and the batch failed) unless two are sent at once
    seen = {"transactions": 0, "met": 0}
    lock = threading.Lock()
    real = RatingRepository.transact

    def concurrent_then_crash(self: RatingRepository, items: list[dict[str, Any]]) -> None:
        with lock:
            seen["transactions"] += 1
            mine = seen["transactions"]
        if mine <= 2:
            together.wait()
            with lock:
                seen["met"] += 1
        if mine == 1:
            raise ConnectionError("one writer died while the other wrote")
        real(self, items)

    plan_with_two_accounts(flow)
    monkeypatch.setattr(RatingRepository, "transact", concurrent_then_crash)
    monkeypatch.setattr("infra.rating_repo.MAX_TRANSACTION_ITEMS", 9)  # one group's chunk fills a transaction
    poller = rate_poller(rate.handler)
    # WHEN the usage is rated, and the failed batch delivered again
    usage_of_both(flow)
    poller.drain()
    # THEN the two first transactions met, one failed, and everything counted exactly once in the end
    assert seen["met"] == 2 and seen["transactions"] >= 3
    assert_exact(flow)


def test_two_consumers_rating_the_same_records_at_once_count_each_once(flow: Flow) -> None:
    # GIVEN two consumers of the same stream running concurrently (threads), as with duplicate deliveries
    from functions.rate import handler as rate

    plan_with_two_accounts(flow)
    first, second = rate_poller(rate.handler, batch_size=3), rate_poller(rate.handler, batch_size=5)
    first.start()
    second.start()
    try:
        # WHEN the usage is recorded while both poll
        usage_of_both(flow)
        first.drain()
        second.drain()
    finally:
        first.stop()
        second.stop()
    # THEN each record counted once, whichever consumer got there first
    assert_exact(flow)


def test_unrated_usage_is_rated_exactly_once_after_it_is_sent_back_to_new(flow: Flow) -> None:
    # GIVEN texts for an account that has no subscription yet
    from functions.rate import handler as rate
    from local.lambda_context import LocalLambdaContext

    configure_cell_phone_plan(flow.api)
    recorder = Recorder(rate.handler)
    poller = rate_poller(recorder)
    [result] = flow.record({"accountExternalId": "late", "resourceCode": "TEXTS", "quantity": "4500"})
    poller.drain()
    record = flow.usage_record(result["usageRecord"]["id"])
    # THEN it is WARNING_UNRATED, with a code and a message that says what to do
    assert (record["status"], record["errorCode"]) == ("WARNING_UNRATED", "NO_SUBSCRIPTION")
    assert "create one" in record["errorMessage"] and "NEW" in record["errorMessage"]
    # WHEN the subscription is created and the record is sent back to NEW
    flow.subscribe("s-late", "late", "CELL")
    flow.api.ok(SET_STATUS, {"ids": [result["usageRecord"]["id"]]})
    poller.drain()
    # THEN it is rated once: $375; replaying every event (the first attempt's too) changes nothing
    for event in recorder.events:
        rate.handler(event, LocalLambdaContext("rate"))
    flow.drain()
    record = flow.usage_record(result["usageRecord"]["id"])
    assert (record["status"], record["ratedAmount"]) == ("PROCESSED", "375.00")
    summary = flow.summary("late", "TEXTS")
    assert (summary["usageCount"], summary["amount"]) == (1, "375.00")
