"""Usage ingestion (DOMAIN §2–§4): record usage, correct it, send it back to processing.

The algorithm lives here, storage behind the ``UsageStore`` port and the catalog behind ``CatalogSource``; the
GraphQL API and the bulk-file function call the same methods.

- ``record``: 1 to 1,000 inputs. Each is validated (``core.usage_validation``, with the PERIOD_CLOSED gate), the
  valid ones are written with one conditional insert each (batched by the store), and every input is answered:
  ACCEPTED (durably written when this returns), DUPLICATE (the idempotency key exists already — in storage or
  earlier in the same call — answered with the original record) or REJECTED (typed errors, nothing written).
  Records are independent: one bad record never changes the answer of another.
- ``void`` / ``amend``: write one correction record (see ``core.usage``) and mark the original ``voided`` in one
  transaction; a record is corrected at most once, and a retried void answers with the void already written.
- ``requeue``: ERROR and WARNING_UNRATED records back to NEW with ``attempt + 1`` — rating processes each
  attempt exactly once; any other transition is refused with a typed error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core.bounds import MAX_TEXT, printable, quote, text_problem
from core.errors import DomainError, ErrorCode, ErrorDetail
from core.usage import CorrectionKind, IngestOutcome, UsageRecord, UsageStatus, usage_record_id
from core.usage_validation import (
    INPUT_NAMES,
    BatchCheck,
    CatalogView,
    NothingClosed,
    PeriodGate,
    UsageInput,
    Validated,
    period_check,
    validate,
)
from core.values import immutable

#: At most this many records per recordUsage call, per setUsageStatus call, and per batch of a bulk file.
MAX_RECORDS = 1000
REQUEUEABLE = frozenset({UsageStatus.ERROR, UsageStatus.WARNING_UNRATED})


class UsageStore(Protocol):
    """Storage of one tenant's usage records."""

    def insert_new(self, records: Sequence[UsageRecord]) -> Mapping[str, UsageRecord]:
        """Write every record whose id does not exist yet, each exactly once even when calls race.

        Returns the stored originals of the ids that existed; every other record is durably written on return.
        """
        ...

    def get(self, record_id: str) -> UsageRecord | None: ...

    def get_many(self, record_ids: Sequence[str]) -> Mapping[str, UsageRecord]: ...

    def write_correction(self, original: UsageRecord, correction: UsageRecord) -> UsageRecord:
        """Insert ``correction`` and mark ``original`` voided by it, atomically; returns the original as marked.

        Raises ``DomainError(CONFLICT)`` when the original is corrected already (or vanished) or the correction
        exists: nothing is written then.
        """
        ...

    def requeue(self, records: Sequence[UsageRecord]) -> Mapping[str, UsageRecord | None]:
        """Set each record (as read) to NEW with attempt + 1 and no error, if it is unchanged since it was read
        and not voided. Returns the updated record, or None for a record that changed meanwhile."""
        ...


class CatalogSource(Protocol):
    def view(self, resource_codes: set[str], fresh: bool = False) -> CatalogView:
        """The resources among ``resource_codes`` that exist, and the tenant's units: possibly as read a few
        seconds ago (a warm copy), unless ``fresh`` — then as storage holds them now."""
        ...


#: Rejections the catalog decides: they never stand on a warm copy of it — the records are validated again on a
#: fresh read first, so a resource or unit created (or activated) a moment ago is never refused.
CATALOG_CODES = frozenset({ErrorCode.UNKNOWN_RESOURCE, ErrorCode.INACTIVE_REFERENCE, ErrorCode.UNKNOWN_UNIT,
                           ErrorCode.UNIT_NOT_IN_CLASS})


@immutable
class IngestResult:
    """The answer for one input of a ``record`` call."""

    index: int
    idempotency_key: str
    outcome: IngestOutcome
    record: UsageRecord | None = None
    errors: tuple[ErrorDetail, ...] = ()


@immutable
class Correction:
    original: UsageRecord
    correction: UsageRecord


@immutable
class RequeueResult:
    index: int
    record_id: str
    record: UsageRecord | None = None
    errors: tuple[ErrorDetail, ...] = ()


def _now() -> datetime:
    return datetime.now(UTC)


def void_key(original_id: str) -> str:
    return f"{original_id}/void"


def amend_key(original_id: str) -> str:
    return f"{original_id}/amend"


def _key_text(value: Any) -> str:
    """The idempotency key as an answer echoes it (a lone surrogate is replaced: JSON encoders refuse it)."""
    return printable(value.strip()) if isinstance(value, str) else ("" if value is None else quote(value))


class Ingestion:
    def __init__(self, tenant: str, store: UsageStore, catalog: CatalogSource, gate: PeriodGate | None = None,
                 clock: Callable[[], datetime] = _now, stale_after: timedelta | None = None):
        self.tenant = tenant
        self.store = store
        self.catalog = catalog
        self.gate: PeriodGate = gate or NothingClosed()
        self.clock = clock
        #: a record still NEW this long after it was received (or last rated) was never rated — its stream batch
        #: was given up on — and may be set to NEW again, which delivers it to rating once more (None: never)
        self.stale_after = stale_after

    # ------------------------------------------------------------------------------------------ record
    def record(self, inputs: Sequence[UsageInput], sources: Sequence[str | None] | None = None
               ) -> list[IngestResult]:
        """Answer every input ACCEPTED, DUPLICATE or REJECTED; ``sources`` tags records (bulk file rows)."""
        if not inputs:
            raise DomainError(ErrorCode.INVALID_VALUE, "send at least one usage record", "records")
        if len(inputs) > MAX_RECORDS:
            raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED,
                              f"at most {MAX_RECORDS} usage records per call; this call has {len(inputs)}: split "
                              "it into several calls (nothing was recorded)", "records")
        validated = self._validate(inputs, [period_check(self.gate)], sources)
        first_of: dict[str, int] = {}
        claims: list[UsageRecord] = []
        for index, result in enumerate(validated):
            if result.record is not None and result.record.id not in first_of:
                first_of[result.record.id] = index
                claims.append(result.record)
        existing = self.store.insert_new(claims) if claims else {}
        answers: list[IngestResult] = []
        for index, result in enumerate(validated):
            key = _key_text(inputs[index].idempotency_key)
            record = result.record
            if record is None:
                answers.append(IngestResult(index, key, IngestOutcome.REJECTED, errors=result.errors))
            elif record.id in existing:
                answers.append(IngestResult(index, key, IngestOutcome.DUPLICATE, existing[record.id]))
            elif first_of[record.id] != index:
                original = validated[first_of[record.id]].record
                answers.append(IngestResult(index, key, IngestOutcome.DUPLICATE, original))
            else:
                answers.append(IngestResult(index, key, IngestOutcome.ACCEPTED, record))
        return answers

    def _validate(self, inputs: Sequence[UsageInput], batch_checks: Sequence[BatchCheck] = (),
                  sources: Sequence[str | None] | None = None) -> list[Validated]:
        """``validate`` against the catalog source's view; again on a fresh read when the view (possibly warm)
        rejected a record for a reason the catalog decides (``CATALOG_CODES``)."""
        codes = {i.resource_code.strip() for i in inputs if isinstance(i.resource_code, str)}
        now = self.clock()
        validated = validate(self.tenant, inputs, self.catalog.view(codes), now, batch_checks=batch_checks,
                             sources=sources)
        if any(e.code in CATALOG_CODES for result in validated for e in result.errors):
            validated = validate(self.tenant, inputs, self.catalog.view(codes, fresh=True), now,
                                 batch_checks=batch_checks, sources=sources)
        return validated

    def get(self, record_id: str) -> UsageRecord | None:
        return self.store.get(record_id)

    # ------------------------------------------------------------------------------------------ corrections
    def void(self, record_id: str, reason: str | None = None) -> Correction:
        """Void a record (see ``core.usage``); repeating the same void answers with the void already written."""
        reason = _reason(reason)
        for _ in range(2):
            original = self._correctable(record_id, CorrectionKind.VOID)
            if isinstance(original, Correction):
                return original
            void = UsageRecord(
                id=usage_record_id(self.tenant, void_key(original.id)), tenant=self.tenant,
                idempotency_key=void_key(original.id), account_external_id=original.account_external_id,
                resource_code=original.resource_code, start_time=original.start_time, end_time=original.end_time,
                received_at=self.clock(), unit_code=original.unit_code,
                subscription_external_id=original.subscription_external_id,
                matching_attribute=original.matching_attribute, dimensions=original.dimensions,
                correction_of=original.id, correction_kind=CorrectionKind.VOID, reason=reason)
            try:
                return Correction(self.store.write_correction(original, void), void)
            except DomainError as exc:
                if exc.code != ErrorCode.CONFLICT:
                    raise
        raise DomainError(ErrorCode.CONFLICT, "the usage record changed while it was voided; read it and try again",
                          "id")

    def amend(self, record_id: str, changes: Mapping[str, Any], reason: str | None = None) -> Correction:
        """Amend a record: an AMEND record with the original's values and ``changes`` (input field names in
        Python spelling, e.g. ``quantity``; None clears an optional field). Validated like new usage, except
        that a closed period does not refuse it."""
        reason = _reason(reason)
        unknown = sorted(set(changes) - (set(INPUT_NAMES) - {"idempotency_key"}))
        if unknown:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{', '.join(unknown)} cannot be amended", unknown[0])
        original = self._correctable(record_id, CorrectionKind.AMEND)
        assert isinstance(original, UsageRecord)
        values = {name: getattr(original, name) for name in INPUT_NAMES}
        values.update(changes, idempotency_key="amendment")  # the AMEND's own key is set below
        if "resource_code" in changes and "unit_code" not in changes:
            values["unit_code"] = None  # a new resource: its default unit unless one is given
        [checked] = self._validate([UsageInput(**values)])
        if checked.record is None:
            raise DomainError.of(list(checked.errors))
        key = amend_key(original.id)
        amended = replace(checked.record, id=usage_record_id(self.tenant, key), idempotency_key=key,
                          correction_of=original.id, correction_kind=CorrectionKind.AMEND, reason=reason)
        if all(getattr(amended, name) == getattr(original, name) for name in INPUT_NAMES
               if name != "idempotency_key"):
            raise DomainError(ErrorCode.INVALID_VALUE, "the amendment changes nothing: give at least one new value",
                              "input")
        try:
            return Correction(self.store.write_correction(original, amended), amended)
        except DomainError as exc:
            if exc.code != ErrorCode.CONFLICT:
                raise
            raise DomainError(ErrorCode.CONFLICT, "the usage record was corrected meanwhile (see its voidedBy); read "
                              "it and try again", "id") from None

    def _correctable(self, record_id: str, kind: CorrectionKind) -> UsageRecord | Correction:
        original = self.store.get(record_id)
        if original is None:
            raise DomainError(ErrorCode.NOT_FOUND, "the usage record does not exist", "id")
        if original.correction_kind == CorrectionKind.VOID:
            raise DomainError(ErrorCode.STATUS_FORBIDS, "a VOID record cannot be corrected: record the usage again "
                              "with a new idempotency key instead", "id")
        if original.voided:
            by = original.voided_by or ""
            if kind == CorrectionKind.VOID and by == usage_record_id(self.tenant, void_key(original.id)):
                void = self.store.get(by)
                if void is not None:
                    return Correction(original, void)
            what = "amended" if by == usage_record_id(self.tenant, amend_key(original.id)) else "voided"
            raise DomainError(ErrorCode.STATUS_FORBIDS, f"the usage record was {what} already (see its voidedBy); "
                              "correct the record that supersedes it instead", "id")
        return original

    # ------------------------------------------------------------------------------------------ reprocessing
    def requeue(self, record_ids: Sequence[str], status: UsageStatus = UsageStatus.NEW) -> list[RequeueResult]:
        """Send ERROR and WARNING_UNRATED records back to NEW (processed again, once), and NEW records older than
        ``stale_after`` (never rated: their stream batch was given up on); refuse anything else."""
        if status != UsageStatus.NEW:
            raise DomainError(ErrorCode.INVALID_VALUE, f"usage records can only be set back to NEW (to process them "
                              f"again); {status} is set by processing", "status")
        if not record_ids:
            raise DomainError(ErrorCode.INVALID_VALUE, "give at least one usage record id", "ids")
        if len(record_ids) > MAX_RECORDS:
            raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {MAX_RECORDS} ids per call; this call has "
                              f"{len(record_ids)}", "ids")
        found = self.store.get_many(list(dict.fromkeys(record_ids)))
        results: dict[int, RequeueResult] = {}
        eligible: dict[str, UsageRecord] = {}
        now = self.clock()
        for index, record_id in enumerate(record_ids):
            record = found.get(record_id)
            problem = _requeue_problem(record, now, self.stale_after)
            if problem is not None:
                results[index] = RequeueResult(index, record_id, record, (replace(problem, field=f"ids.{index}"),))
            elif record is not None:
                eligible[record_id] = record
        updated = self.store.requeue(list(eligible.values())) if eligible else {}
        for index, record_id in enumerate(record_ids):
            if index in results:
                continue
            record = updated.get(record_id)
            if record is None:
                results[index] = RequeueResult(index, record_id, None, (ErrorDetail(
                    ErrorCode.CONFLICT, "the usage record changed while it was set back to NEW; read it and try "
                    "again", f"ids.{index}"),))
            else:
                results[index] = RequeueResult(index, record_id, record)
        return [results[i] for i in range(len(record_ids))]


def stale_since(record: UsageRecord) -> datetime:
    """When a NEW record last changed: received, or last rated (a record set back to NEW)."""
    return max(record.received_at, record.processed_at or record.received_at)


def _requeue_problem(record: UsageRecord | None, now: datetime, stale_after: timedelta | None) -> ErrorDetail | None:
    if record is None:
        return ErrorDetail(ErrorCode.NOT_FOUND, "the usage record does not exist")
    if record.voided:
        return ErrorDetail(ErrorCode.STATUS_FORBIDS, "the usage record was corrected (see its voidedBy) and is not "
                           "processed again")
    if record.status == UsageStatus.NEW and stale_after is not None and now - stale_since(record) > stale_after:
        return None  # never rated: its stream batch was given up on
    if record.status not in REQUEUEABLE:
        hint = "it is waiting to be processed" if record.status == UsageStatus.NEW else "it was processed"
        stale = (f"; a NEW record can be set to NEW again once it has waited {int(stale_after.total_seconds())} s"
                 if record.status == UsageStatus.NEW and stale_after is not None else "")
        return ErrorDetail(ErrorCode.STATUS_FORBIDS, f"the usage record is {record.status} ({hint}); only ERROR and "
                           f"WARNING_UNRATED records can be set back to NEW{stale}")
    return None


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    problem = text_problem(reason, MAX_TEXT, control=True)
    if problem is not None:
        raise DomainError(ErrorCode.INVALID_VALUE, f"reason {problem}", "reason")
    return reason.strip()
