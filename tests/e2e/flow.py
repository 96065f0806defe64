"""The end-to-end path as a partner and a front end use it: configure and activate products, subscribe
accounts, record usage through GraphQL, let the stream be processed, read summaries, records and wallets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.builders import CONFIGURE, activate_product, unit_classes

NOW = datetime.now(UTC)
#: Subscriptions start at 00:00 of the current month, so usage "now" falls in an OPEN period.
MONTH_START = NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
#: A moment inside the current period, before now (usage must not start in the future).
RECENTLY = max(MONTH_START + timedelta(minutes=1), NOW - timedelta(minutes=2))

RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) {
  accepted duplicates rejected
  results { index idempotencyKey outcome errors { code message field } usageRecord { id status } } } }"""
SUMMARY_FIELDS = """id status periodStart periodEnd closesAt consumedQuantity debitedQuantity overageQuantity
  amount ratedAmount adjustmentAmount currency usageCount preratedAmount preratedQuantity bindingTarget
  resource { code } unit { unitCode }"""
SUMMARIES = """query($a: String!, $r: String, $first: Int, $after: String) { account(externalId: $a) {
  usageSummaries(resourceCode: $r, first: $first, after: $after) {
    edges { cursor node { """ + SUMMARY_FIELDS + """ } } pageInfo { hasNextPage endCursor } } } }"""
USAGE_RECORD = """query($id: ID!) { usageRecord(id: $id) { id status errorCode errorMessage
  debitedQuantity overageQuantity ratedAmount summary { id amount } } }"""
SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  record { externalId } errors { code message field } } }"""
WALLETS = """query($a: String!) { account(externalId: $a) { wallets { bindingTarget balance resource { code }
  buckets { source balance grantedQuantity } } } }"""
CLASSES = "{ unitOfMeasureClasses { code } }"
RESOURCE = "query($c: String!) { usageResource(code: $c) { code } }"
UNIT_CLASS_OF = {"TEXTS": "COUNT", "DATA": "DATA", "MINUTES": "TIME", "CALLS": "COUNT", "SEATS": "COUNT"}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Flow:
    def __init__(self, api: Any, pollers: Any):
        self.api = api
        self.pollers = pollers
        self.count = 0

    # ------------------------------------------------------------------------------------------ catalog
    def product(self, code: str, resources: list[dict[str, Any]], model: str = "ANCHOR",
                activate: bool = True, validate: bool = True) -> None:
        """One configureUsageProduct call (resources as GuidedResourceInput, resources created when new)."""
        if not any(c["code"] == "DATA" for c in self.api(CLASSES)["unitOfMeasureClasses"]):
            unit_classes(self.api)
        inputs = []
        for resource in resources:
            code_ = resource["resourceCode"]
            exists = self.api(RESOURCE, {"c": code_})["usageResource"]
            inputs.append({"effectiveFrom": iso(MONTH_START - timedelta(days=62)),
                           "rateUnitCode": "USD" if "overageRate" in resource else None,
                           "newResource": None if exists else {"name": code_.title(),
                                                                "unitOfMeasureClassCode": UNIT_CLASS_OF[code_]},
                           **resource})
        self.api.ok(CONFIGURE, {"input": {"productCode": code, "productName": code, "usageModelType": model,
                                          "resources": inputs}})
        if activate:
            activate_product(self.api, code, validate)

    def subscribe(self, external_id: str, account: str, product: str, *, start: datetime = MONTH_START,
                  binding: str = "SELF", billing_day: int | None = None) -> None:
        self.api.ok(SUBSCRIBE, {"input": {"externalId": external_id, "accountExternalId": account,
                                          "productCode": product, "startDate": iso(start),
                                          "bindingTarget": binding, "billingDayOfMonth": billing_day}})

    # ------------------------------------------------------------------------------------------ usage
    def record(self, *records: dict[str, Any], expect: str = "ACCEPTED") -> list[dict[str, Any]]:
        """recordUsage with defaults (a fresh idempotency key, time RECENTLY); asserts every outcome."""
        payload = []
        for r in records:
            self.count += 1
            at = r.pop("at", RECENTLY)
            payload.append({"idempotencyKey": f"k{self.count}", "startTime": iso(at), **r})
        results = self.api(RECORD, {"records": payload})["recordUsage"]["results"]
        assert [x["outcome"] for x in results] == [expect] * len(results), results
        return results  # type: ignore[no-any-return]

    def drain(self) -> None:
        self.pollers.drain()

    # ------------------------------------------------------------------------------------------ reading
    def summaries(self, account: str, resource: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.api(SUMMARIES, {"a": account, "r": resource, "first": 100, "after": after})
            connection = page["account"]["usageSummaries"]
            out.extend(e["node"] for e in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                return out
            after = connection["pageInfo"]["endCursor"]

    def summary(self, account: str, resource: str) -> dict[str, Any]:
        found = self.summaries(account, resource)
        assert len(found) == 1, found
        return found[0]

    def usage_record(self, record_id: str) -> dict[str, Any]:
        return self.api(USAGE_RECORD, {"id": record_id})["usageRecord"]  # type: ignore[no-any-return]

    def wallets(self, account: str) -> list[dict[str, Any]]:
        return self.api(WALLETS, {"a": account})["account"]["wallets"]  # type: ignore[no-any-return]


def money(value: str) -> Decimal:
    return Decimal(value)
