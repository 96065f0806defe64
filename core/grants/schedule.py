"""A grant as instantiated for one subscription: its quantity, validity, refresh and rollover settings, and its
quantity changes from a date on (the rules are in ``core.grants``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.errors import DomainError, ErrorCode
from core.periods import MONTHS_PER_UNIT, BillingAnchor, PeriodUnit, as_utc, earliest
from core.values import immutable

ZERO = Decimal(0)


class ValidityUnit(StrEnum):
    MONTH = "MONTH"
    YEAR = "YEAR"
    NONE = "NONE"


class GrantSource(StrEnum):
    GRANT = "GRANT"
    PACK = "PACK"
    COMMITMENT = "COMMITMENT"


@immutable
class Refresh:
    """Re-credit the grant every ``every`` × ``unit``."""

    every: int
    unit: PeriodUnit

    @property
    def months(self) -> int:
        return self.every * MONTHS_PER_UNIT[self.unit]


@immutable
class QuantityChange:
    """From ``at`` on, the schedule grants ``quantity`` (default unit) per period: a subscription amendment."""

    at: datetime
    quantity: Decimal


@immutable
class GrantSchedule:
    """One grant as instantiated for one subscription; ``quantity`` is in the resource's default unit."""

    grant_id: str
    quantity: Decimal
    effective_from: datetime
    billing: BillingAnchor
    validity_term: int = 1
    validity_unit: ValidityUnit = ValidityUnit.MONTH
    effective_to: datetime | None = None
    refresh: Refresh | None = None
    rollover_allowed: bool = False
    rollover_can_expire: bool = False
    maximum_rollover_count: int | None = None
    #: at most this much carries over per rollover; the rest expires (None: no cap)
    maximum_rollover_quantity: Decimal | None = None
    source: GrantSource = GrantSource.GRANT
    subscription_end: datetime | None = None
    product_end: datetime | None = None
    #: decimal places proration floors to (0 for whole units such as texts)
    unit_scale: int = 0
    #: quantity changes from a date on (amendments), in date order
    changes: tuple[QuantityChange, ...] = ()

    def __post_init__(self) -> None:
        if self.quantity < ZERO:
            raise DomainError(ErrorCode.NEGATIVE_QUANTITY, "a grant's quantity cannot be negative", "quantity")
        if self.validity_unit != ValidityUnit.NONE and self.validity_term < 1:
            raise DomainError(ErrorCode.INVALID_VALUE, "validity term must be at least 1", "validityTerm")
        if self.refresh is not None and self.refresh.every < 1:
            raise DomainError(ErrorCode.INVALID_VALUE, "refresh frequency must be at least 1", "refreshFrequency")
        expiring_rollover = self.rollover_allowed and self.rollover_can_expire
        if expiring_rollover and (self.maximum_rollover_count is None or self.maximum_rollover_count < 0):
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "a rollover that can expire needs a maximum rollover count of 0 or more",
                "maximumRolloverCount",
            )
        if any(c.quantity < ZERO for c in self.changes):
            raise DomainError(ErrorCode.NEGATIVE_QUANTITY, "a grant's quantity cannot be negative", "quantity")
        if self.maximum_rollover_quantity is not None and self.maximum_rollover_quantity < ZERO:
            raise DomainError(ErrorCode.INVALID_VALUE, "a maximum rollover quantity cannot be negative",
                              "maximumRolloverQuantity")

    def quantity_at(self, at: datetime) -> Decimal:
        """The per-period quantity in force at ``at``: the last change on or before it, else ``quantity``."""
        current = self.quantity
        for change in self.changes:
            if as_utc(change.at) <= as_utc(at):
                current = change.quantity
        return current

    @property
    def start(self) -> datetime:
        """When the grant starts for this subscription (never before the subscription)."""
        return max(as_utc(self.effective_from), as_utc(self.billing.start))

    @property
    def hard_end(self) -> datetime | None:
        """The subscription's or pack's end, whichever comes first: nothing outlives it."""
        return earliest(self.subscription_end, self.product_end)

    @property
    def validity_months(self) -> int | None:
        if self.validity_unit == ValidityUnit.NONE:
            return None
        return self.validity_term * (12 if self.validity_unit == ValidityUnit.YEAR else 1)

    @property
    def anchor_day(self) -> int:
        return self.billing.anchor_day if self.refresh else self.start.day

    def may_roll(self, completed_rollovers: int) -> bool:
        if not self.rollover_allowed:
            return False
        if not self.rollover_can_expire:
            return True
        return completed_rollovers < (self.maximum_rollover_count or 0)
