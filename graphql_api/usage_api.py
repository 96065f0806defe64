"""Usage ingestion over GraphQL: recordUsage, setUsageStatus, voidUsage, amendUsage, usageRecord(id).

Parse, call one ``core.ingestion.Ingestion`` method in a thread, map the result. Expected failures are typed
(``errors`` of the payload); PARTNER and ADMIN keys may write (CanRecordUsage), any key may read; the tenant is
always the key's.
"""

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON

from core.errors import DomainError, ErrorCode
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.ids import from_global_id
from graphql_api.permissions import CanRead, CanRecordUsage
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types.usage import (
    KIND,
    RecordUsagePayload,
    SetUsageStatusPayload,
    UsageCorrectionPayload,
    UsageRecord,
    UsageStatus,
)
from infra.observability import publish

if TYPE_CHECKING:
    from core.usage_validation import UsageInput

UNSET: Any = strawberry.UNSET


@strawberry.input(description="One usage record. quantity, or preratedAmount with preratedQuantity.")
class UsageRecordInput:
    idempotency_key: str = strawberry.field(description="Unique per tenant, forever: a repeat is a DUPLICATE.")
    account_external_id: str
    resource_code: str
    start_time: DateTime
    end_time: DateTime | None = strawberry.field(
        default=None, description="Defaults to startTime.")
    quantity: DecimalScalar | None = None
    unit_code: str | None = strawberry.field(default=None, description="Defaults to the resource's default unit.")
    subscription_external_id: str | None = None
    prerated_amount: DecimalScalar | None = None
    prerated_quantity: DecimalScalar | None = None
    matching_attribute: str | None = None
    dimensions: JSON | None = None

    def to_input(self) -> "UsageInput":
        from core.usage_validation import INPUT_NAMES, UsageInput  # validation runs with ingestion, not at import

        return UsageInput(**{name: getattr(self, name) for name in INPUT_NAMES})


def _record_input(cls: type, value: Mapping[str, Any], context: Any) -> Any:
    """Strawberry's ``from_input`` hook of UsageRecordInput: the record from graphql-core's coerced value in one
    step. Every field is a scalar that graphql-core has already parsed (our DateTime and Decimal scalars, JSON,
    strings), so Strawberry's own conversion — per field of each of up to 1,000 records: resolving its type,
    converting its name, converting a leaf to itself — only renamed the fields, at ~0.1 ms of CPU per record."""
    if not _INPUT_FIELDS:  # named as the schema names them
        _INPUT_FIELDS.extend((context.config.name_converter.from_field(f), f.python_name) for f in _definition.fields)
    return cls(**{python: value[name] for name, python in _INPUT_FIELDS if name in value})


_definition = UsageRecordInput.__strawberry_definition__  # type: ignore[attr-defined]
#: (GraphQL name, Python name) of every field of UsageRecordInput
_INPUT_FIELDS: list[tuple[str, str]] = []
_definition.from_input = _record_input


@strawberry.input(description="New values for an amended record; omitted fields keep the original's value, null "
                              "clears an optional one.")
class UsageAmendmentInput:
    account_external_id: str | None = UNSET
    subscription_external_id: str | None = UNSET
    resource_code: str | None = UNSET
    quantity: DecimalScalar | None = UNSET
    unit_code: str | None = UNSET
    start_time: DateTime | None = UNSET
    end_time: DateTime | None = UNSET
    prerated_amount: DecimalScalar | None = UNSET
    prerated_quantity: DecimalScalar | None = UNSET
    matching_attribute: str | None = UNSET
    dimensions: JSON | None = UNSET
    reason: str | None = None

    def changes(self) -> dict[str, Any]:
        from core.usage_validation import INPUT_NAMES

        return {name: getattr(self, name) for name in INPUT_NAMES
                if name != "idempotency_key" and getattr(self, name) is not UNSET}


def record_id_of(value: str) -> str | None:
    """The record id behind a UsageRecord global id; None when it is not one."""
    decoded = from_global_id(value, KIND)
    return decoded[1] if decoded else None


def _not_found(value: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"'{value}' is not the id of a usage record", "id")


@strawberry.type
class UsageQuery:
    @strawberry.field(permission_classes=[CanRead], description="A usage record of the caller's tenant, or null.")
    async def usage_record(self, info: Info, id: strawberry.ID) -> UsageRecord | None:
        record_id = record_id_of(id)
        if record_id is None:
            return None
        record = await asyncio.to_thread(info.context.usage.get, record_id)
        return UsageRecord.from_domain(record) if record else None


@strawberry.type
class UsageMutation:
    @mutation(permission_classes=[CanRecordUsage],
                         description="Record 1 to 1,000 usage records; each is answered ACCEPTED, DUPLICATE or "
                                     "REJECTED. ACCEPTED records are stored when the call returns.")
    async def record_usage(self, info: Info, records: list[UsageRecordInput]) -> RecordUsagePayload:
        inputs = [r.to_input() for r in records]
        results = await asyncio.to_thread(info.context.usage_ingestion.record, inputs)
        payload = RecordUsagePayload.from_results(results)
        publish("api", {"RecordsAccepted": payload.accepted, "RecordsDuplicated": payload.duplicates,
                        "RecordsRejected": payload.rejected})
        return payload

    @mutation(permission_classes=[CanRecordUsage],
                         description="Send ERROR and WARNING_UNRATED records back to NEW: they are processed again. "
                                     "A record still NEW long after it arrived (its stream batch was given up on; "
                                     "the age is a deployment setting) can be set to NEW again too.")
    async def set_usage_status(self, info: Info, ids: list[strawberry.ID],
                               status: UsageStatus) -> SetUsageStatusPayload:
        record_ids = [record_id_of(i) or f"?{i}" for i in ids]  # a malformed id names no record: NOT_FOUND
        results = await asyncio.to_thread(info.context.usage_ingestion.requeue, record_ids, status)
        return SetUsageStatusPayload.from_results(results)

    @mutation(permission_classes=[CanRecordUsage],
                         description="Void a record: a VOID correction reverses its effect (also in a closed "
                                     "period, booked into the current one). Repeating it answers the same void.")
    async def void_usage(self, info: Info, id: strawberry.ID, reason: str | None = None) -> UsageCorrectionPayload:
        record_id = record_id_of(id)
        if record_id is None:
            raise _not_found(id)
        result = await asyncio.to_thread(info.context.usage_ingestion.void, record_id, reason)
        return UsageCorrectionPayload.from_domain(result)

    @mutation(permission_classes=[CanRecordUsage],
                         description="Amend a record: an AMEND correction replaces its effect with the new values.")
    async def amend_usage(self, info: Info, id: strawberry.ID, input: UsageAmendmentInput) -> UsageCorrectionPayload:
        record_id = record_id_of(id)
        if record_id is None:
            raise _not_found(id)
        result = await asyncio.to_thread(info.context.usage_ingestion.amend, record_id, input.changes(), input.reason)
        return UsageCorrectionPayload.from_domain(result)
