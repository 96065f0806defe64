"""What a validator rule reports: a finding names the rule, a code, a sentence, and the exact records to fix."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.catalog import (
    CatalogRecord,
    GrantBindingPolicy,
    Policy,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
)
from core.money import fmt
from core.validation.snapshot import RecordKey, key_of
from core.values import immutable


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@immutable
class RecordRef:
    """A record named by its kind (``object_type``), its storage key, and a name a person recognises."""

    object_type: str
    key: str
    name: str


@immutable
class Finding:
    rule: str
    code: str
    severity: Severity
    message: str
    records: tuple[RecordRef, ...]


@immutable
class ProductValidation:
    product_code: str
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def day(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "open end"


def name_of(record: CatalogRecord) -> str:
    """A short human name for any catalog record (records without a name are described by what they hold)."""
    r: Any = record
    if isinstance(record, (Product, UsageResource, UnitOfMeasureClass, Policy, RateCard)):
        return str(r.name)
    if isinstance(record, UnitOfMeasure):
        return f"{r.name} ({r.unit_code})"
    if isinstance(record, ProductUsageResource):
        return f"{r.product_code} · {r.resource_code} from {day(r.effective_from)}"
    if isinstance(record, ProductUsageGrant):
        term = "one-time" if r.validity_term is None else f"per {r.validity_term} {r.validity_unit}"
        return f"{r.type} {fmt(r.quantity)} {r.unit_code} {term}"
    if isinstance(record, RateCardEntry):
        resource = r.resource_code or "any resource"
        return f"{fmt(r.rate)} {r.rate_unit_code} per unit of {resource} from {day(r.effective_from)}"
    if isinstance(record, ProductResourcePolicy):
        return f"policies of {r.product_code} · {r.pur_id.rsplit(':', 1)[-1]}"
    if isinstance(record, ResourcePolicy):
        return f"policies of {r.resource_code}"
    if isinstance(record, GrantBindingPolicy):
        return f"grant binding of {r.product_code}"
    return type(record).__name__


def ref(record: CatalogRecord) -> RecordRef:
    kind, key = key_of(record)
    return RecordRef(kind.__name__, key, name_of(record))


def missing_ref(key: RecordKey) -> RecordRef:
    kind, code = key
    return RecordRef(kind.__name__, code, f"{kind.__name__} '{code}' (missing)")


def finding(rule: str, code: str, severity: Severity, message: str, *records: CatalogRecord | RecordRef) -> Finding:
    return Finding(rule, code, severity, message,
                   tuple(r if isinstance(r, RecordRef) else ref(r) for r in records))


def error(rule: str, code: str, message: str, *records: CatalogRecord | RecordRef) -> Finding:
    return finding(rule, code, Severity.ERROR, message, *records)


def warning(rule: str, code: str, message: str, *records: CatalogRecord | RecordRef) -> Finding:
    return finding(rule, code, Severity.WARNING, message, *records)
