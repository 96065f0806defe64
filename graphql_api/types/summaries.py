"""GraphQL type of usage summaries (API.md ``UsageSummary``), built ``from_domain``, and the resolvers that
``Account.usageSummaries`` and ``UsageRecord.summary`` delegate to."""

import asyncio
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.dataloader import DataLoader

from core import summaries as s
from core.errors import DomainError, ErrorCode
from core.money import normalize_quantity, round_money
from graphql_api.context import Info
from graphql_api.errors import UserError
from graphql_api.ids import from_global_id, to_global_id
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types.catalog import UnitOfMeasure, UsageResource, required_unit, resource_by_code
from graphql_api.types.common import Connection, connection, decode_cursor, page_size
from graphql_api.types.enums import SummaryStatus

KIND = "UsageSummary"
SummaryRef = tuple[str, str]


def summary_global_id(account: str, summary_id: str) -> strawberry.ID:
    return to_global_id(KIND, f"{account}|{summary_id}")


def parse_summary_id(value: str) -> SummaryRef:
    """(account, summary id) behind a UsageSummary id; NOT_FOUND when it is not one."""
    ref = summary_ref(value)
    if ref is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"'{value}' is not the id of a UsageSummary", "id")
    return ref


def summary_ref(value: str) -> SummaryRef | None:
    """(account, summary id) behind a UsageSummary id; None when it is not one."""
    decoded = from_global_id(value, KIND)
    account, sep, summary_id = decoded[1].partition("|") if decoded else ("", "", "")
    return (account, summary_id) if sep and account and summary_id else None


@strawberry.type(description="One account (or binding target), resource and billing period: the roll-up invoicing "
                             "reads, billed in arrears. Totals are provisional while OPEN.")
class UsageSummary:
    id: strawberry.ID
    account_external_id: str
    binding_target: str = strawberry.field(description="Whose wallet paid: SUBSCRIPTION:{id} or ACCOUNT:{id}.")
    period_start: DateTime
    period_end: DateTime
    closes_at: DateTime = strawberry.field(
        description="Period end plus the rating delay: usage is accepted until then, and the summary is final.")
    status: SummaryStatus
    consumed_quantity: DecimalScalar
    debited_quantity: DecimalScalar
    overage_quantity: DecimalScalar
    amount: DecimalScalar = strawberry.field(
        description="The price of the overage (each rate's cumulative total, rounded once) + prerated amounts + "
                    "adjustments from corrections of closed periods − what monetary commitments paid.")
    rated_amount: DecimalScalar
    adjustment_amount: DecimalScalar
    committed_amount: DecimalScalar
    currency: str | None
    usage_count: int
    prerated_amount: DecimalScalar
    prerated_quantity: DecimalScalar
    updated_at: DateTime | None
    closed_at: DateTime | None = strawberry.field(
        description="When it became COMPLETE: at or after closesAt, or earlier when closed early "
                    "(closeUsageSummaries).")
    invoice_reference: str | None = strawberry.field(
        description="The invoice it was billed on (markUsageSummariesInvoiced); set once INVOICED.")
    invoiced_at: DateTime | None
    _record: strawberry.Private[s.UsageSummary]

    @classmethod
    def from_domain(cls, summary: s.UsageSummary) -> "UsageSummary":
        q = normalize_quantity
        return cls(
            id=summary_global_id(summary.account_external_id, summary.id),
            account_external_id=summary.account_external_id, binding_target=summary.binding_target,
            period_start=summary.period_start, period_end=summary.period_end, closes_at=summary.closes_at,
            status=summary.status, consumed_quantity=q(summary.consumed_quantity),
            debited_quantity=q(summary.debited_quantity), overage_quantity=q(summary.overage_quantity),
            amount=_money(summary.amount, summary.currency),
            rated_amount=_money(summary.rated_amount, summary.currency),
            adjustment_amount=_money(summary.adjustment_amount, summary.currency),
            committed_amount=_money(summary.committed_amount, summary.currency), currency=summary.currency,
            usage_count=summary.usage_count, prerated_amount=_money(summary.prerated_amount, summary.currency),
            prerated_quantity=q(summary.prerated_quantity), updated_at=summary.updated_at,
            closed_at=summary.closed_at, invoice_reference=summary.invoice_reference,
            invoiced_at=summary.invoiced_at, _record=summary)

    @strawberry.field
    async def resource(self, info: Info) -> UsageResource:
        resource = await resource_by_code(info, self._record.resource_code)
        if resource is None:
            raise LookupError(f"resource {self._record.resource_code} referenced but missing")
        return resource

    @strawberry.field
    async def unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.unit_code)


def _money(amount: Decimal, currency: str | None) -> Decimal:
    """Amounts are exact at the currency's minor unit already; shown with its places (375 → 375.00)."""
    return round_money(amount, currency)


def summary_loader(info: Info) -> DataLoader[SummaryRef, s.UsageSummary | None]:
    """The request's loader of summaries by (account, id): one BatchGetItem per nesting level."""
    loader = info.context.extras.get("summary_loader")
    if loader is None:
        repo = info.context.summaries

        async def load(refs: list[SummaryRef]) -> list[s.UsageSummary | None]:
            found = await asyncio.to_thread(repo.batch_get, refs)
            return [found.get(ref) for ref in refs]

        loader = info.context.extras["summary_loader"] = DataLoader(load)
    return loader


async def summary_of(info: Info, account: str, summary_id: str | None) -> UsageSummary | None:
    """``UsageRecord.summary``: the summary a processed record was booked into."""
    if not summary_id:
        return None
    summary = await summary_loader(info).load((account, summary_id))
    return UsageSummary.from_domain(summary) if summary else None


async def account_summaries(info: Info, account: str, resource_code: str | None, since: datetime | None,
                            until: datetime | None, first: int | None, after: str | None
                            ) -> Connection[UsageSummary]:
    """``Account.usageSummaries``: by resource, then period start; periods starting in [from, to)."""
    size = page_size(first)
    cursor = decode_cursor(after)
    if since is not None and until is not None and until <= since:
        raise DomainError(ErrorCode.INVALID_RANGE, "to must be after from", "to")
    page, more = await asyncio.to_thread(info.context.summaries.page, account, resource_code, since, until, size,
                                         cursor)
    return connection([UsageSummary.from_domain(x) for x in page], [x.id for x in page], more)


async def tenant_summaries(info: Info, status: s.SummaryStatus | None, end_from: datetime | None,
                           end_to: datetime | None, account: str | None, first: int | None, after: str | None
                           ) -> Connection[UsageSummary]:
    """``Query.usageSummaries``: the tenant's summaries across accounts by period end (then account, id), of one
    status or all, periods ending in [periodEndFrom, periodEndTo)."""
    size = page_size(first)
    cursor = decode_cursor(after)
    if end_from is not None and end_to is not None and end_to <= end_from:
        raise DomainError(ErrorCode.INVALID_RANGE, "periodEndTo must be after periodEndFrom", "periodEndTo")
    statuses = [status] if status is not None else list(s.SummaryStatus)
    page, more = await asyncio.to_thread(info.context.summaries.listing, statuses, end_from, end_to, account,
                                         size, cursor)
    return connection([UsageSummary.from_domain(x) for _, x in page], [p for p, _ in page], more)


@strawberry.type(description="The summaries a closeUsageSummaries or markUsageSummariesInvoiced call named, as "
                             "they are after it (the same summary once); typed errors and nothing changed "
                             "otherwise.")
class UsageSummariesPayload:
    summaries: list[UsageSummary] = strawberry.field(default_factory=list)
    changed: int = strawberry.field(default=0, description="How many of them this call changed (a repeat: 0).")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="What closeUsagePeriods closed.")
class CloseUsagePeriodsPayload:
    as_of: DateTime | None = strawberry.field(
        default=None, description="The moment it closed by: asOf, capped at now.")
    closed_count: int = 0
    summaries: list[UsageSummary] = strawberry.field(default_factory=list, description="The summaries it closed.")
    has_more: bool = strawberry.field(
        default=False, description="More were due than one call closes: call it again (it is idempotent).")
    errors: list[UserError] = strawberry.field(default_factory=list)
