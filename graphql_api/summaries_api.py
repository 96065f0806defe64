"""Usage summaries: ``usageSummary(id)`` (``Account.usageSummaries`` and ``UsageRecord.summary`` live on those
types and call ``graphql_api.types.summaries``)."""

import strawberry

from graphql_api.context import Info
from graphql_api.permissions import CanRead
from graphql_api.types.summaries import UsageSummary, parse_summary_id, summary_of


@strawberry.type
class SummariesQuery:
    @strawberry.field(permission_classes=[CanRead], description="A usage summary by id; null when it does not exist.")
    async def usage_summary(self, info: Info, id: strawberry.ID) -> UsageSummary | None:
        account, summary_id = parse_summary_id(id)
        return await summary_of(info, account, summary_id)
