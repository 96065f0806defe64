"""Usage input validation (core.usage_validation): every rule with its code and field, normalisation, the
extension points (record checks, the PERIOD_CLOSED gate), and independence of the records of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.catalog import RecordStatus, ResourceCategory, UnitOfMeasure, UsageResource
from core.errors import ErrorCode
from core.usage import UsageRecord, UsageStatus, usage_record_id
from core.usage_validation import (
    RECORD_CHECKS,
    CatalogView,
    CheckContext,
    Draft,
    NothingClosed,
    UsageInput,
    period_check,
    validate,
)

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
ACTIVE = RecordStatus.ACTIVE
CATALOG = CatalogView(
    resources={
        "DATA": UsageResource("DATA", "Data", ResourceCategory.USAGE, "DATA", "GB", status=ACTIVE),
        "TEXTS": UsageResource("TEXTS", "Texts", ResourceCategory.USAGE, "COUNT", "EA", status=ACTIVE),
        "DRAFTY": UsageResource("DRAFTY", "Draft", ResourceCategory.USAGE, "COUNT", "EA"),
    },
    units={
        "MB": UnitOfMeasure("MB", "Megabyte", "DATA", Decimal(1), status=ACTIVE),
        "GB": UnitOfMeasure("GB", "Gigabyte", "DATA", Decimal(1024), status=ACTIVE),
        "KB": UnitOfMeasure("KB", "Kilobyte", "DATA", Decimal("0.0009765625")),
        "EA": UnitOfMeasure("EA", "Each", "COUNT", Decimal(1), status=ACTIVE),
    })


def usage(**overrides: Any) -> UsageInput:
    fields: dict[str, Any] = {"idempotency_key": "k1", "account_external_id": "acme", "resource_code": "DATA",
                              "quantity": "1.5", "start_time": "2026-07-15T10:00:00Z"}
    fields.update(overrides)
    return UsageInput(**fields)


def errors(raw: UsageInput, **kw: Any) -> list[tuple[str, str | None]]:
    [result] = validate("acme-tenant", [raw], CATALOG, NOW, **kw)
    return [(e.code, e.field) for e in result.errors]


def test_a_valid_record_is_normalised() -> None:
    # GIVEN a record with padding, an offset, no end time and no unit
    raw = usage(idempotency_key=" k1 ", start_time="2026-07-15T12:00:00+02:00", quantity="1.50")
    # WHEN it is validated
    [result] = validate("acme-tenant", [raw], CATALOG, NOW)
    # THEN it becomes a NEW record: trimmed key, id from tenant and key, UTC times, end = start, default unit
    record = result.record
    assert record is not None and result.errors == ()
    assert record.id == usage_record_id("acme-tenant", "k1") and record.idempotency_key == "k1"
    assert record.start_time == record.end_time == datetime(2026, 7, 15, 10, 0, tzinfo=UTC)
    assert record.unit_code == "GB" and record.quantity == Decimal("1.50")
    assert record.status == UsageStatus.NEW and record.received_at == NOW and record.attempt == 0


def test_quantity_rules() -> None:
    assert errors(usage(quantity="abc")) == [(ErrorCode.INVALID_VALUE, "quantity")]
    assert errors(usage(quantity="NaN")) == [(ErrorCode.INVALID_VALUE, "quantity")]
    assert errors(usage(quantity=1.5)) == [(ErrorCode.INVALID_VALUE, "quantity")]  # a float is never trusted
    assert errors(usage(quantity="-1")) == [(ErrorCode.NEGATIVE_QUANTITY, "quantity")]
    assert errors(usage(quantity="0.1234567")) == [(ErrorCode.TOO_MANY_DECIMALS, "quantity")]
    assert errors(usage(quantity="1e15")) == [(ErrorCode.INVALID_VALUE, "quantity")]
    # six places, trailing zeros and zero itself are fine
    assert errors(usage(quantity="0.123456")) == []
    assert errors(usage(quantity="2.50000000")) == []
    assert errors(usage(quantity=Decimal("-0"))) == []
    assert errors(usage(quantity=None)) == [(ErrorCode.REQUIRED, "quantity")]


def test_time_rules() -> None:
    assert errors(usage(start_time=None)) == [(ErrorCode.REQUIRED, "startTime")]
    assert errors(usage(start_time="yesterday")) == [(ErrorCode.INVALID_VALUE, "startTime")]
    assert errors(usage(start_time="2026-07-15T10:00:00")) == [(ErrorCode.INVALID_VALUE, "startTime")]
    assert errors(usage(end_time="2026-07-15T09:59:59Z")) == [(ErrorCode.INVALID_RANGE, "endTime")]
    # up to five minutes ahead is clock drift; more is the future
    assert errors(usage(start_time=NOW + timedelta(minutes=5))) == []
    assert errors(usage(start_time=NOW + timedelta(minutes=5, seconds=1))) == [(ErrorCode.FUTURE_START, "startTime")]


def test_catalog_rules() -> None:
    assert errors(usage(resource_code="NOPE")) == [(ErrorCode.UNKNOWN_RESOURCE, "resourceCode")]
    assert errors(usage(resource_code="DRAFTY", quantity="1")) == [(ErrorCode.INACTIVE_REFERENCE, "resourceCode")]
    assert errors(usage(unit_code="PB")) == [(ErrorCode.UNKNOWN_UNIT, "unitCode")]
    assert errors(usage(unit_code="EA")) == [(ErrorCode.UNIT_NOT_IN_CLASS, "unitCode")]
    assert errors(usage(unit_code="KB")) == [(ErrorCode.INACTIVE_REFERENCE, "unitCode")]
    assert errors(usage(unit_code="MB")) == []


def test_prerated_rules() -> None:
    # GIVEN prerated fields WHEN one of the pair is missing THEN PRERATED_INCOMPLETE names the missing one
    assert errors(usage(quantity=None, prerated_amount="7.00")) == [(ErrorCode.PRERATED_INCOMPLETE,
                                                                     "preratedQuantity")]
    assert errors(usage(quantity=None, prerated_quantity="10")) == [(ErrorCode.PRERATED_INCOMPLETE,
                                                                     "preratedAmount")]
    assert errors(usage(quantity=None, prerated_amount="-1", prerated_quantity="10")) == [
        (ErrorCode.INVALID_VALUE, "preratedAmount")]
    assert errors(usage(quantity="9", prerated_amount="7", prerated_quantity="10")) == [
        (ErrorCode.INVALID_VALUE, "quantity")]
    # AND a complete pair is a prerated record whose quantity is its preratedQuantity
    [ok] = validate("t", [usage(quantity="10", prerated_amount="7.00", prerated_quantity="10")], CATALOG, NOW)
    assert ok.record is not None and ok.record.quantity is None
    assert (ok.record.prerated_amount, ok.record.prerated_quantity) == (Decimal("7.00"), Decimal(10))


def test_identity_rules() -> None:
    assert errors(usage(idempotency_key="")) == [(ErrorCode.REQUIRED, "idempotencyKey")]
    assert errors(usage(idempotency_key="x" * 257)) == [(ErrorCode.INVALID_VALUE, "idempotencyKey")]
    assert errors(usage(idempotency_key="a\nb")) == [(ErrorCode.INVALID_VALUE, "idempotencyKey")]
    assert errors(usage(idempotency_key="0123456789abcdef0123456789abcdef/void")) == [
        (ErrorCode.INVALID_VALUE, "idempotencyKey")]
    assert errors(usage(account_external_id=None)) == [(ErrorCode.REQUIRED, "accountExternalId")]
    assert errors(usage(account_external_id=42)) == [(ErrorCode.INVALID_VALUE, "accountExternalId")]


def test_dimensions_are_flat_and_exact() -> None:
    # GIVEN dimensions with text, integers, booleans and a float as JSON parsers produce it
    [result] = validate("t", [usage(dimensions={"region": "eu", "cpu": 2, "burst": True, "ratio": 0.1})], CATALOG, NOW)
    # THEN they are kept, the decimal as its exact text
    assert result.record is not None
    assert result.record.dimensions == {"region": "eu", "cpu": 2, "burst": True, "ratio": "0.1"}
    assert errors(usage(dimensions={"nested": {"a": 1}})) == [(ErrorCode.INVALID_VALUE, "dimensions.nested")]
    assert errors(usage(dimensions=["a"])) == [(ErrorCode.INVALID_VALUE, "dimensions")]
    assert errors(usage(dimensions={f"k{i}": i for i in range(51)})) == [(ErrorCode.INVALID_VALUE, "dimensions")]


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    found = errors(usage(idempotency_key=None, quantity="-2", resource_code="NOPE", end_time="2020-01-01T00:00:00Z"))
    assert sorted(found) == sorted([(ErrorCode.REQUIRED, "idempotencyKey"), (ErrorCode.NEGATIVE_QUANTITY, "quantity"),
                                    (ErrorCode.UNKNOWN_RESOURCE, "resourceCode"),
                                    (ErrorCode.INVALID_RANGE, "endTime")])


class ClosedBefore:
    """A gate closing every period that ends before a date (what the summaries gate decides from summaries)."""

    def __init__(self, cutoff: datetime):
        self.cutoff = cutoff
        self.calls: list[int] = []

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        self.calls.append(len(records))
        return {i for i, r in enumerate(records) if r.end_time < self.cutoff}


def test_the_period_gate_refuses_late_usage_with_period_closed() -> None:
    # GIVEN a gate that closes June, and a batch with June usage, July usage and an invalid record
    gate = ClosedBefore(datetime(2026, 7, 1, tzinfo=UTC))
    batch = [usage(idempotency_key="june", start_time="2026-06-20T00:00:00Z"), usage(idempotency_key="july"),
             usage(idempotency_key="bad", quantity="-1", start_time="2026-06-20T00:00:00Z")]
    # WHEN the batch is validated with the period check
    results = validate("t", batch, CATALOG, NOW, batch_checks=[period_check(gate)])
    # THEN June is PERIOD_CLOSED, July passes, the invalid record keeps its own error
    assert [(e.code, e.field) for e in results[0].errors] == [(ErrorCode.PERIOD_CLOSED, "endTime")]
    assert results[1].record is not None
    assert [e.code for e in results[2].errors] == [ErrorCode.NEGATIVE_QUANTITY]
    # AND the gate was asked once, about the two records that passed every record check
    assert gate.calls == [2]


def test_the_default_gate_closes_nothing() -> None:
    old = usage(start_time="2001-01-01T00:00:00Z")
    [result] = validate("t", [old], CATALOG, NOW, batch_checks=[period_check(NothingClosed())])
    assert result.record is not None


def test_an_appended_record_check_runs_for_every_record() -> None:
    # GIVEN one more rule appended to the record checks
    def no_test_accounts(draft: Draft, ctx: CheckContext) -> None:
        if draft.account_external_id and draft.account_external_id.startswith("test-"):
            draft.add("TEST_ACCOUNT", "test accounts do not take usage", "account_external_id")

    checks = [*RECORD_CHECKS, no_test_accounts]
    # WHEN records are validated with it THEN it refuses what it should, and only that
    assert errors(usage(account_external_id="test-1"), record_checks=checks) == [("TEST_ACCOUNT",
                                                                                  "accountExternalId")]
    assert errors(usage(), record_checks=checks) == []


junk = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats(allow_nan=True), st.booleans(),
                 st.decimals(allow_nan=True), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({name: junk for name in ("idempotency_key", "account_external_id", "resource_code",
                                                      "start_time", "end_time", "quantity", "unit_code",
                                                      "prerated_amount", "prerated_quantity", "dimensions")}))
def test_junk_never_raises_and_never_affects_a_neighbour(fields: dict[str, Any]) -> None:
    # GIVEN any junk record between two valid ones
    batch = [usage(idempotency_key="a"), UsageInput(**fields), usage(idempotency_key="b")]
    # WHEN validated THEN nothing raises, the junk is answered, and the neighbours are valid records
    results = validate("t", batch, CATALOG, NOW)
    assert len(results) == 3
    assert results[1].record is not None or results[1].errors
    assert results[0].record is not None and results[2].record is not None


def test_texts_refuse_control_characters_lone_surrogates_and_excess_length_ascii_or_not() -> None:
    for bad in ("a\tb", "k\x00", "k\x7f", "k\ud800", "é\x1b", "x" * 257, "é" * 257):
        assert errors(usage(idempotency_key=bad)) == [(ErrorCode.INVALID_VALUE, "idempotencyKey")], repr(bad)
    for good in ("k-1 with spaces", "ключ", "é", "~!@#$%^&*()", "x" * 256):
        assert errors(usage(idempotency_key=good, account_external_id=good)) == [], repr(good)
    assert errors(usage(idempotency_key=f"{'a' * 32}/void")) == [(ErrorCode.INVALID_VALUE, "idempotencyKey")]
