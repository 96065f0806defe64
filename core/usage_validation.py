"""Validation of usage input (DOMAIN §2, §4): a record as a partner sent it in, a normalised ``UsageRecord`` or
typed errors out. The same code serves ``recordUsage``, ``amendUsage`` and bulk files.

Pure: the catalog it checks against (``CatalogView``), the clock (``now``) and the period gate are passed in.

Two kinds of checks, each a list that grows by appending:

- ``RECORD_CHECKS`` look at one record alone. Each is a function ``check(draft, context)`` that reads the raw
  input, adds errors to ``draft.errors`` and fills the parsed values in ``draft`` for the checks after it; every
  check runs, so a record reports all of its problems at once.
- batch checks (``BatchCheck``) look at the records that passed every record check, all at once, so that a
  check needing storage costs one read per batch. The one batch check of ingestion is ``period_check``, the
  PERIOD_CLOSED rule, behind the ``PeriodGate`` port.

Error codes (``core.errors.ErrorCode``) and the input field each names: REQUIRED, INVALID_VALUE (not a decimal,
not a date-time with an offset, a text too long or with control characters, a reserved idempotency key,
malformed dimensions), NEGATIVE_QUANTITY, TOO_MANY_DECIMALS (more than ``QUANTITY_SCALE`` = 6 places),
UNKNOWN_RESOURCE, INACTIVE_REFERENCE (a resource or unit that is not ACTIVE), UNKNOWN_UNIT, UNIT_NOT_IN_CLASS,
INVALID_RANGE (end before start), FUTURE_START (start more than 5 minutes after ``now``), PRERATED_INCOMPLETE
(only one of preratedAmount and preratedQuantity), PERIOD_CLOSED (from the gate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from core.bounds import (
    BOUNDS,
    ENVELOPE,
    MAX_KEY,
    DecimalKind,
    Unparsed,
    bounded_datetime,
    check_decimal,
    out_of_bounds,
    parse_datetime,
    parse_decimal,
    quote,
    text_problem,
)
from core.catalog import RecordStatus, UnitOfMeasure, UsageResource
from core.errors import Collector, DomainError, ErrorCode, ErrorDetail
from core.money import fmt
from core.usage import UsageRecord, usage_record_id
from core.values import immutable

#: A start later than ``now`` + this is refused (clocks drift; usage is what already happened).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Quantities and amounts stay below this (``core.bounds``), so that sums keep every decimal within 28 digits.
MAX_MAGNITUDE = BOUNDS[DecimalKind.QUANTITY].maximum
MAX_TEXT = MAX_KEY
MAX_DIMENSIONS = 50
MAX_DIMENSION_KEY = 128
MAX_DIMENSION_TEXT = 1024
#: Idempotency keys of corrections (``{original id}/void``, ``{original id}/amend``): partners cannot send them.
#: compiled on first use (by re's cache), not at import
RESERVED_KEY = r"^[0-9a-f]{32}/(void|amend)$"
_RESERVED = re.compile(RESERVED_KEY)


@immutable
class UsageInput:
    """One record as sent: strings (CSV), numbers and Decimals (JSON), datetimes (GraphQL), None; unchecked."""

    idempotency_key: Any = None
    account_external_id: Any = None
    resource_code: Any = None
    start_time: Any = None
    end_time: Any = None
    quantity: Any = None
    unit_code: Any = None
    subscription_external_id: Any = None
    prerated_amount: Any = None
    prerated_quantity: Any = None
    matching_attribute: Any = None
    dimensions: Any = None


#: The input name (GraphQL, CSV header, JSON Lines key) of every field; errors name fields by these.
INPUT_NAMES: dict[str, str] = {
    "idempotency_key": "idempotencyKey", "account_external_id": "accountExternalId",
    "resource_code": "resourceCode", "start_time": "startTime", "end_time": "endTime", "quantity": "quantity",
    "unit_code": "unitCode", "subscription_external_id": "subscriptionExternalId",
    "prerated_amount": "preratedAmount", "prerated_quantity": "preratedQuantity",
    "matching_attribute": "matchingAttribute", "dimensions": "dimensions",
}


@immutable
class CatalogView:
    """What validation needs of the tenant's catalog: resources and units by code (absent = unknown)."""

    resources: Mapping[str, UsageResource]
    units: Mapping[str, UnitOfMeasure]


@immutable
class CheckContext:
    catalog: CatalogView
    now: datetime


@dataclass
class Draft:
    """A record under validation: the raw input, the errors found so far, and the values parsed so far."""

    raw: UsageInput
    errors: Collector = field(default_factory=Collector)
    idempotency_key: str | None = None
    account_external_id: str | None = None
    subscription_external_id: str | None = None
    matching_attribute: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    quantity: Decimal | None = None
    prerated_amount: Decimal | None = None
    prerated_quantity: Decimal | None = None
    resource: UsageResource | None = None
    unit_code: str | None = None
    dimensions: dict[str, Any] | None = None

    def add(self, code: str, message: str, field_name: str) -> None:
        self.errors.add(code, message, INPUT_NAMES.get(field_name, field_name))


RecordCheck = Callable[[Draft, CheckContext], None]


# ---------------------------------------------------------------------------------------------- parsing
def _text(draft: Draft, name: str, required: bool = False, max_length: int = MAX_TEXT) -> str | None:
    value = getattr(draft.raw, name)
    label = INPUT_NAMES[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            draft.add(ErrorCode.REQUIRED, f"{label} is required", name)
        return None
    if not isinstance(value, str):
        draft.add(ErrorCode.INVALID_VALUE, f"{label} must be a string", name)
        return None
    text = value.strip()
    if len(text) <= max_length and text.isascii() and text.isprintable():
        return text  # printable ASCII: no control character, no lone surrogate (what nearly every input is)
    problem = text_problem(text, max_length)
    if problem is not None:
        draft.add(ErrorCode.INVALID_VALUE, f"{label} {problem}", name)
        return None
    return text


def _datetime(draft: Draft, name: str) -> datetime | None:
    value = getattr(draft.raw, name)
    label = INPUT_NAMES[name]
    if isinstance(value, Unparsed):
        draft.add(ErrorCode.INVALID_VALUE, f"{label}: {value.reason}", name)
        return None
    try:
        if isinstance(value, str) and value.strip():
            return parse_datetime(value, label)
        if not isinstance(value, datetime):
            draft.add(ErrorCode.INVALID_VALUE, f"{label} must be an ISO 8601 date-time", name)
            return None
        return bounded_datetime(value, label)
    except DomainError as exc:
        draft.add(exc.code, f"{label} {exc.message}", name)
        return None


def _decimal(draft: Draft, name: str, kind: DecimalKind = DecimalKind.QUANTITY) -> Decimal | None:
    """A decimal inside its kind's bounds (``core.bounds``: a quantity ≥ 0 with ≤ 6 places, below 10^15), or None
    (absent, or wrong: then an error was added)."""
    value = getattr(draft.raw, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    label = INPUT_NAMES[name]
    if isinstance(value, Unparsed):
        draft.add(ErrorCode.INVALID_VALUE, f"{label}: {value.reason}", name)
        return None
    try:
        number = parse_decimal(value, label)
    except DomainError as exc:
        draft.add(exc.code, f"{label}: {exc.message}", name)
        return None
    found = Collector()
    if not check_decimal(found, number, kind, label):
        for detail in found.details:
            draft.add(detail.code, detail.message, name)
        return None
    return number + Decimal(0)  # -0 becomes 0


# ---------------------------------------------------------------------------------------------- record checks
def check_identity(draft: Draft, ctx: CheckContext) -> None:
    """idempotencyKey and accountExternalId are required texts; subscription and matching attribute optional."""
    key = _text(draft, "idempotency_key", required=True)
    if key is not None and _RESERVED.match(key):
        draft.add(ErrorCode.INVALID_VALUE, "idempotency keys of the form '<32 hex digits>/void' or '/amend' are "
                  "reserved for corrections", "idempotency_key")
        key = None
    draft.idempotency_key = key
    draft.account_external_id = _text(draft, "account_external_id", required=True)
    draft.subscription_external_id = _text(draft, "subscription_external_id")
    draft.matching_attribute = _text(draft, "matching_attribute")


def check_times(draft: Draft, ctx: CheckContext) -> None:
    """startTime required; endTime defaults to it and may not precede it; no start beyond now + 5 minutes."""
    if draft.raw.start_time is None or draft.raw.start_time == "":
        draft.add(ErrorCode.REQUIRED, "startTime is required", "start_time")
        start = None
    else:
        start = _datetime(draft, "start_time")
    end = start if draft.raw.end_time is None or draft.raw.end_time == "" else _datetime(draft, "end_time")
    if start is not None and start > ctx.now + FUTURE_TOLERANCE:
        draft.add(ErrorCode.FUTURE_START, f"startTime {start.isoformat()} is more than "
                  f"{int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes in the future; usage is recorded once "
                  "it has happened", "start_time")
    if start is not None and end is not None and end < start:
        draft.add(ErrorCode.INVALID_RANGE, f"endTime {end.isoformat()} is before startTime {start.isoformat()}",
                  "end_time")
    draft.start_time, draft.end_time = start, end


def check_quantities(draft: Draft, ctx: CheckContext) -> None:
    """A quantity, or a prerated amount with its prerated quantity (then quantity, if given, must equal it)."""
    raw = draft.raw
    quantity = _decimal(draft, "quantity")
    amount = _decimal(draft, "prerated_amount", DecimalKind.AMOUNT)
    prerated_quantity = _decimal(draft, "prerated_quantity")
    has = {name: getattr(raw, name) is not None and getattr(raw, name) != ""
           for name in ("quantity", "prerated_amount", "prerated_quantity")}
    if has["prerated_amount"] != has["prerated_quantity"]:
        missing = "prerated_quantity" if has["prerated_amount"] else "prerated_amount"
        draft.add(ErrorCode.PRERATED_INCOMPLETE, "prerated usage needs both preratedAmount and preratedQuantity; "
                  f"{INPUT_NAMES[missing]} is missing", missing)
    elif has["prerated_amount"]:
        if has["quantity"] and quantity is not None and prerated_quantity is not None \
                and quantity != prerated_quantity:
            draft.add(ErrorCode.INVALID_VALUE, "a prerated record's quantity is its preratedQuantity; "
                      f"quantity {fmt(quantity)} differs from preratedQuantity {fmt(prerated_quantity)}", "quantity")
        draft.prerated_amount, draft.prerated_quantity = amount, prerated_quantity
    elif not has["quantity"]:
        draft.add(ErrorCode.REQUIRED, "quantity is required (or preratedAmount with preratedQuantity)", "quantity")
    else:
        draft.quantity = quantity


def check_resource_and_unit(draft: Draft, ctx: CheckContext) -> None:
    """The resource exists and is ACTIVE; the unit (default: the resource's) exists, is ACTIVE, in its class."""
    code = _text(draft, "resource_code", required=True)
    errors_before = len(draft.errors.details)
    unit_code = _text(draft, "unit_code")
    if code is None or len(draft.errors.details) > errors_before:
        return
    resource = ctx.catalog.resources.get(code)
    if resource is None:
        draft.add(ErrorCode.UNKNOWN_RESOURCE, f"usage resource '{code}' does not exist", "resource_code")
        return
    if resource.status != RecordStatus.ACTIVE:
        draft.add(ErrorCode.INACTIVE_REFERENCE, f"usage resource '{code}' is {resource.status}; only ACTIVE "
                  "resources take usage", "resource_code")
        return
    draft.resource = resource
    unit_code = unit_code or resource.default_unit_code
    unit = ctx.catalog.units.get(unit_code)
    if unit is None:
        draft.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", "unit_code")
    elif unit.class_code != resource.unit_class_code:
        draft.add(ErrorCode.UNIT_NOT_IN_CLASS, f"unit '{unit_code}' belongs to class '{unit.class_code}', but "
                  f"resource '{code}' is measured in class '{resource.unit_class_code}'", "unit_code")
    elif unit.status != RecordStatus.ACTIVE:
        draft.add(ErrorCode.INACTIVE_REFERENCE, f"unit '{unit_code}' is {unit.status}; only ACTIVE units take "
                  "usage", "unit_code")
    else:
        draft.unit_code = unit_code
        _check_converted(draft, ctx, unit, resource)


def _check_converted(draft: Draft, ctx: CheckContext, unit: UnitOfMeasure, resource: UsageResource) -> None:
    """The quantity in the resource's default unit (what rating works in) stays inside the QUANTITY bounds too:
    10^14 TB is 10^20 MB."""
    default = ctx.catalog.units.get(resource.default_unit_code)
    if default is None or unit.unit_code == default.unit_code:
        return
    limit = BOUNDS[DecimalKind.QUANTITY].maximum
    for name in ("quantity", "prerated_quantity"):
        quantity = getattr(draft, name)
        if quantity is None:
            continue
        try:
            converted = quantity * unit.conversion_factor / default.conversion_factor
            too_large = converted >= limit
        except ArithmeticError:  # a factor stored before factors were bounded
            too_large = True
        if too_large:
            draft.add(ErrorCode.INVALID_VALUE, f"{INPUT_NAMES[name]} {fmt(quantity)} {unit.unit_code} is "
                      f"{fmt(limit)} {default.unit_code} or more in the resource's default unit; send it in "
                      "several records", name)


def check_dimensions(draft: Draft, ctx: CheckContext) -> None:
    """An optional flat object: ≤ 50 keys of ≤ 128 characters; values text, boolean, integer or decimal (kept as
    its exact text, e.g. ``"0.5"``), or null."""
    value = draft.raw.dimensions
    if value is None:
        return
    if not isinstance(value, Mapping):
        draft.add(ErrorCode.INVALID_VALUE, "dimensions must be a JSON object", "dimensions")
        return
    if len(value) > MAX_DIMENSIONS:
        draft.add(ErrorCode.INVALID_VALUE, f"dimensions may have at most {MAX_DIMENSIONS} keys", "dimensions")
        return
    clean: dict[str, Any] = {}
    for key, item in value.items():
        path = f"dimensions.{key}"
        if not isinstance(key, str) or not key or text_problem(key, MAX_DIMENSION_KEY, control=True):
            draft.errors.add(ErrorCode.INVALID_VALUE,
                             f"dimension names are 1 to {MAX_DIMENSION_KEY} characters of text", "dimensions")
            return
        if isinstance(item, bool) or item is None:
            clean[key] = item
        elif isinstance(item, (int, float, Decimal)):
            number = Decimal(repr(item)) if isinstance(item, float) else Decimal(item)
            if not number.is_finite():
                draft.errors.add(ErrorCode.INVALID_VALUE, f"dimension {key!r} is not a finite number", path)
                return
            problem = out_of_bounds(number, ENVELOPE)
            if problem is not None:
                draft.errors.add(ErrorCode.INVALID_VALUE, f"dimension {key!r} {problem}", path)
                return
            # integers stay numbers; other decimals are kept exactly, as text (never a float)
            clean[key] = int(number) if number == number.to_integral_value() else fmt(number)
        elif isinstance(item, str):
            problem = text_problem(item, MAX_DIMENSION_TEXT, control=True)
            if problem is not None:
                draft.errors.add(ErrorCode.INVALID_VALUE, f"dimension {quote(key)} {problem}", path)
                return
            clean[key] = item
        else:
            draft.errors.add(ErrorCode.INVALID_VALUE, f"dimension {key!r} must be a text, number or boolean, not "
                             "a nested value", path)
            return
    draft.dimensions = clean


#: Every record check, in order. Append a check to add a rule for every entry point at once.
RECORD_CHECKS: list[RecordCheck] = [
    check_identity,
    check_times,
    check_quantities,
    check_resource_and_unit,
    check_dimensions,
]


# ---------------------------------------------------------------------------------------------- batch checks
class BatchCheck(Protocol):
    def __call__(self, tenant: str, records: Sequence[UsageRecord]) -> Mapping[int, list[ErrorDetail]]:
        """Errors by index into ``records`` (the records that passed every record check)."""
        ...


class PeriodGate(Protocol):
    """Port: which records fall into a billing period that is already closed (DOMAIN §4, late usage).

    ``closed(tenant, records)`` returns the indexes (into ``records``) of the records whose period no longer
    accepts usage: their summary is COMPLETE, i.e. the period ended and its rating delay passed. One call per
    batch of up to 1,000 records, so an implementation reads storage once per batch (BatchGetItem), not once
    per record. Records of accounts or resources without a summary are not closed.

    This is an extension point, not a stub: ingestion runs it on every batch (``period_check``); the
    implementation that reads summaries belongs to the summaries feature and is passed in where ingestion is
    composed (``infra.usage_repo.usage_ingestion``). Corrections (voidUsage, amendUsage) never go through it.
    """

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]: ...


class NothingClosed:
    """The default gate: no period is closed, so nothing is refused with PERIOD_CLOSED.

    Right for a deployment without summaries, and what ingestion uses until a summaries-backed gate is passed.
    """

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        return set()


def period_check(gate: PeriodGate) -> BatchCheck:
    """PERIOD_CLOSED for the records the gate reports closed."""

    def check(tenant: str, records: Sequence[UsageRecord]) -> Mapping[int, list[ErrorDetail]]:
        found: dict[int, list[ErrorDetail]] = {}
        for index in sorted(gate.closed(tenant, records)):
            record = records[index]
            found[index] = [ErrorDetail(
                ErrorCode.PERIOD_CLOSED,
                f"the billing period of this usage (endTime {record.end_time.isoformat()}) is closed: late usage is "
                "accepted until the period's end plus its rating delay; correct an existing record with voidUsage "
                "or amendUsage instead", "endTime")]
        return found

    return check


# ---------------------------------------------------------------------------------------------- validation
@immutable
class Validated:
    """The outcome for one input: ``record`` (status NEW, not yet stored) or ``errors``."""

    record: UsageRecord | None
    errors: tuple[ErrorDetail, ...] = ()


def check_record(raw: UsageInput, context: CheckContext,
                 checks: Sequence[RecordCheck] = RECORD_CHECKS) -> Draft:
    """Run every record check on one input; the draft holds the parsed values and every error found."""
    draft = Draft(raw)
    for check in checks:
        check(draft, context)
    return draft


def to_record(draft: Draft, tenant: str, received_at: datetime, source: str | None = None) -> UsageRecord:
    """The NEW record of a draft without errors."""
    assert not draft.errors and draft.idempotency_key and draft.account_external_id and draft.resource
    assert draft.start_time is not None and draft.end_time is not None
    return UsageRecord(
        id=usage_record_id(tenant, draft.idempotency_key), tenant=tenant, idempotency_key=draft.idempotency_key,
        account_external_id=draft.account_external_id, resource_code=draft.resource.code,
        start_time=draft.start_time, end_time=draft.end_time, received_at=received_at, quantity=draft.quantity,
        unit_code=draft.unit_code, subscription_external_id=draft.subscription_external_id,
        prerated_amount=draft.prerated_amount, prerated_quantity=draft.prerated_quantity,
        matching_attribute=draft.matching_attribute, dimensions=draft.dimensions, source=source)


def validate(tenant: str, inputs: Sequence[UsageInput], catalog: CatalogView, now: datetime, *,
             record_checks: Sequence[RecordCheck] = RECORD_CHECKS, batch_checks: Sequence[BatchCheck] = (),
             sources: Sequence[str | None] | None = None) -> list[Validated]:
    """Validate a batch: one ``Validated`` per input, in order. One bad record never affects another."""
    context = CheckContext(catalog, now)
    results: list[Validated] = []
    for index, raw in enumerate(inputs):
        draft = check_record(raw, context, record_checks)
        if draft.errors:
            results.append(Validated(None, tuple(draft.errors.details)))
        else:
            results.append(Validated(to_record(draft, tenant, now, sources[index] if sources else None)))
    candidates = [(i, r.record) for i, r in enumerate(results) if r.record is not None]
    for batch_check in batch_checks:
        if not candidates:
            break
        found = batch_check(tenant, [record for _, record in candidates])
        for position, details in found.items():
            index = candidates[position][0]
            results[index] = Validated(None, tuple(details))
        candidates = [c for position, c in enumerate(candidates) if position not in found]
    return results
