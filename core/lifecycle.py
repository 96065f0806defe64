"""Status rules of catalog records (DOMAIN §1): what may be edited, deleted or re-statused in which status."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

from core.catalog import ProductUsageGrant, ProductUsageResource, RateCardEntry, RecordStatus
from core.errors import DomainError, ErrorCode

R = TypeVar("R")

#: Fields that never change once a record exists.
IMMUTABLE = {"code", "unit_code", "id", "product_code", "pur_id", "class_code", "resource_code", "kind",
             "rate_card_id"}
#: Fields that may change on ACTIVE/INACTIVE records of any kind that has no stricter rule.
COSMETIC = {"name"}

TRANSITIONS = {
    (RecordStatus.DRAFT, RecordStatus.ACTIVE),
    (RecordStatus.ACTIVE, RecordStatus.INACTIVE),
    (RecordStatus.INACTIVE, RecordStatus.ACTIVE),
}


def type_name(record: object) -> str:
    return type(record).__name__


def ensure_deletable(record: Any) -> None:
    """Only DRAFT and INACTIVE records can be deleted."""
    if record.status == RecordStatus.ACTIVE:
        raise DomainError(ErrorCode.STATUS_FORBIDS,
                          f"{type_name(record)} is ACTIVE and cannot be deleted; deactivate it first")


def ensure_transition(record: Any, new_status: RecordStatus) -> None:
    if record.status == new_status:
        return
    if (record.status, new_status) not in TRANSITIONS:
        raise DomainError(ErrorCode.STATUS_FORBIDS,
                          f"{type_name(record)} cannot go from {record.status} to {new_status}", "status")


def apply_changes(record: R, changes: dict[str, Any]) -> R:
    """Return the record with ``changes`` applied, or raise STATUS_FORBIDS / INVALID_VALUE for what may not change.

    DRAFT: everything but identity. ACTIVE/INACTIVE: a rate card entry not at all; a PUR or grant only an end-date
    extension; anything else only its name. ``status`` goes through ``ensure_transition``.
    """
    current: Any = record
    known = {f.name for f in fields(current)}
    changes = {k: v for k, v in changes.items() if getattr(current, k, object()) != v}
    for name in changes:
        if name not in known:
            raise DomainError(ErrorCode.INVALID_VALUE, f"{type_name(record)} has no field {name}", name)
        if name in IMMUTABLE:
            raise DomainError(ErrorCode.STATUS_FORBIDS, f"{name} is immutable", name)
    new_status = changes.pop("status", None)
    if new_status is not None:
        ensure_transition(current, new_status)
    if changes and current.status != RecordStatus.DRAFT:
        _ensure_editable_when_live(current, changes)
    return replace(current, **changes, **({"status": new_status} if new_status is not None else {}))


def _ensure_editable_when_live(record: Any, changes: dict[str, Any]) -> None:
    status = record.status
    if isinstance(record, RateCardEntry):
        raise DomainError(ErrorCode.STATUS_FORBIDS, f"an {status} rate card entry cannot be edited",
                          next(iter(changes)))
    if isinstance(record, (ProductUsageResource, ProductUsageGrant)):
        for name, value in changes.items():
            if name != "effective_to":
                raise DomainError(ErrorCode.STATUS_FORBIDS,
                                  f"an {status} {type_name(record)} can only have its end date extended", name)
            if record.effective_to is None or (value is not None and value <= record.effective_to):
                raise DomainError(ErrorCode.STATUS_FORBIDS,
                                  f"an {status} {type_name(record)} can only have its end date extended, "
                                  f"not shortened or removed", name)
        return
    for name in changes:
        if name not in COSMETIC:
            raise DomainError(ErrorCode.STATUS_FORBIDS,
                              f"an {status} {type_name(record)} can only be renamed; {name} cannot change", name)
