"""Usage summaries in the summaries table (key formats in ``infra.keys``, section "usage summaries").

One item per summary: its keys, ``version`` (the optimistic-concurrency counter every writer conditions on),
``status`` and ``period_start`` as plain attributes for conditions and filters, and the whole
``core.summaries.UsageSummary`` as a map (``infra.codec``). An OPEN summary also carries the sparse gsi1 keys
(``OPEN#{shard}`` / its closing time) that the period-close job Queries; closing removes them.

Writes are TransactWriteItems entries (``put_item``) so rating can book a summary in the same transaction as the
records and wallet debits it comes from; ``close`` is the only write of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from core.summaries import SummaryStatus, UsageSummary, close, period_stamp
from core.values import immutable
from infra import keys
from infra.accounts_repo import from_attributes, to_attributes
from infra.codec import decode, encode, to_iso
from infra.table_repo import TableRepository

SummaryRef = tuple[str, str]  # (account external id, summary id)
BATCH_GET_LIMIT = 100


@immutable
class DueSummary:
    """An OPEN summary whose closing time has come, as the OPEN index lists it."""

    pk: str
    sk: str


class SummariesRepository(TableRepository):
    table_setting = "summaries_table"

    def key(self, account: str, summary_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.summaries_pk(self.tenant, account)}, "sk": {"S": keys.summary_sk(summary_id)}}

    # ------------------------------------------------------------------------------------------ reads
    def get(self, account: str, summary_id: str) -> UsageSummary | None:
        item = self.client.get_item(TableName=self.table, Key=self.key(account, summary_id),
                                    ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def batch_get(self, refs: Iterable[SummaryRef]) -> dict[SummaryRef, UsageSummary]:
        """The summaries that exist among ``refs`` (BatchGetItem, consistent, 100 keys a call)."""
        wanted = list(dict.fromkeys(refs))
        found: dict[SummaryRef, UsageSummary] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, Any] = {self.table: {
                "Keys": [self.key(a, s) for a, s in wanted[start:start + BATCH_GET_LIMIT]], "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    summary = from_item(item)
                    found[(summary.account_external_id, summary.id)] = summary
                request = response.get("UnprocessedKeys") or {}
        return found

    def page(self, account: str, resource_code: str | None, since: datetime | None, until: datetime | None,
             first: int, after: str | None) -> tuple[list[UsageSummary], bool]:
        """Up to ``first`` summaries of the account (of one resource, or all) whose period starts in
        ``[since, until)``, in resource then period order, after the summary id ``after``; and whether more exist."""
        low, high = keys.summary_range(resource_code, period_stamp(since) if since else None,
                                       period_stamp(until) if until else None)
        if after is not None:
            low = max(low, keys.summary_sk(after) + "\x00")
        values: dict[str, Any] = {":pk": {"S": keys.summaries_pk(self.tenant, account)},
                                  ":low": {"S": low}, ":high": {"S": high}}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                                  "ExpressionAttributeValues": values}
        filters = []
        if since is not None:
            filters.append("period_start >= :since")
            values[":since"] = {"S": to_iso(since)}
        if until is not None:
            filters.append("period_start < :until")
            values[":until"] = {"S": to_iso(until)}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        found: list[UsageSummary] = []
        while True:
            kwargs["Limit"] = first + 1 - len(found)
            response = self.client.query(**kwargs)
            found.extend(from_item(i) for i in response.get("Items", []))
            if len(found) > first or "LastEvaluatedKey" not in response:
                return found[:first], len(found) > first
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def of_account(self, account: str) -> list[UsageSummary]:
        """Every summary of an account (reconciliation)."""
        out, more, after = [], True, None
        while more:
            page, more = self.page(account, None, None, None, 1000, after)
            out.extend(page)
            after = page[-1].id if page else None
        return out

    # ------------------------------------------------------------------------------------------ writes
    def put_item(self, summary: UsageSummary, expected_version: int | None) -> dict[str, Any]:
        """A TransactWriteItems Put of ``summary``: new (``expected_version`` None) or replacing the stored
        version ``expected_version`` of an OPEN summary — so a concurrent writer or a close forces a re-read."""
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(self.tenant, summary)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v AND #status = :open"
            put["ExpressionAttributeNames"] = {"#status": "status"}
            put["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)},
                                                ":open": {"S": SummaryStatus.OPEN.value}}
        return {"Put": put}

    # ------------------------------------------------------------------------------------------ period close
    def close(self, account: str, summary_id: str, now: datetime) -> UsageSummary | None:
        """Mark the summary COMPLETE if it is OPEN and its waiting period has passed (else None)."""
        key = self.key(account, summary_id)
        return close_item(self.client, self.table, key["pk"]["S"], key["sk"]["S"], now)


def close_item(client: Any, table: str, pk: str, sk: str, now: datetime) -> UsageSummary | None:
    """Close one summary, conditioned on the version read: None when it is not due, or when a rating write got
    there first (that write was for an OPEN summary, so it belongs in it; the next run closes it)."""
    item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    summary = from_item(item)
    if summary.status != SummaryStatus.OPEN or now < summary.closes_at:
        return None
    closed = close(summary, now)
    put = SummariesRepository(item["tenant"]["S"], client, table).put_item(closed, summary.version)["Put"]
    try:
        client.put_item(**put)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return closed


@immutable
class CloseReport:
    closed: int
    left_open: int


def close_due(client: Any, table: str, now: datetime) -> CloseReport:
    """Close every OPEN summary (of every tenant) whose waiting period has passed by ``now``."""
    closed = left = 0
    for due in due_for_close(client, table, now):
        if close_item(client, table, due.pk, due.sk, now) is None:
            left += 1
        else:
            closed += 1
    return CloseReport(closed, left)


def due_for_close(client: Any, table: str, now: datetime, limit: int = 1000) -> Iterator[DueSummary]:
    """OPEN summaries (of every tenant) whose closing time is at or before ``now``, from the OPEN index."""
    for shard in range(keys.OPEN_SUMMARY_SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": table, "IndexName": "gsi1", "Limit": limit,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :now",
            "ExpressionAttributeValues": {":pk": {"S": keys.open_summaries_pk(shard)}, ":now": {"S": to_iso(now)}}}
        while True:
            response = client.query(**kwargs)
            for item in response.get("Items", []):
                yield DueSummary(item["pk"]["S"], item["sk"]["S"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# ---------------------------------------------------------------------------------------------- item mapping
def to_item(tenant: str, summary: UsageSummary) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": keys.summaries_pk(tenant, summary.account_external_id)},
        "sk": {"S": keys.summary_sk(summary.id)},
        "kind": {"S": "UsageSummary"},
        "tenant": {"S": tenant},
        "account": {"S": summary.account_external_id},
        "status": {"S": summary.status.value},
        "version": {"N": str(summary.version)},
        "period_start": {"S": to_iso(summary.period_start)},
        "data": {"M": to_attributes(encode(summary))},
    }
    if summary.status == SummaryStatus.OPEN:
        item["gsi1pk"] = {"S": keys.open_summaries_pk(keys.open_summary_shard(tenant, summary.account_external_id))}
        item["gsi1sk"] = {"S": to_iso(summary.closes_at)}
    return item


def from_item(item: dict[str, Any]) -> UsageSummary:
    return decode(UsageSummary, from_attributes(item["data"]["M"]))
