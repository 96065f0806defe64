"""GraphQL types of usage records and of ingestion's answers, built ``from_domain``; the resolver that
``Account.usageRecords`` delegates to."""

import asyncio
from typing import TYPE_CHECKING, cast

import strawberry
from strawberry.scalars import JSON

from core import usage as u
from core.errors import DomainError, ErrorCode, ErrorDetail
from graphql_api.context import Info
from graphql_api.ids import to_global_id
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types.catalog import UnitOfMeasure, UsageResource, resource_by_code, unit_by_code
from graphql_api.types.common import Connection, connection, decode_cursor, page_size
from graphql_api.types.enums import CorrectionKind, IngestOutcome, UsageStatus
from graphql_api.types.summaries import UsageSummary, summary_of

if TYPE_CHECKING:
    from core.ingestion import Correction, IngestResult, RequeueResult

KIND = "UsageRecord"


def usage_global_id(record_id: str) -> strawberry.ID:
    return to_global_id(KIND, record_id)


def _gid(record_id: str | None) -> strawberry.ID | None:
    return usage_global_id(record_id) if record_id else None


@strawberry.type(description="One problem with one input record: a code, a sentence, and the input field at fault.")
class UsageInputError:
    code: str
    message: str
    field: str | None = None

    @classmethod
    def of(cls, detail: ErrorDetail) -> "UsageInputError":
        return cls(code=detail.code, message=detail.message, field=detail.field)


@strawberry.type(description="A usage record: what the partner sent, its processing status and rated values.")
class UsageRecord:
    id: strawberry.ID
    idempotency_key: str
    status: UsageStatus
    error_code: str | None
    error_message: str | None
    account_external_id: str
    subscription_external_id: str | None
    resource_code: str
    quantity: DecimalScalar | None
    unit_code: str | None
    start_time: DateTime
    end_time: DateTime
    received_at: DateTime
    prerated_amount: DecimalScalar | None
    prerated_quantity: DecimalScalar | None
    matching_attribute: str | None
    dimensions: JSON | None = strawberry.field(description="Dimension values: text, integers, booleans; decimals "
                                                           "as their exact text.")
    attempt: int = strawberry.field(description="How often the record was sent back to NEW.")
    correction_of: strawberry.ID | None = strawberry.field(description="On a correction: the record it corrects.")
    correction_kind: CorrectionKind | None
    reason: str | None
    voided: bool = strawberry.field(description="A VOID or AMEND of this record was accepted: it no longer counts "
                                                "once that correction is processed.")
    voided_by: strawberry.ID | None = strawberry.field(description="The correction that supersedes this record.")
    quantity_in_default_unit: DecimalScalar | None
    debited_quantity: DecimalScalar | None
    overage_quantity: DecimalScalar | None
    rated_amount: DecimalScalar | None
    currency: str | None
    processed_at: DateTime | None
    _record: strawberry.Private[u.UsageRecord]

    @classmethod
    def from_domain(cls, r: u.UsageRecord) -> "UsageRecord":
        return cls(
            id=usage_global_id(r.id), idempotency_key=r.idempotency_key, status=r.status, error_code=r.error_code,
            error_message=r.error_message, account_external_id=r.account_external_id,
            subscription_external_id=r.subscription_external_id, resource_code=r.resource_code,
            quantity=r.quantity, unit_code=r.unit_code, start_time=r.start_time, end_time=r.end_time,
            received_at=r.received_at, prerated_amount=r.prerated_amount, prerated_quantity=r.prerated_quantity,
            matching_attribute=r.matching_attribute, dimensions=cast(JSON, r.dimensions), attempt=r.attempt,
            correction_of=_gid(r.correction_of), correction_kind=r.correction_kind, reason=r.reason,
            voided=r.voided, voided_by=_gid(r.voided_by), quantity_in_default_unit=r.quantity_in_default_unit,
            debited_quantity=r.debited_quantity, overage_quantity=r.overage_quantity, rated_amount=r.rated_amount,
            currency=r.currency, processed_at=r.processed_at, _record=r)

    @strawberry.field
    async def resource(self, info: Info) -> UsageResource:
        resource = await resource_by_code(info, self.resource_code)
        if resource is None:
            raise LookupError(f"resource {self.resource_code} referenced but missing")
        return resource

    @strawberry.field
    async def unit(self, info: Info) -> UnitOfMeasure | None:
        return await unit_by_code(info, self.unit_code) if self.unit_code else None

    # ---- UsageRecord.summary (issue 7) ----------------------------------------------------------------------
    # The summaries engineer adds ``summary: UsageSummary`` HERE, resolved from self._record (account_external_id,
    # summary_id) through graphql_api.types.summaries.
    @strawberry.field(description="The summary this record was booked into (null until it is PROCESSED).")
    async def summary(self, info: Info) -> UsageSummary | None:
        return await summary_of(info, self._record.account_external_id, self._record.summary_id)

    # ---- end of summary field ---------------------------------------------------------------------------------


UsageRecordConnection = Connection[UsageRecord]


def _usage_record(root: "UsageRecordResult") -> UsageRecord | None:
    """``UsageRecordResult.usageRecord``, built when asked for: a client that selects only the outcome or the
    errors of 1,000 results does not pay for 1,000 records of some thirty fields each."""
    return UsageRecord.from_domain(root._record) if root._record else None


@strawberry.type(description="The answer for one input record of recordUsage (index = its position).")
class UsageRecordResult:
    index: int
    idempotency_key: str
    outcome: IngestOutcome
    usage_record: UsageRecord | None = strawberry.field(
        resolver=_usage_record, description="ACCEPTED: the record written; DUPLICATE: the original record; "
                                            "REJECTED: null.")
    errors: list[UsageInputError]
    _record: strawberry.Private[u.UsageRecord | None]

    @classmethod
    def from_domain(cls, result: "IngestResult") -> "UsageRecordResult":
        return cls(index=result.index, idempotency_key=result.idempotency_key, outcome=result.outcome,
                   errors=[UsageInputError.of(e) for e in result.errors] if result.errors else [],
                   _record=result.record)


@strawberry.type(description="recordUsage: one result per input record, in order. ``errors`` is not empty only "
                             "when the whole call was refused (then nothing was recorded).")
class RecordUsagePayload:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[UsageRecordResult] = strawberry.field(default_factory=list)
    errors: list[UsageInputError] = strawberry.field(default_factory=list)

    @classmethod
    def from_results(cls, results: "list[IngestResult]") -> "RecordUsagePayload":
        counts = {outcome: 0 for outcome in u.IngestOutcome}
        for result in results:
            counts[result.outcome] += 1
        return cls(accepted=counts[u.IngestOutcome.ACCEPTED], duplicates=counts[u.IngestOutcome.DUPLICATE],
                   rejected=counts[u.IngestOutcome.REJECTED],
                   results=[UsageRecordResult.from_domain(r) for r in results], errors=[])


@strawberry.type(description="setUsageStatus: the records set back to NEW; an error (field ids.N) for each id "
                             "that could not be.")
class SetUsageStatusPayload:
    records: list[UsageRecord] = strawberry.field(default_factory=list)
    errors: list[UsageInputError] = strawberry.field(default_factory=list)

    @classmethod
    def from_results(cls, results: "list[RequeueResult]") -> "SetUsageStatusPayload":
        return cls(records=[UsageRecord.from_domain(r.record) for r in results if r.record and not r.errors],
                   errors=[UsageInputError.of(e) for r in results for e in r.errors])


@strawberry.type(description="voidUsage / amendUsage: the original (now voided) and the correction record.")
class UsageCorrectionPayload:
    original: UsageRecord | None = None
    correction: UsageRecord | None = None
    errors: list[UsageInputError] = strawberry.field(default_factory=list)

    @classmethod
    def from_domain(cls, result: "Correction") -> "UsageCorrectionPayload":
        return cls(original=UsageRecord.from_domain(result.original),
                   correction=UsageRecord.from_domain(result.correction))


async def account_usage_records(info: Info, account_external_id: str, status: u.UsageStatus | None,
                                resource_code: str | None, first: int | None, after: str | None
                                ) -> Connection[UsageRecord]:
    """``Account.usageRecords``: the account's records, newest start first (one Query on gsi1)."""
    from core.ingestion import MAX_RECORDS  # with ingestion, which the schema does not need

    size = page_size(first, cap=MAX_RECORDS)
    cursor = decode_cursor(after)
    if cursor is not None and "#" not in cursor:
        raise DomainError(ErrorCode.INVALID_VALUE, "after is not a cursor this API returned", "after")
    rows, more = await asyncio.to_thread(info.context.usage.account_page, account_external_id, size, cursor,
                                         status, resource_code)
    return connection([UsageRecord.from_domain(r) for _, r in rows], [c for c, _ in rows], more)
