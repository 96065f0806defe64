"""Usage summaries in the summaries table (key formats in ``infra.keys``, section "usage summaries").

One item per summary: its keys, ``version`` (the optimistic-concurrency counter every writer conditions on),
``status``, ``period_start`` and ``period_end`` as plain attributes for conditions and filters, and the whole
``core.summaries.UsageSummary`` as a map (``infra.codec``). An OPEN summary also carries the sparse gsi1 keys
(``OPEN#{shard}`` / its closing time) that the period-close job Queries; closing removes them. Every summary
carries the gsi2 keys (``T#{tenant}#SUMST#{status}`` / ``{period end}#{account}#{id}``) that invoicing lists by;
a status change moves it to the partition of its new status.

Writes are TransactWriteItems entries (``put_item``) so rating can book a summary in the same transaction as the
records and wallet debits it comes from. The invoicing loop writes on its own: the period close (``close_due``:
the schedule, and ``closeUsagePeriods`` for one tenant), "invoice now" (``close_now``) and ``mark_invoiced`` —
each write conditioned on the version read, the last two all or nothing in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from core.errors import Conflict
from core.processing.gate import EarlyClose
from core.summaries import (
    SummaryStatus,
    UsageSummary,
    close,
    close_now,
    is_due,
    mark_invoiced,
    period_stamp,
    plan_changes,
)
from core.values import immutable
from infra import keys
from infra.codec import decode, encode, from_iso, to_iso
from infra.dynamo_kit import (
    TransactionCancelled,
    batch_get,
    expression_values,
    from_attribute,
    from_attributes,
    key,
    query_items,
    query_pages,
    to_attributes,
    transact_write,
)
from infra.table_repo import TableRepository

SummaryRef = tuple[str, str]  # (account external id, summary id)
#: summaries one closeUsageSummaries call closes: each is a Put and an early-close marker in one transaction
MAX_CLOSE_NOW = 50
#: summaries one markUsageSummariesInvoiced call marks: one Put each, in one transaction
MAX_INVOICE = 100
#: summaries one closeUsagePeriods call closes (it says when more are due: call it again)
MAX_CLOSE_PER_CALL = 200
#: rounds of read, plan and write when a concurrent writer changed a summary in between
WRITE_ROUNDS = 4


@immutable
class DueSummary:
    """An OPEN summary whose closing time has come, as the OPEN index lists it."""

    pk: str
    sk: str


class SummariesRepository(TableRepository):
    table_setting = "summaries_table"

    def key(self, account: str, summary_id: str) -> dict[str, Any]:
        return key(keys.summaries_pk(self.tenant, account), keys.summary_sk(summary_id))

    # ------------------------------------------------------------------------------------------ reads
    def get(self, account: str, summary_id: str) -> UsageSummary | None:
        item = self.client.get_item(TableName=self.table, Key=self.key(account, summary_id),
                                    ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def batch_get(self, refs: Iterable[SummaryRef]) -> dict[SummaryRef, UsageSummary]:
        """The summaries that exist among ``refs`` (BatchGetItem, consistent, 100 keys a call)."""
        wanted = [self.key(a, s) for a, s in dict.fromkeys(refs)]
        summaries = (from_item(item) for item in batch_get(self.client, self.table, wanted))
        return {(summary.account_external_id, summary.id): summary for summary in summaries}

    def page(self, account: str, resource_code: str | None, since: datetime | None, until: datetime | None,
             first: int, after: str | None) -> tuple[list[UsageSummary], bool]:
        """Up to ``first`` summaries of the account (of one resource, or all) whose period starts in
        ``[since, until)``, in resource then period order, after the summary id ``after``; and whether more exist."""
        low, high = keys.summary_range(resource_code, period_stamp(since) if since else None,
                                       period_stamp(until) if until else None)
        if after is not None:
            low = max(low, keys.summary_sk(after) + "\x00")
        values = expression_values(pk=keys.summaries_pk(self.tenant, account), low=low, high=high,
                                   since=to_iso(since) if since is not None else None,
                                   until=to_iso(until) if until is not None else None)
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                                  "ExpressionAttributeValues": values}
        filters = []
        if since is not None:
            filters.append("period_start >= :since")
        if until is not None:
            filters.append("period_start < :until")
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        found: list[UsageSummary] = []
        for response in query_pages(self.client, kwargs, next_limit=lambda: first + 1 - len(found)):
            found.extend(from_item(i) for i in response.get("Items", []))
            if len(found) > first:
                break
        return found[:first], len(found) > first

    def of_account(self, account: str) -> list[UsageSummary]:
        """Every summary of an account (reconciliation)."""
        out, more, after = [], True, None
        while more:
            page, more = self.page(account, None, None, None, 1000, after)
            out.extend(page)
            after = page[-1].id if page else None
        return out

    def listing(self, statuses: Sequence[SummaryStatus], end_from: datetime | None, end_to: datetime | None,
                account: str | None, first: int, after: str | None) -> tuple[list[tuple[str, UsageSummary]], bool]:
        """Up to ``first`` summaries of the tenant in one of ``statuses`` whose period ends in
        ``[end_from, end_to)``, in period end, account, id order (their gsi2 sort key: the position), after the
        position ``after``; each with its position; and whether more exist. Across accounts: per status one Query
        of gsi2 and one BatchGetItem a page, merged (a summary is in one status at a time, so positions never
        repeat). For one account: its partition (a Query), in the same order."""
        low = period_stamp(end_from) if end_from else ""
        high = period_stamp(end_to) if end_to else "~"  # an item's key goes on past the stamp: end_to is excluded
        if after is not None:
            low = max(low, after + "\x00")
        if account is not None:
            return self._account_by_status(account, tuple(statuses), low, high, first)
        merged: list[tuple[str, UsageSummary]] = []
        more = False
        for status in statuses:
            page, has_more = self._by_status(status, low, high, first)
            merged.extend(page)
            more = more or has_more
        merged.sort(key=lambda entry: entry[0])
        return merged[:first], more or len(merged) > first

    def _by_status(self, status: SummaryStatus, low: str, high: str, first: int
                   ) -> tuple[list[tuple[str, UsageSummary]], bool]:
        if low > high:  # BETWEEN refuses bounds the wrong way round; nothing can lie between them
            return [], False
        # a key condition cannot compare with an empty string: no lower bound then
        values = expression_values(pk=keys.summaries_status_pk(self.tenant, status.value), high=high, low=low or None)
        condition = "gsi2pk = :pk AND gsi2sk " + ("BETWEEN :low AND :high" if low else "<= :high")
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "gsi2",
                                  "KeyConditionExpression": condition, "ExpressionAttributeValues": values}
        found: list[tuple[str, UsageSummary]] = []
        for response in query_pages(self.client, kwargs, next_limit=lambda: first + 1 - len(found)):
            items = response.get("Items", [])
            refs = [(_account_of(from_attribute(i["pk"])), from_attribute(i["sk"])[len(keys.SUMMARY_PREFIX):])
                    for i in items]
            summaries = self.batch_get(refs)
            for item, ref in zip(items, refs, strict=True):
                summary = summaries.get(ref)
                if summary is not None and summary.status == status:  # the index lags a status change a moment
                    found.append((from_attribute(item["gsi2sk"]), summary))
            if len(found) > first:
                break
        return found[:first], len(found) > first

    def _account_by_status(self, account: str, statuses: tuple[SummaryStatus, ...], low: str, high: str,
                           first: int) -> tuple[list[tuple[str, UsageSummary]], bool]:
        positioned = sorted(((status_sk(s), s) for s in self.of_account(account) if s.status in statuses),
                            key=lambda entry: entry[0])
        found = [(p, s) for p, s in positioned if low <= p <= high]
        return found[:first], len(found) > first

    def early_closes(self, now: datetime) -> list[EarlyClose]:
        """The periods closed early whose waiting period has not passed by ``now`` (one Query, usually empty)."""
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk AND sk > :now",
                                  "ExpressionAttributeValues": expression_values(
                                      pk=keys.early_closes_pk(self.tenant), now=to_iso(now))}
        return [EarlyClose(i["account"], from_iso(i["period_start"]), from_iso(i["period_end"]),
                           from_iso(i["closes_at"]))
                for i in map(from_attributes, query_items(self.client, **kwargs))]

    # ------------------------------------------------------------------------------------------ invoicing loop
    def close_now(self, refs: Sequence[SummaryRef | None], now: datetime) -> list[tuple[UsageSummary, bool]]:
        """"Invoice now": the named summaries (None: an id that names none) COMPLETE at once, all or nothing
        (``core.summaries.close_now``): each as it is afterwards, and whether this call closed it. Each closed
        before its waiting period passed leaves an early-close marker for the PERIOD_CLOSED gate, in the same
        transaction."""

        def items(closed: UsageSummary, before: UsageSummary) -> list[dict[str, Any]]:
            writes = [self.put_item(closed, before.version)]
            if closed.closed_early:
                writes.append({"Put": {"TableName": self.table, "Item": self._early_close_item(closed)}})
            return writes

        return self._change_all(refs, lambda s: close_now(s, now), MAX_CLOSE_NOW, items)

    def mark_invoiced(self, refs: Sequence[SummaryRef | None], reference: str, now: datetime
                      ) -> list[tuple[UsageSummary, bool]]:
        """COMPLETE → INVOICED with ``reference``, all or nothing (``core.summaries.mark_invoiced``): each as it
        is afterwards and whether this call changed it (a repeat with the same reference changes nothing)."""

        def items(invoiced: UsageSummary, before: UsageSummary) -> list[dict[str, Any]]:
            return [self.put_item(invoiced, before.version, expected_status=before.status)]

        return self._change_all(refs, lambda s: mark_invoiced(s, reference, now), MAX_INVOICE, items)

    def _change_all(self, refs: Sequence[SummaryRef | None], change: Callable[[UsageSummary], UsageSummary],
                    limit: int, items: Callable[[UsageSummary, UsageSummary], list[dict[str, Any]]]
                    ) -> list[tuple[UsageSummary, bool]]:
        """Read the summaries, plan the change of all of them (refusing every problem, changing nothing), and
        write what changes in one transaction conditioned on the versions read; a concurrent writer (rating
        booking an OPEN summary) sends it round again on fresh reads. Each requested summary as it is after, and
        whether this call changed it."""
        for _ in range(WRITE_ROUNDS):
            found = self.batch_get(ref for ref in refs[:limit + 1] if ref is not None)
            changed = plan_changes([found.get(ref) if ref is not None else None for ref in refs], change, limit)
            if changed:
                writes = [w for after in changed
                          for w in items(after, found[(after.account_external_id, after.id)])]
                try:
                    transact_write(self.client, writes)
                except TransactionCancelled:
                    continue
            done = {(c.account_external_id, c.id): c for c in changed}
            return [(done.get(ref) or found[ref], ref in done)
                    for ref in dict.fromkeys(r for r in refs if r is not None)]
        raise Conflict("the summaries kept changing while they were written; try again")

    def _early_close_item(self, summary: UsageSummary) -> dict[str, Any]:
        return to_attributes({
            "pk": keys.early_closes_pk(self.tenant),
            "sk": keys.early_close_sk(to_iso(summary.closes_at), summary.account_external_id, summary.id),
            "kind": "EarlyClose",
            "tenant": self.tenant,
            "account": summary.account_external_id,
            "period_start": to_iso(summary.period_start),
            "period_end": to_iso(summary.period_end),
            "closes_at": to_iso(summary.closes_at),
        })

    # ------------------------------------------------------------------------------------------ writes
    def put_item(self, summary: UsageSummary, expected_version: int | None,
                 expected_status: SummaryStatus = SummaryStatus.OPEN) -> dict[str, Any]:
        """A TransactWriteItems Put of ``summary``: new (``expected_version`` None) or replacing the stored
        version ``expected_version`` of a summary in ``expected_status`` (OPEN: rating and the close) — so a
        concurrent writer or a close forces a re-read."""
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(self.tenant, summary)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v AND #status = :status"
            put["ExpressionAttributeNames"] = {"#status": "status"}
            put["ExpressionAttributeValues"] = expression_values(v=expected_version, status=expected_status.value)
        return {"Put": put}

    # ------------------------------------------------------------------------------------------ period close
    def close(self, account: str, summary_id: str, now: datetime) -> UsageSummary | None:
        """Mark the summary COMPLETE if it is OPEN and its waiting period has passed (else None)."""
        return close_item(self.client, self.table, keys.summaries_pk(self.tenant, account),
                          keys.summary_sk(summary_id), now)


def close_item(client: Any, table: str, pk: str, sk: str, now: datetime, at: datetime | None = None
               ) -> UsageSummary | None:
    """Close one summary, conditioned on the version read: None when it is not due, or when a rating write got
    there first (that write was for an OPEN summary, so it belongs in it; the next run closes it)."""
    item = client.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=True).get("Item")
    if item is None:
        return None
    summary = from_item(item)
    if not is_due(summary, now):
        return None
    closed = close(summary, now, at)
    put = SummariesRepository(from_attribute(item["tenant"]), client, table).put_item(closed, summary.version)["Put"]
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
    #: the summaries closed (by ``close_due`` with a ``tenant``; the schedule only counts)
    summaries: tuple[UsageSummary, ...] = ()
    #: more were due than ``limit`` allowed: run it again
    more: bool = False


def close_due(client: Any, table: str, now: datetime, tenant: str | None = None,
              limit: int | None = None, at: datetime | None = None) -> CloseReport:
    """Close every OPEN summary (of every tenant, or of ``tenant``) whose waiting period has passed by ``now``:
    the schedule's run, and ``closeUsagePeriods`` (one tenant, at most ``limit`` summaries a call, as of an
    earlier ``now``, closed ``at`` the real time)."""
    closed: list[UsageSummary] = []
    left = 0
    keep = tenant is not None
    for due in due_for_close(client, table, now, tenant=tenant):
        if limit is not None and len(closed) >= limit:
            return CloseReport(len(closed), left, tuple(closed) if keep else (), more=True)
        summary = close_item(client, table, due.pk, due.sk, now, at)
        if summary is None:
            left += 1
        else:
            closed.append(summary)
    return CloseReport(len(closed), left, tuple(closed) if keep else ())


def due_for_close(client: Any, table: str, now: datetime, limit: int = 1000, tenant: str | None = None
                  ) -> Iterator[DueSummary]:
    """OPEN summaries (of every tenant, or of ``tenant``) whose closing time is at or before ``now``, from the
    OPEN index."""
    for shard in range(keys.OPEN_SUMMARY_SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": table, "IndexName": "gsi1", "Limit": limit,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :now",
            "ExpressionAttributeValues": expression_values(
                pk=keys.open_summaries_pk(shard), now=to_iso(now),
                tenant=keys.summaries_pk(tenant, "") if tenant is not None else None)}
        if tenant is not None:  # the index's keys carry the table's pk: T#{tenant}#SUMS#{account}
            kwargs["FilterExpression"] = "begins_with(pk, :tenant)"
        for item in query_items(client, **kwargs):
            yield DueSummary(from_attribute(item["pk"]), from_attribute(item["sk"]))


# ---------------------------------------------------------------------------------------------- item mapping
def to_item(tenant: str, summary: UsageSummary) -> dict[str, Any]:
    is_open = summary.status == SummaryStatus.OPEN
    return to_attributes({
        "pk": keys.summaries_pk(tenant, summary.account_external_id),
        "sk": keys.summary_sk(summary.id),
        "kind": "UsageSummary",
        "tenant": tenant,
        "account": summary.account_external_id,
        "status": summary.status.value,
        "version": summary.version,
        "period_start": to_iso(summary.period_start),
        "period_end": to_iso(summary.period_end),
        "data": {k: v for k, v in encode(summary).items() if v is not None},  # as before: unset fields left out
        "gsi2pk": keys.summaries_status_pk(tenant, summary.status.value),
        "gsi2sk": status_sk(summary),
        "gsi1pk": keys.open_summaries_pk(keys.open_summary_shard(tenant, summary.account_external_id))
        if is_open else None,
        "gsi1sk": to_iso(summary.closes_at) if is_open else None,
    })


def status_sk(summary: UsageSummary) -> str:
    """A summary's position in its status's gsi2 partition (period end, account, id): the listing's cursor."""
    return keys.summaries_status_sk(period_stamp(summary.period_end), summary.account_external_id, summary.id)


def _account_of(pk: str) -> str:
    return pk.split(keys.SEP, 3)[3]


def from_item(item: dict[str, Any]) -> UsageSummary:
    return decode(UsageSummary, from_attribute(item["data"]))
