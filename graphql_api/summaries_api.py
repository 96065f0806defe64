"""Usage summaries and the invoicing loop (DOMAIN §2): ``usageSummary(id)``, ``usageSummaries`` across accounts,
``closeUsagePeriods``, ``closeUsageSummaries`` and ``markUsageSummariesInvoiced`` (ADMIN). ``Account.usageSummaries``
and ``UsageRecord.summary`` live on those types and call ``graphql_api.types.summaries``."""

import asyncio
from datetime import UTC, datetime

import strawberry

from core import summaries as s
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.types.common import Connection
from graphql_api.types.summaries import (
    CloseUsagePeriodsPayload,
    SummaryStatus,
    UsageSummariesPayload,
    UsageSummary,
    parse_summary_id,
    summary_of,
    summary_ref,
    tenant_summaries,
)


@strawberry.type
class SummariesQuery:
    @strawberry.field(permission_classes=[CanRead], description="A usage summary by id; null when it does not exist.")
    async def usage_summary(self, info: Info, id: strawberry.ID) -> UsageSummary | None:
        account, summary_id = parse_summary_id(id)
        return await summary_of(info, account, summary_id)

    @strawberry.field(permission_classes=[CanRead],
                      description="The tenant's summaries across accounts, for invoicing: of one status (or all), "
                                  "periods ending in [periodEndFrom, periodEndTo), by period end, then account.")
    async def usage_summaries(self, info: Info, status: SummaryStatus | None = None,
                              period_end_from: DateTime | None = None,
                              period_end_to: DateTime | None = None,
                              account_external_id: str | None = None, first: int | None = None,
                              after: str | None = None) -> Connection[UsageSummary]:
        return await tenant_summaries(info, s.SummaryStatus(status) if status else None, period_end_from,
                                      period_end_to, account_external_id, first, after)


@strawberry.type
class SummariesMutation:
    @strawberry.mutation(permission_classes=[CanConfigure],
                         description="Close every OPEN summary of the tenant whose period end + rating delay has "
                                     "passed by asOf (default and at most: now) — what the hourly schedule does. "
                                     "Idempotent.")
    async def close_usage_periods(self, info: Info, as_of: DateTime | None = None
                                  ) -> CloseUsagePeriodsPayload:
        from infra.summaries_repo import MAX_CLOSE_PER_CALL, close_due

        now = datetime.now(UTC)
        moment = s.close_as_of(as_of, now)
        repo = info.context.summaries
        report = await asyncio.to_thread(close_due, repo.client, repo.table, moment, info.context.tenant,
                                         MAX_CLOSE_PER_CALL, now)
        return CloseUsagePeriodsPayload(as_of=moment, closed_count=report.closed,
                                        summaries=[UsageSummary.from_domain(x) for x in report.summaries],
                                        has_more=report.more)

    @mutation(permission_classes=[CanConfigure],
              description="\"Invoice now\": close the given OPEN summaries at once (COMPLETE), giving up "
                                     "the rest of their late-usage window; only once their period has ended. All "
                                     "or nothing; COMPLETE or INVOICED ones are left as they are. At most 50.")
    async def close_usage_summaries(self, info: Info, ids: list[strawberry.ID]) -> UsageSummariesPayload:
        refs = [summary_ref(i) for i in ids]
        after = await asyncio.to_thread(info.context.summaries.close_now, refs, datetime.now(UTC))
        return _changed(after)

    @mutation(permission_classes=[CanConfigure],
              description="Mark COMPLETE summaries INVOICED with the invoice's reference. All or "
                                     "nothing; refused for OPEN summaries; a repeat with the same reference changes "
                                     "nothing. At most 100.")
    async def mark_usage_summaries_invoiced(self, info: Info, ids: list[strawberry.ID],
                                            invoice_reference: str) -> UsageSummariesPayload:
        refs = [summary_ref(i) for i in ids]
        reference = s.invoice_reference(invoice_reference)
        after = await asyncio.to_thread(info.context.summaries.mark_invoiced, refs, reference, datetime.now(UTC))
        return _changed(after)


def _changed(after: list[tuple[s.UsageSummary, bool]]) -> UsageSummariesPayload:
    return UsageSummariesPayload(summaries=[UsageSummary.from_domain(x) for x, _ in after],
                                 changed=sum(1 for _, changed in after if changed))
