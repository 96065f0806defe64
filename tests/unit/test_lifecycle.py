"""Status rules of catalog records (DOMAIN §1)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.catalog import (
    Product,
    ProductUsageResource,
    RateCardEntry,
    RecordStatus,
    UsageModelType,
)
from core.errors import DomainError
from core.lifecycle import apply_changes, ensure_deletable

JAN, JUL, DEC = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 7, 12))


def pur(status: RecordStatus, end: datetime | None = JUL) -> ProductUsageResource:
    return ProductUsageResource("P:1", "P", "DATA", JAN, end, status=status)


def entry(status: RecordStatus) -> RateCardEntry:
    return RateCardEntry("C:1", "C", "DATA", "P", Decimal("1.25"), "USD", JAN, status=status)


def code_of(call: object) -> str:
    with pytest.raises(DomainError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_draft_records_change_freely_but_never_their_identity() -> None:
    # GIVEN a DRAFT PUR, WHEN its dates change THEN it changes; WHEN its id changes THEN it is refused
    changed = apply_changes(pur(RecordStatus.DRAFT), {"effective_from": DEC, "effective_to": None})
    assert changed.effective_from == DEC and changed.effective_to is None
    assert code_of(lambda: apply_changes(pur(RecordStatus.DRAFT), {"resource_code": "TEXTS"})) == "STATUS_FORBIDS"


def test_active_pur_only_extends_its_end_date() -> None:
    active = pur(RecordStatus.ACTIVE)
    assert apply_changes(active, {"effective_to": DEC}).effective_to == DEC
    assert code_of(lambda: apply_changes(active, {"effective_to": JAN})) == "STATUS_FORBIDS"
    assert apply_changes(active, {"effective_to": None}).effective_to is None  # open-ended: the longest extension
    assert code_of(lambda: apply_changes(active, {"effective_from": JUL})) == "STATUS_FORBIDS"
    open_ended = pur(RecordStatus.ACTIVE, end=None)
    assert code_of(lambda: apply_changes(open_ended, {"effective_to": DEC})) == "STATUS_FORBIDS"


def test_active_rate_entry_is_immutable_but_may_be_deactivated_and_reactivated() -> None:
    active = entry(RecordStatus.ACTIVE)
    assert code_of(lambda: apply_changes(active, {"rate": Decimal("2")})) == "STATUS_FORBIDS"
    inactive = apply_changes(active, {"status": RecordStatus.INACTIVE})
    assert apply_changes(inactive, {"status": RecordStatus.ACTIVE}).status == RecordStatus.ACTIVE
    assert code_of(lambda: apply_changes(inactive, {"status": RecordStatus.DRAFT})) == "STATUS_FORBIDS"


def test_other_active_records_may_only_be_renamed() -> None:
    product = Product("P", "Plan", UsageModelType.ANCHOR, RecordStatus.ACTIVE)
    assert apply_changes(product, {"name": "Better plan"}).name == "Better plan"
    assert code_of(lambda: apply_changes(product, {"usage_model_type": UsageModelType.PACK})) == "STATUS_FORBIDS"


def test_only_draft_and_inactive_records_are_deletable() -> None:
    ensure_deletable(entry(RecordStatus.DRAFT))
    ensure_deletable(entry(RecordStatus.INACTIVE))
    assert code_of(lambda: ensure_deletable(entry(RecordStatus.ACTIVE))) == "STATUS_FORBIDS"
