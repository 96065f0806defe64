"""Usage records (DOMAIN §2): what partners send, and the rated fields processing adds.

This is the shared contract between ingestion (writes NEW records), rating (sets status and rated fields) and
summaries (roll-up). A record's ``id`` follows from its tenant and idempotency key, so a repeat maps onto the
same item and can never be stored twice.

Corrections (written by ingestion: ``voidUsage`` / ``amendUsage``; processed by rating and summaries). A correction
is a usage record of its own, status NEW, whose ``correction_of`` is the id of the record it corrects (the
*original*); it is written in one transaction with the original's ``voided = True`` / ``voided_by = <correction
id>``, so an original is corrected at most once and a corrected original is never sent back to NEW.

- **VOID** (``correction_kind = VOID``): "the original never happened". Its effect is the exact negative of
  the original's effect as rating booked it (its debits are credited back, its summary bookings reversed); it
  carries the original's account, subscription, resource, unit, service dates (``start_time``/``end_time``),
  matching attribute and dimensions for display and routing, but no quantity and no prerated fields
  (``quantity``, ``prerated_amount`` and ``prerated_quantity`` are None): what it reverses is what the original
  booked, never a re-computation.
- **AMEND** (``correction_kind = AMEND``): "the original, with these values instead". One record = a VOID of
  the original followed by new usage with the AMEND's own fields (the original's values with the partner's
  changes applied; unchanged fields are copied, so the service dates stay the original's unless changed). Its
  net effect is −original + itself. A later correction targets the AMEND record (it is the live version).
- Either kind may correct an original in a period that is already closed: corrections are never refused with
  PERIOD_CLOSED; summaries book the adjustment into the current open period while the records keep their
  service dates.
- A correction record itself cannot be corrected when it is a VOID (void the AMEND, or record new usage).

Ids of corrections follow the same rule as every record: ``usage_record_id(tenant, idempotency_key)``, with the
reserved keys ``{original id}/void`` and ``{original id}/amend`` (partners cannot send keys of that shape), so a
retried correction maps onto the same item.
"""

from __future__ import annotations

import hashlib
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.values import immutable


class UsageStatus(StrEnum):
    NEW = "NEW"
    PROCESSED = "PROCESSED"
    ERROR = "ERROR"
    WARNING_UNRATED = "WARNING_UNRATED"


class IngestOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


class CorrectionKind(StrEnum):
    VOID = "VOID"
    AMEND = "AMEND"


def usage_record_id(tenant: str, idempotency_key: str) -> str:
    """Deterministic id: the same idempotency key in the same tenant is always the same record."""
    return hashlib.sha256(f"{tenant}\x00{idempotency_key}".encode()).hexdigest()[:32]


@immutable
class SummaryBooking:
    """What rating booked for a record into one usage summary (signed: a reversal books negative values).

    Reconciliation recomputes every summary from these. ``adjustment``: booked as a fixed amount into another
    period (a correction of a closed period); ``reversal``: gives back what a corrected original booked.
    """

    summary_id: str
    consumed: Decimal
    debited: Decimal
    overage: Decimal
    amount: Decimal
    count: int
    prerated_amount: Decimal = Decimal(0)
    prerated_quantity: Decimal = Decimal(0)
    committed_amount: Decimal = Decimal(0)
    rate_key: str | None = None
    adjustment: bool = False
    reversal: bool = False
    peak_window: str | None = None
    peak: Decimal | None = None


@immutable
class UsageRecord:
    id: str
    tenant: str
    idempotency_key: str
    account_external_id: str
    resource_code: str
    start_time: datetime
    end_time: datetime
    received_at: datetime
    quantity: Decimal | None = None
    unit_code: str | None = None
    subscription_external_id: str | None = None
    prerated_amount: Decimal | None = None
    prerated_quantity: Decimal | None = None
    matching_attribute: str | None = None
    dimensions: dict[str, Any] | None = None
    status: UsageStatus = UsageStatus.NEW
    error_code: str | None = None
    error_message: str | None = None
    #: bumped each time the record is sent back to NEW; processing is exactly once per attempt
    attempt: int = 0
    # ---- corrections: a correction is a record of its own that points at the original
    correction_of: str | None = None
    correction_kind: CorrectionKind | None = None
    voided: bool = False
    #: on an original: the id of the VOID or AMEND record that corrects it (set by ingestion with ``voided``)
    voided_by: str | None = None
    #: on a correction: why it was made (the ``reason`` of voidUsage / amendUsage)
    reason: str | None = None
    #: where the record came from: None for the API, ``{object url}#L{line}`` for a row of a bulk file
    source: str | None = None
    # ---- set by rating
    quantity_in_default_unit: Decimal | None = None
    debited_quantity: Decimal | None = None
    overage_quantity: Decimal | None = None
    rated_amount: Decimal | None = None
    currency: str | None = None
    summary_id: str | None = None
    wallet_id: str | None = None
    processed_at: datetime | None = None
    debits: tuple[tuple[str, Decimal], ...] = field(default_factory=tuple)  # (bucket id, quantity)
    # ---- set by rating (summaries): what the record booked, and the correction that reversed it
    bookings: tuple[SummaryBooking, ...] = field(default_factory=tuple)
    corrected_by: str | None = None
    #: a MONETARY commitment's wallet that paid the rated amount, and its debits (bucket id, amount)
    commitment_wallet_id: str | None = None
    commitment_debits: tuple[tuple[str, Decimal], ...] = field(default_factory=tuple)
