"""The one typed error family of the domain.

Every expected failure is a ``DomainError`` with a machine-readable ``code``, a human ``message`` and, when one
input is at fault, the ``field`` (input path). Entry points map these to their transport in exactly one place;
nobody branches on message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum

from core.values import immutable


class ErrorCode(StrEnum):
    # generic input problems
    INVALID_VALUE = "INVALID_VALUE"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    STATUS_FORBIDS = "STATUS_FORBIDS"
    INACTIVE_REFERENCE = "INACTIVE_REFERENCE"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    MAX_LIMIT_EXCEEDED = "MAX_LIMIT_EXCEEDED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"  # the store cannot be reached or is throttling: retry later
    # values
    NEGATIVE_QUANTITY = "NEGATIVE_QUANTITY"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    INVALID_RANGE = "INVALID_RANGE"
    UNIT_NOT_IN_CLASS = "UNIT_NOT_IN_CLASS"
    UNKNOWN_UNIT = "UNKNOWN_UNIT"
    UNKNOWN_RESOURCE = "UNKNOWN_RESOURCE"
    UNSUPPORTED_MODEL_TYPE = "UNSUPPORTED_MODEL_TYPE"
    # usage
    FUTURE_START = "FUTURE_START"
    PRERATED_INCOMPLETE = "PRERATED_INCOMPLETE"
    PERIOD_CLOSED = "PERIOD_CLOSED"
    PERIOD_NOT_ENDED = "PERIOD_NOT_ENDED"
    DUPLICATE = "DUPLICATE"
    VALIDATION_FAILED = "VALIDATION_FAILED"


@immutable
class ErrorDetail:
    """One problem with one input: a code, a sentence a person can act on, and the input path at fault."""

    code: str
    message: str
    field: str | None = None


@dataclass
class DomainError(Exception):
    """An expected failure. ``details`` lists every problem found when more than one input is at fault."""

    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetail] = dc_field(default_factory=list)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @classmethod
    def of(cls, details: list[ErrorDetail]) -> DomainError:
        """One error standing for several details (the first detail names the error)."""
        first = details[0]
        return cls(first.code, first.message, first.field, list(details))

    def all_details(self) -> list[ErrorDetail]:
        return self.details or [ErrorDetail(self.code, self.message, self.field)]


class NotFound(DomainError):
    def __init__(self, what: str, key: str, field: str | None = None):
        super().__init__(ErrorCode.NOT_FOUND, f"{what} '{key}' does not exist", field)


class Conflict(DomainError):
    """An optimistic-concurrency or uniqueness conflict detected by storage."""

    def __init__(self, message: str, code: str = ErrorCode.CONFLICT, field: str | None = None):
        super().__init__(code, message, field)


class Collector:
    """Gathers input problems so one call can report every faulty field at once."""

    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []

    def add(self, code: str, message: str, field: str | None = None) -> None:
        self.details.append(ErrorDetail(code, message, field))

    def raise_if_any(self) -> None:
        if self.details:
            raise DomainError.of(self.details)

    def __bool__(self) -> bool:
        return bool(self.details)
