"""Usage records (DOMAIN §2): what partners send, and the rated fields processing adds.

This is the shared contract between ingestion (writes NEW records), rating (sets status and rated fields) and
summaries (roll-up). A record's ``id`` follows from its tenant and idempotency key, so a repeat maps onto the
same item and can never be stored twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
