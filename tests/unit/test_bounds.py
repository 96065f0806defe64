"""Input bounds (core.bounds, issue 15 §2/§3/§6): each Decimal kind's range and places, the envelope every
Decimal passes first, date-times, texts — and that usage validation applies them per record, never raising."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.bounds import (
    BOUNDS,
    DecimalKind,
    Unparsed,
    check_decimal,
    check_text,
    parse_datetime,
    parse_decimal,
    printable,
)
from core.errors import Collector, DomainError, ErrorCode
from core.money import scale_of
from core.usage_validation import UsageInput, validate
from tests.unit.test_usage_validation import CATALOG, NOW

HOSTILE_DECIMALS = ["1E+999999999", "1e309", "1" * 45, "-1E+999999999", "1E-999999999", "NaN", "-Infinity",
                    "sNaN", "0." + "0" * 100 + "1", "9" * 65, "1E-19"]


@pytest.mark.parametrize("value", HOSTILE_DECIMALS)
def test_a_decimal_outside_the_envelope_is_invalid_value_naming_the_field(value: str) -> None:
    # GIVEN a hostile decimal WHEN it is parsed THEN INVALID_VALUE naming the field, with a short message
    with pytest.raises(DomainError) as caught:
        parse_decimal(value, "input.rate")
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_VALUE, "input.rate")
    assert len(caught.value.message) < 200


def test_places_are_counted_without_context_arithmetic() -> None:
    # GIVEN values whose normalize() would overflow the default context THEN places are still counted
    assert [scale_of(Decimal(v)) for v in ("1.500", "0.000", "1E+5", "1E-7", "1E+999999999")] == [1, 0, 0, 7, 0]


@pytest.mark.parametrize("kind,inside,outside", [
    (DecimalKind.QUANTITY, ["0", "999999999999999.999999"], ["1E+15", "0.0000001"]),
    (DecimalKind.SUBSCRIPTION_QUANTITY, ["0.000001", "1000000"], ["1e21", "0", "1000000.000001"]),
    (DecimalKind.RATE, ["0", "0.0000000001", "999999999"], ["1E+100", "1E+9", "0.00000000001"]),
    (DecimalKind.ADJUSTMENT, ["-999999999", "100"], ["-1E+9", "1E+9"]),
    (DecimalKind.AMOUNT, ["0", "7.000001"], ["1E+15", "0.0000001"]),
    (DecimalKind.FACTOR, ["0.000000000001", "1048576", "0.016666666666666667"], ["0", "1E+12", "1E-19"]),
])
def test_each_kind_takes_its_range_and_places(kind: DecimalKind, inside: list[str], outside: list[str]) -> None:
    for value in inside:
        errors = Collector()
        assert check_decimal(errors, Decimal(value), kind, "f") and not errors, value
    for value in outside:
        errors = Collector()
        assert not check_decimal(errors, Decimal(value), kind, "f"), value
        assert [d.field for d in errors.details] == ["f"]


def test_codes_say_what_is_wrong() -> None:
    def code(value: str, kind: DecimalKind) -> str:
        errors = Collector()
        check_decimal(errors, Decimal(value), kind, "f")
        return errors.details[0].code

    assert code("-1", DecimalKind.QUANTITY) == ErrorCode.NEGATIVE_QUANTITY
    assert code("1.1234567", DecimalKind.QUANTITY) == ErrorCode.TOO_MANY_DECIMALS
    assert code("1E+100", DecimalKind.RATE) == ErrorCode.INVALID_VALUE
    assert code("-1", DecimalKind.AMOUNT) == ErrorCode.INVALID_VALUE
    assert BOUNDS[DecimalKind.QUANTITY].places == 6  # DOMAIN §2: quantity scale ≤ 6


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z",
                                   "9000-01-01T00:00:00Z", "2026-07-01T00:00:00", "not a date", "x" * 500_000])
def test_a_date_time_out_of_range_or_malformed_is_invalid_value(value: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_datetime(value, "input.effectiveFrom")
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_VALUE, "input.effectiveFrom")
    assert len(caught.value.message) < 200


def test_a_date_time_in_range_is_utc() -> None:
    assert parse_datetime("2026-07-01T02:00:00+02:00") == datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize("value,problem", [("n" * 257, "longer than 256"), ("a\ud800b", "lone surrogate"),
                                           ("a\x00b", "control characters")])
def test_texts_are_bounded_and_real_unicode(value: str, problem: str) -> None:
    errors = Collector()
    assert not check_text(errors, value, "name")
    assert (errors.details[0].code, errors.details[0].field) == (ErrorCode.INVALID_VALUE, "name")
    assert problem in errors.details[0].message
    assert printable("k\ud800") == "k\ufffd"


# ---------------------------------------------------------------------------------------------- per record
def usage(**overrides: Any) -> UsageInput:
    fields: dict[str, Any] = {"idempotency_key": "k1", "account_external_id": "acme", "resource_code": "DATA",
                              "quantity": "1.5", "start_time": "2026-07-15T10:00:00Z"}
    fields.update(overrides)
    return UsageInput(**fields)


@pytest.mark.parametrize("overrides,field", [
    ({"quantity": "1E+999999999"}, "quantity"),  # decimal.Overflow in normalize() before
    ({"quantity": Decimal("1E+999999999")}, "quantity"),
    ({"prerated_amount": "1e309", "prerated_quantity": "1", "quantity": None}, "preratedAmount"),
    ({"quantity": Unparsed("NaN", "'NaN' is not a finite number")}, "quantity"),
    ({"idempotency_key": "\ud800"}, "idempotencyKey"),  # UnicodeEncodeError in usage_record_id before
    ({"account_external_id": "a\udfffb"}, "accountExternalId"),
    ({"start_time": "0001-01-01T00:00:00+01:00"}, "startTime"),  # OverflowError in astimezone before
    ({"start_time": datetime(1, 1, 1, tzinfo=UTC)}, "startTime"),
])
def test_one_hostile_record_is_rejected_and_the_others_pass(overrides: dict[str, Any], field: str) -> None:
    # GIVEN a hostile record between two good ones WHEN the batch is validated (it never raises)
    results = validate("t", [usage(idempotency_key="a"), usage(**overrides), usage(idempotency_key="b")],
                       CATALOG, NOW)
    # THEN that record alone is refused, with INVALID_VALUE on its field
    assert [r.record is not None for r in results] == [True, False, True]
    assert [(e.code, e.field) for e in results[1].errors] == [(ErrorCode.INVALID_VALUE, field)]


def test_a_quantity_too_large_in_the_default_unit_is_refused() -> None:
    # GIVEN DATA rated in GB, and a PB unit of 1024^2 GB
    # WHEN a quantity in PB converts to 10^15 GB or more THEN INVALID_VALUE on quantity (rating works in GB)
    from dataclasses import replace

    from core.catalog import RecordStatus, UnitOfMeasure

    petabyte = UnitOfMeasure("PB", "Petabyte", "DATA", Decimal(1024) ** 3, status=RecordStatus.ACTIVE)
    catalog = replace(CATALOG, units={**CATALOG.units, "PB": petabyte})
    [ok, big] = validate("t", [usage(quantity="1000", unit_code="PB"),
                               usage(idempotency_key="k2", quantity="999999999999", unit_code="PB")], catalog, NOW)
    assert ok.record is not None
    assert [(e.code, e.field) for e in big.errors] == [(ErrorCode.INVALID_VALUE, "quantity")]


@pytest.mark.parametrize("dimensions", [{"x": Decimal("1E+999999999")}, {"x": 10 ** 40}, {"x": float("inf")},
                                        {"x": "\ud800"}, {"\ud800": 1}, {"x": Decimal("1E-999999")}])
def test_hostile_dimensions_reject_their_record(dimensions: dict[Any, Any]) -> None:
    # GIVEN dimensions whose numbers would take forever to turn into an int, or texts storage cannot encode
    results = validate("t", [usage(idempotency_key="a"), usage(dimensions=dimensions)], CATALOG, NOW)
    # THEN that record alone is refused with INVALID_VALUE on its dimensions
    assert results[0].record is not None and results[1].record is None
    assert [e.code for e in results[1].errors] == [ErrorCode.INVALID_VALUE]
    assert all((e.field or "").startswith("dimensions") for e in results[1].errors)


def test_a_correction_reason_is_bounded_text() -> None:
    from core.ingestion import _reason

    assert _reason(" typo ") == "typo"
    for bad in ("r" * 1001, "a\ud800"):
        with pytest.raises(DomainError) as caught:
            _reason(bad)
        assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_VALUE, "reason")
