"""What rating decides for one record: its status (with a code and a message a person can act on), its rated
fields, the debits it draws and what it books into summaries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.summaries import Contribution
from core.usage import UsageStatus
from core.values import immutable
from core.wallets import BucketChange

ZERO = Decimal(0)


class RatingCode(StrEnum):
    # ERROR: the record (or the catalog it points at) is wrong
    UNKNOWN_RESOURCE = "UNKNOWN_RESOURCE"
    UNKNOWN_UNIT = "UNKNOWN_UNIT"
    UNIT_NOT_IN_CLASS = "UNIT_NOT_IN_CLASS"
    MISSING_QUANTITY = "MISSING_QUANTITY"
    NEGATIVE_QUANTITY = "NEGATIVE_QUANTITY"
    NO_TOKEN_FACTOR = "NO_TOKEN_FACTOR"
    PRERATED_NEEDS_PER_UNIT_PRICING = "PRERATED_NEEDS_PER_UNIT_PRICING"
    ALREADY_CORRECTED = "ALREADY_CORRECTED"
    UNKNOWN_ORIGINAL = "UNKNOWN_ORIGINAL"
    PEAK_CORRECTION = "PEAK_CORRECTION"
    INCONSISTENT_DATA = "INCONSISTENT_DATA"
    #: a computation with the record's values left Decimal's (or the calendar's) range: a value stored before
    #: ``core.bounds`` existed, or a combination of in-bounds values too large together
    RATING_FAILED = "RATING_FAILED"
    # WARNING_UNRATED: nothing to rate it against
    NO_SUBSCRIPTION = "NO_SUBSCRIPTION"
    UNKNOWN_SUBSCRIPTION = "UNKNOWN_SUBSCRIPTION"
    NOT_COVERED = "NOT_COVERED"
    NO_RATE = "NO_RATE"


@immutable
class Problem:
    status: UsageStatus
    code: RatingCode
    message: str

    @classmethod
    def error(cls, code: RatingCode, message: str) -> Problem:
        return cls(UsageStatus.ERROR, code, message)

    @classmethod
    def unrated(cls, code: RatingCode, message: str) -> Problem:
        return cls(UsageStatus.WARNING_UNRATED, code, message)


@immutable
class WalletDebits:
    """What one record changes in one wallet: ``core.wallets.BucketChange``s (debits > 0, reversals < 0),
    effective at ``at`` (the usage time of the debit they make or give back)."""

    wallet_id: str
    at: datetime
    changes: tuple[BucketChange, ...]

    @property
    def total(self) -> Decimal:
        return sum((c.quantity for c in self.changes), ZERO)

    @property
    def pairs(self) -> tuple[tuple[str, Decimal], ...]:
        """``(bucket id, quantity)`` of each change, as ``UsageRecord.debits`` holds them."""
        return tuple((c.bucket_id, c.quantity) for c in self.changes)


@immutable
class Outcome:
    """The decision for one record at one attempt; storage writes it exactly once (conditioned on the attempt)."""

    record_id: str
    account_external_id: str
    attempt: int
    status: UsageStatus
    processed_at: datetime
    error_code: str | None = None
    error_message: str | None = None
    quantity_in_default_unit: Decimal | None = None
    debited_quantity: Decimal | None = None
    overage_quantity: Decimal | None = None
    rated_amount: Decimal | None = None
    currency: str | None = None
    summary_id: str | None = None
    wallet_id: str | None = None
    #: the record's own drawdown (what a later correction gives back)
    own_debits: tuple[WalletDebits, ...] = ()
    #: credits giving back what a corrected original drew
    reversals: tuple[WalletDebits, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    #: the original this correction reverses (storage marks it corrected, exactly once)
    reverses: str | None = None

    @property
    def wallet_changes(self) -> tuple[WalletDebits, ...]:
        return self.reversals + self.own_debits

    @classmethod
    def problem(cls, record_id: str, account: str, attempt: int, problem: Problem, at: datetime) -> Outcome:
        return cls(record_id, account, attempt, problem.status, at, problem.code, problem.message)
