"""Moving the repositories' hand-spelled AttributeValues onto ``infra.dynamo_kit`` changed no request byte.

GIVEN fixed inputs, every request the repositories send — rating's counter updates and ledger Puts, summary Puts,
rated/corrected/requeue updates, usage and upload items, keys and ExpressionAttributeValues of their reads — is
recorded through a fake client, and what the reads decode is recorded beside them. The recording is compared as
JSON text (dict order included, as botocore sends it) with ``item_identity.json``, written by the code before the
move (``python -m tests.unit.test_item_identity`` writes it anew: only on purpose, when a layout changes).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.subscriptions import BindingTarget, PeriodUnit, Subscription, SubscriptionRequest
from core.summaries import SummaryStatus, UsageSummary
from core.uploads import UploadStatus, UsageUpload
from core.usage import UsageStatus
from core.wallets import BucketChange, CreditCounter, LedgerEntryType
from infra import keys
from infra.accounts_repo import AccountsRepository, _bump
from infra.codec import encode
from infra.dynamo_kit import to_attributes
from infra.reconciliation import tenant_accounts
from infra.settings import get_settings
from infra.summaries_repo import SummariesRepository, close_item, due_for_close
from infra.summaries_repo import to_item as summary_item
from infra.uploads_repo import UploadsRepository
from infra.usage_repo import UsageRepository, to_item
from infra.wallets_repo import WalletsRepository
from tests.unit.test_usage_item import new_record, rated_record

GOLDEN = Path(__file__).with_name("item_identity.json")
AT = datetime(2026, 7, 14, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 9, 1, tzinfo=UTC)
D = Decimal


class Recorder:
    """A DynamoDB client that records each call and answers from ``answers`` (operation → function of the
    request), or with an empty response."""

    def __init__(self, log: list[Any], answers: dict[str, Callable[..., dict[str, Any]]] | None = None):
        self.log, self.answers = log, answers or {}

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        def call(**request: Any) -> dict[str, Any]:
            self.log.append([operation, {k: v for k, v in request.items() if k != "ClientRequestToken"}])
            answer = self.answers.get(operation)
            return answer(**request) if answer else {}
        return call


def changes() -> list[BucketChange]:
    """Two debits of one credit and a reversal of another; numbers in every shape a Decimal takes
    (exponent form, tiny, trailing zeros, negative)."""
    return [BucketChange("credit-1", "credit-1/GRANT", D("1E+2"), D("250.00"), D("150.00"), D("400"), D("150")),
            BucketChange("credit-1", "credit-1/ROLLOVER#2026-07", D("0.0000001"), D("3"), D("2.9999999"), D("400"),
                         D("150")),
            BucketChange("credit-2", "sub-1/credit-2", D("-12.5"), D("0"), D("12.5"), D("20"), D("0"))]


def subscription(version: int = 0) -> Subscription:
    return Subscription("sub-1", "acme", "CELL", "Cell plan", D("2"), AT, None, 1, PeriodUnit.MONTH, None,
                        BindingTarget.SELF, AT, version=version)


def summary(status: SummaryStatus = SummaryStatus.OPEN, version: int = 3) -> UsageSummary:
    return UsageSummary("S1", "acme", "SUBSCRIPTION:sub-1", "TEXTS", "EA", AT, LATER, LATER, status=status,
                        currency="USD", consumed_quantity=D("12.5"), usage_count=4, version=version)


def record() -> list[Any]:
    log: list[Any] = []

    def out(label: str, value: Any) -> None:
        log.append([label, value if isinstance(value, (dict, list, str, int)) else repr(value)])

    # ---------------------------------------------------------------- wallets: rating's hot items and reads
    wallets = WalletsRepository("demo", client=Recorder(log), table="accounts")
    pk = keys.wallet_pk("demo", "SUBSCRIPTION:sub-1|TEXTS")
    group = changes()[:2]
    out("counter update, new counter", wallets.counter_update(pk, "credit-1", group, False))
    out("counter update, existing counter", wallets.counter_update(pk, "credit-1", group, True))
    out("counter update, reversal", wallets.counter_update(pk, "credit-2", changes()[2:], True))
    counters = {"credit-1": CreditCounter("credit-1", D("400"), {"credit-1/GRANT": D("150")})}
    out("debit booking", list(wallets.booking_items("SUBSCRIPTION:sub-1|TEXTS", AT, LedgerEntryType.DEBIT, changes(),
                                                    counters, "rec-1:0", "rec-1", "S1", 0, LATER)))
    out("reversal booking", list(wallets.booking_items("W1", AT, LedgerEntryType.REVERSAL, changes()[2:], counters,
                                                       "S1:2", None, "S1", 2, LATER)))
    out("counters", wallets.counters("W1"))
    out("ledger page", wallets._ledger_items("W1", "L#0", "L#9", limit=5, start={"pk": "x"}))

    # ---------------------------------------------------------------- accounts
    account_item = to_attributes({"pk": keys.account_pk("demo", "acme"), "sk": keys.ACCOUNT_SK, "kind": "Account",
                                  "external_id": "acme", "created_at": "2026-07-14T09:30:00.000000Z",
                                  "subscriptions_version": 4})
    sub_item = to_attributes({"pk": keys.account_pk("demo", "acme"), "sk": keys.subscription_sk("sub-1"),
                              "kind": "Subscription", "data": encode(subscription(2))})
    guard = to_attributes({"account_external_id": "acme"})
    accounts = AccountsRepository("demo", client=Recorder(log, {
        "query": lambda **_: {"Items": [account_item, sub_item]},
        "get_item": lambda **_: {"Item": guard},
        "batch_get_item": lambda **_: {"Responses": {"accounts": [
            {"pk": account_item["pk"], "subscriptions_version": {"N": "4"}},
            {"pk": {"S": keys.account_pk("demo", "other")}}]}},
    }), table="accounts")
    out("account", accounts.get("acme"))
    out("subscriptions versions", accounts.subscriptions_versions(["acme", "other", "gone"]))
    request = SubscriptionRequest("sub-1", "acme", "CELL", AT, account_name="  Acme  ")
    out("creation items", accounts._creation_items(request, subscription(), AT))
    out("creation items, no name", accounts._creation_items(dataclasses.replace(request, account_name=None),
                                                             subscription(), AT))
    out("bump", _bump("accounts", keys.account_pk("demo", "acme")))
    out("changed", accounts.change_subscription("sub-1", lambda s: dataclasses.replace(s, quantity=D("3"),
                                                                                       version=s.version + 1)))

    # ---------------------------------------------------------------- summaries
    open_item = summary_item("demo", summary())
    early = SummariesRepository("demo", table="summaries")._early_close_item(
        dataclasses.replace(summary(), closes_at=LATER))
    summaries = SummariesRepository("demo", client=Recorder(log, {
        "query": lambda **r: {"Items": [early] if "sk > :now" in r["KeyConditionExpression"] else [open_item]},
        "batch_get_item": lambda **_: {"Responses": {"summaries": [open_item]}},
        "get_item": lambda **_: {"Item": open_item},
    }), table="summaries")
    out("summary put, new", summaries.put_item(summary(), None))
    out("summary put, replacing", summaries.put_item(summary(SummaryStatus.COMPLETE), 3, SummaryStatus.COMPLETE))
    out("summary key", summaries.key("acme", "S1"))
    out("summary get", summaries.get("acme", "S1"))
    out("summary page", summaries.page("acme", "TEXTS", AT, LATER, 10, "S0"))
    out("summary page, all", summaries.page("acme", None, None, None, 10, None))
    out("by status", summaries._by_status(SummaryStatus.OPEN, "2026", "2027", 10))
    out("by status, no low", summaries._by_status(SummaryStatus.OPEN, "", "2027", 10))
    out("early closes", summaries.early_closes(AT))
    out("close", close_item(summaries.client, "summaries", open_item["pk"]["S"], open_item["sk"]["S"], LATER, LATER))
    out("close by repository", summaries.close("acme", "S1", LATER))
    out("due", list(due_for_close(summaries.client, "summaries", LATER, limit=7, tenant="demo")))

    # ---------------------------------------------------------------- usage records
    usage = UsageRepository("demo", client=Recorder(log, {
        "query": lambda **_: {"Items": [to_item(new_record())]},
        "batch_get_item": lambda **_: {"Responses": {"usage": [to_item(new_record())]}},
    }), table="usage", put_threads=1)
    out("usage item", to_item(rated_record()))
    out("usage item, new", to_item(new_record()))
    out("usage key", usage.key("r1"))
    out("usage page", usage.account_page("acme", 5, after="2026#x", resource_code="TEXTS"))
    out("usage page, first", usage.account_page("acme", 5, status=UsageStatus.NEW))
    rated = dataclasses.replace(rated_record(), error_code=None)
    out("rated update", usage.rated_update(rated, 3))
    out("rated update, error", usage.rated_update(new_record(status=UsageStatus.ERROR, error_code="E",
                                                             error_message="why"), 0))
    out("corrected update", usage.corrected_update("r0", "r2"))
    out("requeue update", usage._requeue_update(rated_record()))
    out("correction", usage.write_correction(new_record(), new_record(id="c" * 32, correction_of=new_record().id)))
    out("insert", usage.insert_new([new_record()]))

    # ---------------------------------------------------------------- uploads
    upload = UsageUpload("demo", "up-1", "usage.csv", "text/csv", UploadStatus.PENDING, AT, LATER)
    settings = dataclasses.replace(get_settings(), usage_table="usage")
    uploads = UploadsRepository("demo", client=Recorder(log), settings=settings)
    uploads.create(upload)
    created = log[-1][1]["Item"]
    uploads = UploadsRepository("demo", settings=settings, client=Recorder(log, {"get_item": lambda **_: {"Item": {
        **created, "rows": {"N": "10"}, "accepted": {"N": "8"}, "duplicates": {"N": "1"}, "rejected": {"N": "1"},
        "report_key": {"S": "reports/up-1.json"}, "finished_at": {"S": LATER.isoformat()}}}}))
    out("upload", uploads.get("up-1"))
    out("upload started", uploads.started("up-1"))
    out("upload finished", uploads.finished("up-1", UploadStatus.COMPLETE, "reports/up-1.json",
                                            {"rows": 10, "accepted": 8, "rejected": 2}, now=LATER))
    out("upload failed", uploads.finished("up-1", UploadStatus.FAILED, "reports/up-1.json", {}, error="bad", now=LATER))
    not_upload = UploadsRepository("demo", settings=settings, client=Recorder(log, {"get_item": lambda **_: {
        "Item": {**created, "kind": {"S": "UsageRecord"}}}}))
    out("not an upload", not_upload.get("up-1"))

    # ---------------------------------------------------------------- reconciliation
    out("tenant accounts", sorted(tenant_accounts("demo", Recorder(log, {"scan": lambda **r: {"Items": [
        {"pk": {"S": r["ExpressionAttributeValues"][":p"]["S"] + "acme"}}]}}))))
    for operation, request in log:
        if operation == "scan":  # tenant_accounts names the tables of the environment's settings
            request["TableName"] = "(settings)"
    return log


def as_text(log: list[Any]) -> str:
    return json.dumps(log, indent=1, default=repr) + "\n"


def test_every_request_and_every_decoded_read_is_as_it_was_before_the_codec_move() -> None:
    assert as_text(record()) == GOLDEN.read_text()


if __name__ == "__main__":
    GOLDEN.write_text(as_text(record()))
